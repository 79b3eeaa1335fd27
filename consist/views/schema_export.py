"""Exporting a captured schema as an editable SQLModel class.

The generated module defines one plain ``SQLModel`` class (no ``table=True``, so it
imports without a primary key) with one field per column, typed from the captured
DuckDB types, ``Optional`` where nulls were seen (or, without statistics, where the
file allows them), and the statistics as comments. ``__consist_key__`` names the
artifact key it came from, so registering it (``Tracker(schemas=[Cls])``) gives a view
over every artifact of that key. Column names that are not valid Python identifiers
get a cleaned attribute name and keep the real name through
``Field(sa_column_kwargs={"name": ...})``.

Where a schema comes from, in order: the profile in the artifact's metadata
(``profile_file_schema=True``), its ingestion record (:mod:`consist.views.ingestion`), the
footer schemas remembered by views and scans, and finally the file itself.
"""

from __future__ import annotations

import keyword
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.artifacts import coltypes
from consist.artifacts.schema_capture import (
    SCHEMA_DRIVERS,
    ColumnSchema,
    FileSchema,
    SchemaStore,
    describe_file,
    schema_from_meta,
)
from consist.errors import ArtifactNotFoundError, ConfigError
from consist.models import Artifact

if TYPE_CHECKING:
    from consist.views.state import ViewState

# Attributes of SQLModel/pydantic models a field must not shadow.
_RESERVED = {
    "metadata", "registry", "schema", "json", "dict", "copy", "fields", "construct", "validate",
    "model_config", "model_fields", "model_computed_fields", "query", "parse_obj", "parse_raw",
}  # fmt: skip


def schema_for(artifact: Artifact, state: ViewState | None = None) -> FileSchema:
    """The captured schema of ``artifact`` (see the module docstring for where it comes from).

    Raises
    ------
    ArtifactNotFoundError
        Nothing was captured and the file is gone.
    ConfigError
        The artifact is not a Parquet or CSV file and was never ingested.
    """
    found = schema_from_meta(artifact.meta)
    if found is not None:
        return found
    from consist.views.ingestion import ghost_record

    # Also without a tracker: the hot store next to the artifact's path knows it (ghosts too).
    ingested = ghost_record(artifact, state)
    if ingested is not None:
        record = ingested[1]
        return FileSchema(id=artifact.hash, driver=artifact.driver, columns=list(record.columns),
                          rows=record.rows, source=artifact.uri, key=artifact.key)  # fmt: skip
    if state is not None:
        stored = SchemaStore(state.layout).get(artifact.hash)
        if stored is not None:
            return stored
    if artifact.driver not in SCHEMA_DRIVERS:
        raise ConfigError(
            f"artifact {artifact.key!r} ({artifact.uri}) has driver {artifact.driver!r}: only Parquet and CSV "
            "files, or ingested artifacts, have schemas to export."
        )
    try:
        return describe_file(str(artifact.path), artifact.driver, artifact.hash, key=artifact.key)
    except FileNotFoundError:
        raise ArtifactNotFoundError(
            f"no schema was captured for artifact {artifact.key!r} and its file {artifact.uri} is gone. Log files "
            "with profile_file_schema=True (or ingest them) so their schema outlives them."
        ) from None


def _identifier(name: str, taken: set[str]) -> str:
    ident = re.sub(r"\W+", "_", name, flags=re.ASCII).strip("_") or "column"
    if ident[0].isdigit():
        ident = "col_" + ident
    if keyword.iskeyword(ident) or ident in _RESERVED or ident.startswith("model_"):
        ident += "_"
    base, n = ident, 2
    while ident in taken:
        ident, n = f"{base}__{n}", n + 1
    taken.add(ident)
    return ident


