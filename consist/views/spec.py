"""Registered schemas: what a SQLModel class means for its cross-run view.

Reads a class into a :class:`ViewSpec` (its view's name, the artifact keys it covers
and its typed columns) and builds :class:`ViewTable`, the SQLAlchemy table users put in
``select(...)``. The rules (see ``docs/views.md``):

- keys: ``__consist_key__`` (a key, or a list of keys) when the class sets it, matched
  exactly; otherwise its ``__tablename__`` (SQLModel's default is the lowercased class
  name) or that name plus ``s``, ignoring case;
- the view is named after ``__tablename__``, which may not be one of the catalog's own
  views; no field may be named like a provenance column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consist.artifacts import coltypes
from consist.errors import ConfigError
from consist.views.sources import PROVENANCE, check_columns

RESERVED = {"runs", "artifacts", "run_artifacts", "facets", "consist_schema", "consist_views"}


@dataclass(frozen=True)
class ViewSpec:
    """What a registered schema means for its view: name, keys and typed columns."""

    model: type
    name: str
    keys: tuple[str, ...]
    exact: bool
    columns: tuple[tuple[str, str, Any], ...]  # (attribute, column name, SQLAlchemy type)

    @property
    def declared(self) -> dict[str, str | None]:
        """Column name -> DuckDB type it is cast to (None: the files' own type)."""
        return {name: coltypes.sql_type_of(sa_type) for _, name, sa_type in self.columns}


def model_columns(model: type) -> list[tuple[str, str, Any]]:
    """(attribute, column name, SQLAlchemy type) of each field of a SQLModel class."""
    import sqlalchemy as sa

    table = getattr(model, "__table__", None)
    if isinstance(table, sa.Table):
        mapper = sa.inspect(model)
        return [(prop.key, prop.columns[0].name, prop.columns[0].type) for prop in mapper.column_attrs]
    fields = getattr(model, "model_fields", None)
    if not isinstance(fields, dict) or not fields:
        raise ConfigError(
            f"schemas= takes SQLModel classes with fields; {model!r} is not one "
            "(class Person(SQLModel, table=True): person_id: int = Field(primary_key=True) ...)."
        )
    from sqlmodel.main import get_column_from_field

    out = []
    for attr, info in fields.items():
        column = get_column_from_field(info)
        out.append((attr, column.name or attr, column.type))
    return out


def view_spec(model: type) -> ViewSpec:
    """Read a schema class into a :class:`ViewSpec` (see the module docstring for the rules).

    Raises
    ------
    ConfigError
        Not a SQLModel class, a field named like a provenance column, or a table name
        that is one of the catalog's own views.
    """
    if not isinstance(model, type):
        raise ConfigError(f"schemas= takes classes (SQLModel models); got {model!r}.")
    columns = tuple(model_columns(model))
    check_columns((name for _, name, _ in columns), f"schema {model.__name__}")
    name = getattr(model, "__tablename__", None)
    name = name if isinstance(name, str) and name else model.__name__.lower()
    if name.lower() in RESERVED or name.lower().startswith("_consist"):
        raise ConfigError(
            f"schema {model.__name__} has table name {name!r}, which is one of the catalog's own views "
            f"({', '.join(sorted(RESERVED))}). Set __tablename__ to another name (and __consist_key__ "
            "to the artifact key it should cover)."
        )
    explicit = getattr(model, "__consist_key__", None)
    if explicit is not None:
        keys = (explicit,) if isinstance(explicit, str) else tuple(explicit)
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise ConfigError(f"{model.__name__}.__consist_key__ must be a key or a list of keys; got {explicit!r}.")
        return ViewSpec(model, name, keys, True, columns)
    return ViewSpec(model, name, (name, name + "s"), False, columns)


class ViewTable:
    """A registered schema's view as a SQLAlchemy table: ``VPerson.number_of_trips``...

    Use it in ``select(...)`` like a SQLModel class (``select(VPerson)`` selects every
    column) and run the statement with :func:`consist.run_query`.

    Attributes
    ----------
    table
        The underlying :class:`sqlalchemy.Table` (``.c`` has every column).
    """

    def __init__(self, spec: ViewSpec, table: Any) -> None:
        self.spec = spec
        self.table = table
        self.name = spec.name
        self.c = table.c
        self.columns = table.c

    def __clause_element__(self) -> Any:
        return self.table

    def __getattr__(self, attr: str) -> Any:
        # Only reached for names that are not attributes: the view's columns.
        try:
            return self.__dict__["table"].c[attr]
        except KeyError:
            cols = ", ".join(c.key for c in self.__dict__["table"].c)
            raise AttributeError(f"view {self.__dict__['name']!r} has no column {attr!r}; columns: {cols}") from None

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(c.key for c in self.table.c)})

    def __repr__(self) -> str:
        return f"<consist view {self.name!r} of {self.spec.model.__name__}: {', '.join(c.key for c in self.table.c)}>"


def sa_table(spec: ViewSpec, metadata: Any) -> Any:
    """The SQLAlchemy table of a view: the schema's columns, then the provenance columns."""
    import sqlalchemy as sa

    cols = [sa.Column(name, sa_type, key=attr) for attr, name, sa_type in spec.columns]
    cols += [
        sa.Column(name, sa.BigInteger if sql_type == "BIGINT" else sa.String) for name, sql_type in PROVENANCE.items()
    ]
    return sa.Table(spec.name, metadata, *cols)
