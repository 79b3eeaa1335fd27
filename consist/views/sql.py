"""The SQL of a cross-run view: reading a schema's sources with provenance columns.

:func:`build_view_sql` turns a schema and its sources (see :mod:`consist.views.sources`) into
one ``SELECT``: files through their provenance folders (:mod:`consist.views.farm`) as hive
partitions, grouped by column layout and partition set; files without a folder and
ingested rows joined to a small provenance table. :func:`create_view` defines it on a
connection. Identifiers and values are quoted here, never pasted. The namespace that
decides when views are (re)built is :mod:`consist.views.namespace`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from consist.artifacts import coltypes
from consist.artifacts.formats.literal import sql_path
from consist.artifacts.schema_capture import csv_delimiter
from consist.views.farm import LinkFarm, hive_types_sql, partitions
from consist.views.fold_files import hide_sql
from consist.views.folds import Served
from consist.views.hot import HOT_ALIAS
from consist.views.sources import PROVENANCE, Source, unify
from consist.views.spec import ViewSpec

if TYPE_CHECKING:
    from consist.artifacts.schema_capture import FileSchema
    from consist.views.hot import IngestRecord


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


# -- building a view ---------------------------------------------------------------------


def _projection(name: str, want: str | None, have: dict[str, str]) -> str:
    ident = quote(name)
    if name not in have:
        return f"CAST(NULL AS {want or 'VARCHAR'}) AS {ident}"
    if want is None or have[name] == want:
        return f"d.{ident} AS {ident}"
    if {coltypes.family(have[name]), coltypes.family(want)} == {"timestamp", "timestamptz"}:
        # Naive timestamps are UTC (SQLModel's reading), whatever the session's time zone.
        return f"CAST(timezone('UTC', d.{ident}) AS {want}) AS {ident}"
    return f"CAST(d.{ident} AS {want}) AS {ident}"


def _reader(driver: str, files: list[str], schema: FileSchema, *, hive: tuple[str, ...] | None) -> str:
    """A reader of ``files``; ``hive`` names the partitions of paths through provenance folders (None: plain paths)."""
    listed = "[" + ", ".join(sql_path(f) for f in files) + "]"  # each file literally, never a pattern
    options = ", hive_partitioning = false"  # folders like ``exp=1`` above a file are not its columns
    if hive is not None:
        options = f", hive_partitioning = true, hive_types = {hive_types_sql(hive)}, hive_types_autocast = false"
    if driver == "parquet":
        return f"read_parquet({listed}{options})"
    # Types as captured: the view never re-sniffs, so it agrees with the schema record.
    # A column the sniffer saw no values in (type NULL) is read as text and cast like any other.
    types = {c.name: "VARCHAR" if coltypes.family(c.type) == "null" else c.type for c in schema.columns}
    columns = "{" + ", ".join(f"{literal(n)}: {literal(t)}" for n, t in types.items()) + "}"
    delim = literal(csv_delimiter(files[0]))
    return f"read_csv({listed}, header = true, delim = {delim}, columns = {columns}{options})"


def build_view_sql(
    spec: ViewSpec,
    sources: list[Source],
    hot: dict[str, IngestRecord],
    schemas: dict[str, FileSchema],
    prov_table: str,
    farm: LinkFarm | None = None,
    folds: Sequence[Served] = (),
) -> tuple[str, list[dict[str, Any]]]:
    """The view's SQL and the rows of its provenance table, for these sources.

    Cold files are read through their provenance folders in ``farm`` (provenance as hive partition
    columns); files without a folder, and ingested rows, are joined to the provenance table.
    ``folds`` serve the rows of further sources (see :mod:`consist.views.folds`).
    """
    what = f"view {spec.name!r}"
    declared = spec.declared
    hot_sources = [s for s in sources if s.artifact_id in hot]
    cold_sources = [s for s in sources if s.artifact_id not in hot and s.artifact_id in schemas]
    types = _unified_types(cold_sources, hot_sources, hot, schemas, declared, what, folds)
    prov: list[dict[str, Any]] = []
    groups = _cold_groups(cold_sources, schemas, farm)
    branches = _cold_branches(groups, schemas, types, declared, prov, prov_table)
    branches += _fold_branches(folds, declared, types)
    branches += _hot_branches(hot_sources, hot, types, declared, prov, prov_table, first=len(groups))
    if not branches:
        cols = [f"CAST(NULL AS {types.get(n) or 'VARCHAR'}) AS {quote(n)}" for n in declared]
        cols += [f"CAST(NULL AS {t}) AS {n}" for n, t in PROVENANCE.items()]
        return f"SELECT {', '.join(cols)} WHERE false", prov
    return " UNION ALL BY NAME ".join(branches), prov


def _unified_types(
    cold_sources: list[Source],
    hot_sources: list[Source],
    hot: dict[str, IngestRecord],
    schemas: dict[str, FileSchema],
    declared: Any,
    what: str,
    folds: Sequence[Served] = (),
) -> dict[str, str]:
    """The view's column types, unified over every distinct column layout of its sources and folds."""
    # One label per distinct column layout: checking 10,000 identical files is 10,000 times the same check.
    labels: dict[str, dict[str, str]] = {}
    seen: set[tuple[tuple[str, str], ...]] = set()
    for s in cold_sources:
        have = schemas[s.artifact_id].types
        layout = tuple(have.items())
        if layout not in seen:
            seen.add(layout)
            labels[s.uri] = have
    for s in hot_sources:
        record = hot[s.artifact_id]
        labels[f"ingested artifact {s.artifact_id} (hot table {record.table!r})"] = {c.name: c.type for c in record.columns}
    for served in folds:
        labels[f"fold {served.fold.path}"] = served.fold.info.columns
    return unify(labels, declared, what)


