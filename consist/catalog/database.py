"""The DuckDB file at ``db_path``: views over the record files, for any DuckDB client.

The file holds no data of its own, only views with absolute globs over
``<run_dir>/.consist/records`` (Parquet segments and fresh JSON records) and a
``consist_schema`` table naming the schema version and the records folder. Deleting it
loses nothing: :func:`ensure_database` rebuilds it. It is opened read-write only for
the moment it is (re)built, and a new file is built under a temporary name and renamed
into place, so other processes never meet a lock on it.

The public views (``runs``, ``artifacts``, ``run_artifacts``, ``facets``) are defined
once here over a relation named ``_consist_records`` in the segment schema; the file
defines that relation over globs, while consist's own in-process reader
(:mod:`consist.catalog.reader`) defines it over the exact live segment files plus the fresh
records it has decoded, which is faster and reports corrupt records by name.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from consist.artifacts.formats.literal import sql_pattern
from consist.artifacts.layout import Layout
from consist.atomic import temp_name, unlink_quietly, write_bytes
from consist.catalog import checked_file, segments
from consist.errors import CatalogError
from consist.models import Artifact, Run

log = logging.getLogger("consist.catalog")

CATALOG_SCHEMA_VERSION = 3  # 3: times in runs and artifacts are TIMESTAMP WITH TIME ZONE
FRESH_PLACEHOLDER = ".empty.json"

PUBLIC_VIEWS: dict[str, str] = {
    "runs": """
        SELECT id, name, model, status, kind, parent_id, parent_id AS scenario_id, year, iteration,
               tags, signature, code_hash, config_hash, inputs_hash, cache_hit, reused_run_id,
               cache_mode, cache_epoch, miss_reason, error,
               to_timestamp(started_at) AS started_at, to_timestamp(ended_at) AS ended_at,
               greatest(ended_at - started_at, 0) AS duration_s, host, pid, schema_version,
               CAST(config AS JSON) AS config, CAST(meta AS JSON) AS meta, CAST(code AS JSON) AS code
        FROM _consist_records""",
    "run_artifacts": """
        SELECT run_id, a.id AS artifact_id, a.key AS key, a.direction AS direction
        FROM (SELECT id AS run_id, unnest(artifacts) AS a FROM _consist_records)""",
    "artifacts": """
        SELECT a.id AS id, a.key AS key, a.uri AS uri, a.hash AS hash, a.size AS size, a.driver AS driver,
               a.run_id AS run_id, a.frame_kind AS frame_kind, CAST(a.meta AS JSON) AS meta,
               to_timestamp(a.created_at) AS created_at
        FROM (SELECT unnest(artifacts) AS a FROM _consist_records)
        QUALIFY row_number() OVER (PARTITION BY a.id ORDER BY (a.direction = 'out') DESC, a.run_id) = 1""",
    "facets": """
        SELECT run_id, f.key AS key, f.value_str AS value_str, f.value_num AS value_num,
               f.value_bool AS value_bool, CAST(f.value_json AS JSON) AS value_json
        FROM (SELECT id AS run_id, unnest(facets) AS f FROM _consist_records)""",
}


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal (quotes doubled): for paths in view definitions."""
    return "'" + text.replace("'", "''") + "'"


def create_public_views(con: Any) -> None:
    """(Re)define ``runs``, ``artifacts``, ``run_artifacts`` and ``facets`` on ``con``."""
    for name, body in PUBLIC_VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")


# -- the file's definition of _consist_records (globs) -------------------------------

_SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN"}


def _defaults(struct: type) -> dict[str, Any]:
    out = {}
    for f in msgspec.structs.fields(struct):
        if f.default is not msgspec.NODEFAULT:
            out[f.name] = f.default
    return out