def _class_name(key: str) -> str:
    parts = [p for p in re.split(r"\W+|_", key, flags=re.ASCII) if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "Table"
    if name[0].isdigit():
        name = "T" + name
    return name if not keyword.iskeyword(name) else name + "_"


def _hint(col: ColumnSchema) -> str:
    bits = []
    if col.null_count is not None:
        bits.append(f"nulls: {col.null_count}")
    if col.values:
        bits.append("values: " + ", ".join(col.values))
    else:
        if col.min is not None:
            bits.append(f"min: {col.min}")
        if col.max is not None:
            bits.append(f"max: {col.max}")
        if col.distinct is not None:
            bits.append(f"~{col.distinct} distinct")
    text = "; ".join(bits).replace("\n", " ")
    return f"  # {text[:160]}" if text else ""


def render_stub(
    schema: FileSchema,
    *,
    key: str,
    class_name: str | None = None,
    table_name: str | None = None,
    include_system_columns: bool = False,
    stats_comments: bool = True,
) -> str:
    """The Python source of a SQLModel class for ``schema`` (see the module docstring)."""
    from consist.views.sources import PROVENANCE

    cls = class_name or _class_name(key)
    if not cls.isidentifier() or keyword.iskeyword(cls):
        raise ConfigError(f"class_name={cls!r} is not a Python class name.")
    imports: dict[str, set[str]] = {}
    taken: set[str] = set()
    lines = []
    needs_field = needs_optional = False
    for col in schema.columns:
        if not include_system_columns and (col.name in PROVENANCE or col.name.startswith("_dlt_")):
            continue
        annotation, module = coltypes.python_annotation(col.type)
        if module:
            imports.setdefault(module, set()).add(annotation)
        nullable = col.null_count > 0 if col.null_count is not None else col.nullable
        attr = _identifier(col.name, taken)
        hint = _hint(col) if stats_comments else ""
        if nullable:
            needs_optional = True
            annotation = f"Optional[{annotation}]"
        if attr != col.name:
            needs_field = True
            default = "default=None, " if nullable else ""
            lines.append(f"    {attr}: {annotation} = Field({default}sa_column_kwargs={{\"name\": {col.name!r}}}){hint}")
        elif nullable:
            lines.append(f"    {attr}: {annotation} = None{hint}")
        else:
            lines.append(f"    {attr}: {annotation}{hint}")
    if not lines:
        raise ConfigError(f"the schema of {key!r} has no columns to export.")
    header = _header(schema, key, cls, imports, needs_optional=needs_optional, needs_field=needs_field)
    body = [
        f"class {cls}(SQLModel):",
        f'    """Rows of {key!r}. For a database table add table=True and a Field(primary_key=True)."""',
        "",
        f"    __tablename__ = {(table_name or key)!r}",
        f"    __consist_key__ = {key!r}",
        "",
        *lines,
    ]
    return "\n".join(header + body) + "\n"


def _header(
    schema: FileSchema, key: str, cls: str, imports: dict[str, set[str]], *, needs_optional: bool, needs_field: bool
) -> list[str]:
    """The stub module's docstring and imports."""
    where = f"{schema.source} " if schema.source else ""
    rows = f", {schema.rows:,} rows" if schema.rows is not None else ""
    header = [
        f'"""SQLModel schema for artifact {key!r}: generated by consist, edit freely.',
        "",
        f"Captured from {where}(schema id {schema.id[:16]}{rows}).",
        "Add primary and foreign keys, tighten types and rename attributes as you see fit;",
        f"register the class with Tracker(..., schemas=[{cls}]) for a view over every",
        f"{key!r} artifact across runs.",
        '"""',
        "",
    ]
    for module in sorted(imports):
        header.append(f"from {module} import {', '.join(sorted(imports[module]))}")
    if needs_optional:
        header.append("from typing import Optional")
    return header + ["", f"from sqlmodel import {'Field, ' if needs_field else ''}SQLModel", "", ""]


def export_sqlmodel_stub(
    artifact: Artifact | FileSchema,
    *,
    tracker: Any = None,
    class_name: str | None = None,
    table_name: str | None = None,
    out: str | os.PathLike[str] | None = None,
    include_system_columns: bool = False,
    stats_comments: bool = True,
) -> str:
    """The stub's source for ``artifact``, read with ``tracker``'s view state if given (see :func:`consist.export_sqlmodel_stub`)."""
    if isinstance(artifact, FileSchema):
        schema, key = artifact, artifact.key or "table"
    elif isinstance(artifact, Artifact):
        schema, key = schema_for(artifact, tracker.view_state if tracker is not None else None), artifact.key
    else:
        raise ConfigError(f"export_sqlmodel_stub takes an Artifact or a FileSchema; got a {type(artifact).__name__}.")
    source = render_stub(schema, key=key, class_name=class_name, table_name=table_name,
                         include_system_columns=include_system_columns, stats_comments=stats_comments)  # fmt: skip
    if out is not None:
        target = Path(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
    return source


def export_sqlmodel(
    tracker: Any, artifact: Artifact, *, class_name: str | None = None, table_name: str | None = None
) -> str:
    """The command line's entry point (``consist schema export ARTIFACT``): the stub's source."""
    return export_sqlmodel_stub(artifact, tracker=tracker, class_name=class_name, table_name=table_name)