def _cold_groups(
    cold_sources: list[Source], schemas: dict[str, FileSchema], farm: LinkFarm | None
) -> dict[tuple[Any, ...], list[tuple[Source, str | None]]]:
    """Files grouped by what one reader can scan together: driver, delimiter, columns, partitions."""
    groups: dict[tuple[Any, ...], list[tuple[Source, str | None]]] = {}
    for s in cold_sources:
        schema = schemas[s.artifact_id]
        layout = tuple((c.name, c.type) for c in schema.columns)
        # A file with a column named like a provenance column cannot take partition columns.
        link = farm.link(s) if farm is not None and not set(schema.types) & set(PROVENANCE) else None
        hive = partitions(s) if link is not None else None
        delim = csv_delimiter(s.uri) if s.driver == "csv" else ""
        groups.setdefault((s.driver, delim, layout, hive), []).append((s, link))
    return groups


def _cold_branches(
    groups: dict[tuple[Any, ...], list[tuple[Source, str | None]]],
    schemas: dict[str, FileSchema],
    types: dict[str, str],
    declared: Any,
    prov: list[dict[str, Any]],
    prov_table: str,
) -> list[str]:
    """One SELECT per group of files; rows of ``prov`` for the groups joined to the provenance table."""
    branches: list[str] = []
    prov_cols = ", ".join(f"p.{name}" for name in PROVENANCE)
    for number, ((driver, _, _, hive), pairs) in enumerate(groups.items()):
        members = [s for s, _ in pairs]
        schema = schemas[members[0].artifact_id]
        have = schema.types
        cols = ", ".join(_projection(name, types.get(name), have) for name in declared)
        if hive is not None:
            links = [link for _, link in pairs if link is not None]
            provenance = ", ".join(f"d.{n}" if n in hive else f"CAST(NULL AS {t}) AS {n}" for n, t in PROVENANCE.items())
            branches.append(f"SELECT {cols}, {provenance} FROM {_reader(driver, links, schema, hive=hive)} AS d")
            continue
        files: dict[str, int] = {}
        for s in members:
            index = files.setdefault(s.artifact_id + "\x00" + s.uri, len(files))
            prov.append({"grp": number, "fi": index, **s.provenance()})
        paths = [key.split("\x00", 1)[1] for key in files]
        branches.append(
            f"SELECT {cols}, {prov_cols} FROM {_reader(driver, paths, schema, hive=None)} AS d "
            f"JOIN (SELECT * FROM {quote(prov_table)} WHERE grp = {number}) AS p ON p.fi = d.file_index"
        )
    return branches