def _literal(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return sql_literal(str(value))


def _field(source: str, name: str, sql_type: str, default: Any) -> str:
    expr = f"CAST({source}->>{sql_literal(name)} AS {sql_type})"
    literal = _literal(default)
    return f"COALESCE({expr}, {literal})" if literal is not None else expr


def _fresh_select(fresh_glob: str) -> str:
    """Fresh JSON records (``fresh_glob`` a SQL literal) in the segment schema (records omit fields at their default)."""
    run_defaults = _defaults(Run)
    cols = [
        f"{_field('json', name, _SQL_TYPES[str(t)], run_defaults.get(name))} AS {name}"
        for name, t in segments.RUN_COLUMNS
    ]
    art_defaults = _defaults(Artifact)
    art_fields = []
    for f in segments.ARTIFACT_TYPE:
        if f.name == "direction":
            continue
        value = f"CAST(x->>{sql_literal(f.name)} AS {_SQL_TYPES[str(f.type)]})"
        if f.name == "meta":
            value = "CAST(x->'meta' AS VARCHAR)"
        elif _literal(art_defaults.get(f.name)) is not None:
            value = f"COALESCE({value}, {_literal(art_defaults[f.name])})"
        art_fields.append(f"{f.name} := {value}")

    def artifacts(key: str, direction: str) -> str:
        return (
            f"COALESCE((SELECT list(struct_pack(direction := '{direction}', {', '.join(art_fields)})) "
            f"FROM (SELECT unnest(CAST(json->'{key}' AS JSON[])) AS x)), [])"
        )

    facet = (
        "struct_pack(key := j.key, "
        "value_str := CASE WHEN j.type = 'VARCHAR' THEN j.value->>'$' END, "
        "value_num := CASE WHEN j.type IN ('UBIGINT', 'BIGINT', 'DOUBLE') THEN CAST(j.value AS DOUBLE) END, "
        "value_bool := CASE WHEN j.type = 'BOOLEAN' THEN CAST(j.value AS BOOLEAN) END, "
        "value_json := CASE WHEN j.type NOT IN ('VARCHAR', 'UBIGINT', 'BIGINT', 'DOUBLE', 'BOOLEAN') "
        "THEN CAST(j.value AS VARCHAR) END)"
    )
    cols += [
        "COALESCE(CAST(json->'tags' AS VARCHAR[]), []) AS tags",
        "CAST(COALESCE(json->'config', '{}') AS VARCHAR) AS config",
        "CAST(COALESCE(json->'meta', '{}') AS VARCHAR) AS meta",
        "CAST(json->'code' AS VARCHAR) AS code",
        f"list_concat({artifacts('inputs', 'in')}, {artifacts('outputs', 'out')}) AS artifacts",
        f"COALESCE((SELECT list({facet}) FROM json_each(json->'facets') AS j), []) AS facets",
    ]
    return (
        f"SELECT {', '.join(cols)} FROM read_json_objects({fresh_glob}, "
        "format = 'newline_delimited', ignore_errors = true) WHERE json->>'id' IS NOT NULL"
    )


def file_records_sql(layout: Layout) -> str:
    """``_consist_records`` for the file: live segments plus fresh records not yet in one."""
    # The run folder itself may hold glob characters (``runs[2030]``): only the file part is a pattern.
    seg_glob = sql_pattern(layout.segments.resolve(), "*.parquet")
    fresh_glob = sql_pattern(layout.fresh.resolve(), "*.json")
    live = (
        f"SELECT * EXCLUDE (filename) FROM read_parquet({seg_glob}, union_by_name = true, filename = true, hive_partitioning = false) "
        f"WHERE parse_filename(filename) NOT IN (SELECT unnest(from_json(decode(value), '[\"VARCHAR\"]')) "
        f"FROM parquet_kv_metadata({seg_glob}) WHERE decode(key) = 'consist.replaces')"
    )
    return (
        f"WITH live AS ({live}) SELECT * FROM live UNION ALL BY NAME "
        f"SELECT * FROM ({_fresh_select(fresh_glob)}) AS fresh WHERE fresh.id NOT IN (SELECT id FROM live)"
    )


def ensure_placeholders(layout: Layout) -> None:
    """Empty files that let the globs match even before the first run (never records)."""
    segments.ensure_placeholder(layout.segments)
    placeholder = layout.fresh / FRESH_PLACEHOLDER
    if not placeholder.exists():
        write_bytes(placeholder, b"")


def install(con: Any, layout: Layout) -> None:
    """Define every catalog object of the file on ``con`` and record the schema version."""
    con.execute(f"CREATE OR REPLACE VIEW _consist_records AS {file_records_sql(layout)}")
    create_public_views(con)
    con.execute("CREATE OR REPLACE TABLE consist_schema (version INTEGER, records_root VARCHAR, built_at TIMESTAMP)")
    con.execute(
        "INSERT INTO consist_schema VALUES (?, ?, now())", [CATALOG_SCHEMA_VERSION, str(layout.root.resolve())]
    )


def build_database(db_path: Path, layout: Layout) -> None:
    """Build the file afresh under a temporary name, then rename it over ``db_path``."""
    ensure_placeholders(layout)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(db_path, lambda con: install(con, layout), layout=layout)


def replace_file(
    db_path: Path, change: Callable[[Any], None], *, copy: bool = False, layout: Layout | None = None
) -> os.stat_result:
    """Let ``change(con)`` build a DuckDB file under a temporary name, then rename it over ``db_path``.

    With ``copy``, the temporary file starts as a copy of ``db_path``: readers that have
    the file open keep their copy, and nobody ever waits on a lock of ours. With
    ``layout``, a new file that is current for that metadata folder is remembered as
    checked (see :func:`ensure_database`), so the next process need not open it again.
    Returns the new file's ``stat``, taken before the rename (another process may replace
    the file right after).
    """
    import duckdb

    tmp = temp_name(db_path)
    try:
        if copy:
            shutil.copyfile(db_path, tmp)
        con = duckdb.connect(str(tmp))
        try:
            change(con)
            root = str(layout.root.resolve()) if layout is not None else None
            current = root is not None and _stamp(con) == (CATALOG_SCHEMA_VERSION, root)
        finally:
            con.close()
        # The identity of this very file (a rename keeps inode, size and mtime).
        st = os.stat(tmp)
        token = checked_file.token(db_path, root, CATALOG_SCHEMA_VERSION, stat_of=tmp) if current and root else None
        os.replace(tmp, db_path)
        if token is not None and layout is not None:
            checked_file.write(layout, token)
        return st
    finally:
        unlink_quietly(tmp, Path(f"{tmp}.wal"))  # a DuckDB file may leave its write-ahead log


def build_if_missing(db_path: Path, layout: Layout) -> None:
    """Build the file when it does not exist; a failure is logged, never raised.

    consist's own queries do not need the file, so a read-only location or a broken
    DuckDB install must not stop a tracker from running steps.
    """
    if db_path.exists():
        return
    try:
        build_database(db_path, layout)
    except Exception as exc:  # noqa: BLE001 - reported, and retried by the next tracker
        log.warning("could not build the catalog file %s: %s", db_path, exc)


class _Busy(Exception):
    """Another process holds the file open read-write."""


def read_stamp(db_path: Path) -> tuple[int, str] | None:
    """(schema version, records folder) recorded in the file, or None if unreadable.

    Raises ``_Busy`` when another process has the file open read-write.
    """
    import duckdb

    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise _Busy(str(exc)) from None
        return None
    except duckdb.Error:
        return None
    try:
        return _stamp(con)
    finally:
        con.close()


def _stamp(con: Any) -> tuple[int, str] | None:
    """(schema version, records folder) recorded in the file open on ``con``, or None."""
    import duckdb

    try:
        row = con.execute("SELECT version, records_root FROM consist_schema").fetchone()
    except duckdb.Error:
        return None
    return (int(row[0]), str(row[1])) if row else None


def ensure_database(db_path: Path, layout: Layout, *, check: bool = True) -> None:
    """Make ``db_path`` a current catalog file: build it if missing, upgrade it if old.

    Upgrading redefines only consist's own objects in place (anything else a user put
    in the file stays). A file written by a newer consist is left alone.

    Raises
    ------
    CatalogError
        ``db_path`` exists but is not a DuckDB database.
    """
    import duckdb

    try:
        _ensure_database(db_path, layout, check=check)
    except duckdb.Error as exc:
        # A segment DuckDB cannot even open (a truncated Parquet file) stops the views from
        # being defined. consist's own queries read the checked records, not this file.
        log.warning(
            "could not define the catalog views in %s over the run records (%s); consist's own queries still "
            "work from the records. Run `consist rebuild` to repair the damaged segment and rebuild the file.",
            db_path, exc,
        )  # fmt: skip


def _ensure_database(db_path: Path, layout: Layout, *, check: bool) -> None:
    if not db_path.exists():
        build_database(db_path, layout)
        return
    if not check:
        return
    root = str(layout.root.resolve())
    checked = checked_file.token(db_path, root, CATALOG_SCHEMA_VERSION)
    if checked is not None and checked_file.read(layout) == checked:
        ensure_placeholders(layout)  # the same file as last checked: opening it again would tell nothing new
        return
    try:
        stamp = read_stamp(db_path)
    except _Busy as exc:
        # Someone (a shell, say) has it open read-write: check it another time. consist's
        # own queries never read this file.
        log.debug("catalog file %s is open elsewhere; not checked: %s", db_path, exc)
        return
    if stamp is not None and stamp[0] == CATALOG_SCHEMA_VERSION and stamp[1] == root:
        ensure_placeholders(layout)
        if checked is not None:
            checked_file.write(layout, checked)
        return
    if stamp is not None and stamp[0] > CATALOG_SCHEMA_VERSION:
        log.warning("catalog %s has schema version %s, newer than this consist; left as is", db_path, stamp[0])
        return
    upgrade_database(db_path, layout)


def upgrade_database(db_path: Path, layout: Layout) -> None:
    """Redefine consist's views in an existing file (v2: record segments are read without hive partitioning)."""
    import duckdb

    ensure_placeholders(layout)
    try:
        con = duckdb.connect(str(db_path))
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            # Not a DuckDB file at all (empty, truncated, something else): it holds nothing
            # the records cannot give again, so build a new one, keeping the old bytes aside.
            _replace_unreadable(db_path, layout, exc)
            return
        # Someone holds it open read-write (a shell, say): our own queries do not need it.
        log.warning("could not upgrade catalog file %s (it is open elsewhere): %s", db_path, exc)
        return
    except duckdb.Error as exc:
        raise CatalogError(
            f"{db_path} exists but is not a DuckDB catalog ({exc}). Move it away or delete it: "
            "consist rebuilds the catalog from the run records."
        ) from None
    try:
        install(con, layout)
    finally:
        con.close()


def _replace_unreadable(db_path: Path, layout: Layout, exc: Exception) -> None:
    """Rebuild a catalog file DuckDB cannot open; a non-empty one is first renamed aside."""
    try:
        kept = None
        if db_path.stat().st_size > 0:
            kept = db_path.with_name(f"{db_path.name}.unreadable-{os.getpid()}-{int(time.time())}")
            os.replace(db_path, kept)
        build_database(db_path, layout)
    except Exception as again:  # noqa: BLE001 - consist's own queries read the records, not this file
        log.warning(
            "catalog file %s is not a readable DuckDB database (%s) and could not be rebuilt (%s); consist's "
            "queries still work from the run records. Run `consist rebuild` once it is writable.", db_path, exc, again,
        )  # fmt: skip
        return
    if kept is not None:
        log.warning("catalog file %s was not a readable DuckDB database (%s): rebuilt it; the old file is kept as %s",
                    db_path, exc, kept)  # fmt: skip


def connect_adbc(db_path: Path, *, read_only: bool = True) -> Any:
    """An ADBC (DB-API 2.0, Arrow-native) connection to the catalog file.

    Examples
    --------
    >>> import polars as pl                                             # doctest: +SKIP
    >>> with tracker.connect_adbc() as conn:
    ...     df = pl.read_database("SELECT model, count(*) AS n FROM runs GROUP BY model", conn)
    """
    import adbc_driver_duckdb
    import adbc_driver_manager
    import adbc_driver_manager.dbapi

    options = {"path": str(db_path)}
    if read_only:
        options["access_mode"] = "READ_ONLY"
    db = adbc_driver_manager.AdbcDatabase(
        driver=adbc_driver_duckdb.driver_path(), entrypoint="duckdb_adbc_init", **options
    )
    try:
        conn = adbc_driver_manager.AdbcConnection(db)
    except Exception:
        db.close()
        raise
    return adbc_driver_manager.dbapi.Connection(db, conn)