def _hot_branches(
    hot_sources: list[Source],
    hot: dict[str, IngestRecord],
    types: dict[str, str],
    declared: Any,
    prov: list[dict[str, Any]],
    prov_table: str,
    first: int,
) -> list[str]:
    """One SELECT per hot table of ingested rows, numbered from ``first``; their ``prov`` rows."""
    branches: list[str] = []
    prov_cols = ", ".join(f"p.{name}" for name in PROVENANCE)
    by_table: dict[str, list[Source]] = {}
    for s in hot_sources:
        by_table.setdefault(hot[s.artifact_id].table, []).append(s)
    for number, (table, members) in enumerate(by_table.items(), start=first):
        for s in members:
            prov.append({"grp": number, "fi": None, **s.provenance()})
        have: dict[str, str] = {}
        for s in members:
            have.update({c.name: c.type for c in hot[s.artifact_id].columns})
        cols = ", ".join(_projection(name, types.get(name), have) for name in declared)
        branches.append(
            f"SELECT {cols}, {prov_cols} FROM {HOT_ALIAS}.main.{quote(table)} AS d "
            f"JOIN (SELECT * FROM {quote(prov_table)} WHERE grp = {number}) AS p "
            "ON p.consist_artifact_id = d.consist_artifact_id"
        )
    return branches


def _fold_branches(folds: Sequence[Served], declared: dict[str, str | None], types: dict[str, str | None]) -> list[str]:
    """One read per column layout of the folds (the ones that hide rows each on their own)."""
    groups: dict[tuple[Any, ...], list[Served]] = {}
    for served in folds:
        layout = tuple(served.fold.info.columns.items())
        groups.setdefault((layout, served.fold.path) if served.hide else (layout, None), []).append(served)
    branches = []
    for (layout, _), members in groups.items():
        cols = ", ".join(_projection(name, types.get(name), dict(layout)) for name in declared)
        where = hide_sql(members[0].hide) if members[0].hide else ""
        listed = "[" + ", ".join(sql_path(m.fold.path) for m in members) + "]"
        branches.append(
            f"SELECT {cols}, {', '.join('d.' + n for n in PROVENANCE)} FROM read_parquet({listed}, hive_partitioning = false) AS d"
            + (f" WHERE {where}" if where else "")
        )
    return branches


def prov_rows(prov: list[dict[str, Any]]) -> Any:
    """The provenance table's rows as a frame DuckDB reads (built by Polars: pyarrow would import pandas)."""
    import polars as pl

    schema = {"grp": pl.Int32, "fi": pl.UInt64, **{n: pl.Int64 if t == "BIGINT" else pl.String for n, t in PROVENANCE.items()}}
    return pl.DataFrame(prov, schema=schema, strict=False)


def create_view(con: Any, name: str, sql: str, prov_table: str, prov: list[dict[str, Any]]) -> None:
    """(Re)define view ``name`` and its provenance table on ``con`` (none when every source has its own)."""
    if not prov:  # the view's SQL names no provenance table then (1.5-4 ms to make an empty one)
        con.execute(f"DROP TABLE IF EXISTS {quote(prov_table)}")
    else:
        con.register("_consist_prov_rows", prov_rows(prov))
        try:
            con.execute(f"CREATE OR REPLACE TABLE {quote(prov_table)} AS SELECT * FROM _consist_prov_rows")
        finally:
            con.unregister("_consist_prov_rows")
    con.execute(f"CREATE OR REPLACE VIEW {quote(name)} AS {sql}")


def create_failing_view(con: Any, spec: ViewSpec, message: str) -> None:
    """Define ``spec``'s view (its declared columns) so that any query reading it fails with ``message``."""
    fail = f"error({literal(message)})"
    columns = {**{n: t or "VARCHAR" for n, t in spec.declared.items()}, **PROVENANCE}
    cols = ", ".join(f"CAST({fail} AS {t}) AS {quote(n)}" for n, t in columns.items())
    # The filter fails too, so a count(*) that reads no column still fails.
    con.execute(f"CREATE OR REPLACE VIEW {quote(spec.name)} AS SELECT {cols} FROM range(1) WHERE CAST({fail} AS BOOLEAN)")
