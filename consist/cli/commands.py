"""The ``consist`` commands that read the catalog: runs, show, lineage, artifacts, query.

Each ``cmd_*`` takes the parsed arguments, the run folder and the catalog path, prints
to stdout and returns an exit code; errors propagate to :func:`consist.cli.app.main`, which
prints them as one line. Listing asks the catalog file for one page of rows (``ORDER BY
... LIMIT ... OFFSET``), so its cost does not grow with the catalog; every value
reaches SQL as a bound parameter.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.cli.catalog import CliCatalog, first_line
from consist.cli.text import human_size, iso_times, key_values, seconds, shown_path, text_table, when
from consist.errors import ArtifactNotFoundError, ConfigError

if TYPE_CHECKING:
    from consist.models import Artifact, Run


# -- output --------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _csv_value(value: Any) -> Any:
    """One CSV field: lists and structs as JSON text, dates and times as ISO 8601."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=_json_default)
    return value.isoformat() if hasattr(value, "isoformat") else value


def write_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, out: Any = None) -> None:
    """Rows as an aligned ``table``, ``csv`` (with a header) or ``json`` (a list of objects)."""
    out = out if out is not None else sys.stdout
    if fmt == "table":
        out.write(text_table(columns, rows) + "\n" if columns else "")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(v) for v in row])
    elif fmt == "json":
        json.dump([dict(zip(columns, row)) for row in rows], out, default=_json_default, indent=1)
        out.write("\n")
    else:  # pragma: no cover - argparse restricts the choices
        raise ConfigError(f"unknown format {fmt!r}")


def _page(args: argparse.Namespace) -> tuple[int, int]:
    if args.limit < 1 or args.page < 1:
        raise ConfigError(f"--limit and --page must be at least 1 (got --limit {args.limit}, --page {args.page}).")
    return args.limit, (args.page - 1) * args.limit


def _more_hint(command: str, shown: int, limit: int, page: int, more: bool) -> None:
    # On stderr: stdout stays a clean table (or CSV/JSON) for pipes.
    if more:
        sys.stderr.write(f"(page {page}, {shown} rows; for older ones add --page {page + 1})\n")
    elif shown == 0:
        sys.stderr.write("(no matching rows)\n" if page == 1 else f"(no rows on page {page})\n")


# -- runs ----------------------------------------------------------------------------

RUN_COLUMNS = "id, name, model, kind, parent_id, year, status, cache_hit, started_at, ended_at, tags"


def runs_where(args: argparse.Namespace) -> tuple[str, list[Any]]:
    """The WHERE clause (bound parameters) of ``consist runs``'s filters."""
    parts, params = [], []
    for column, value in (
        ("parent_id", args.scenario), ("model", args.model), ("name", args.step), ("year", args.year),
        ("status", args.status), ("kind", args.kind),
    ):  # fmt: skip
        if value is not None:
            parts.append(f"{column} = ?")
            params.append(value)
    for tag in args.tag:
        parts.append("list_contains(tags, ?)")
        params.append(tag)
    if args.hits == "only":
        parts.append("cache_hit")
    elif args.hits == "none":
        parts.append("NOT cache_hit")
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def cmd_runs(args: argparse.Namespace, run_dir: str, db_path: str | None) -> int:
    """``consist runs``: one page of runs, newest first."""
    limit, offset = _page(args)
    catalog = CliCatalog(run_dir, db_path)
    where, params = runs_where(args)
    # One row more than the page tells whether an older page exists, without a count.
    sql = f"SELECT {RUN_COLUMNS} FROM runs{where} ORDER BY ended_at DESC, id DESC LIMIT ? OFFSET ?"
    _, rows = catalog.execute(sql, [*params, limit + 1, offset])
    more, rows = len(rows) > limit, rows[:limit]
    if args.format != "table":
        columns = [c.strip() for c in RUN_COLUMNS.split(",")]
        write_rows(columns, rows, args.format)
        return 0
    # A model column only when some step's model differs from its name (a scenario's
    # record always has model "scenario" unless given one: that is no news).
    show_model = any(r[2] != r[1] and (r[3] != "scenario" or r[2] != "scenario") for r in rows)
    table = []
    for rid, name, model, kind, parent, year, status, hit, started, ended, tags in rows:
        outcome = "hit" if hit else status
        step = f"{name} [scenario]" if kind == "scenario" else name
        row = [rid, step, *([model] if show_model else []), parent, year, outcome, when(started)]
        took = (ended - started).total_seconds() if started and ended else 0.0
        row += [seconds(max(0.0, took)), ", ".join(tags or ())]
        table.append(row)
    headers = ["id", "step", *(["model"] if show_model else []), "scenario", "year", "status", "started", "took", "tags"]
    if not any(r[-1] for r in table):
        headers, table = headers[:-1], [r[:-1] for r in table]
    sys.stdout.write(text_table(headers, table) + "\n")
    _more_hint("runs", len(rows), limit, args.page, more)
    if not rows and args.page == 1:
        _unknown_filter_hint(catalog, args)
    return 0


def _unknown_filter_hint(catalog: CliCatalog, args: argparse.Namespace) -> None:
    """After an empty ``consist runs``: name a filter value no run has, with close matches."""
    import difflib

    for option, column, value in (
        ("--scenario", "parent_id", args.scenario), ("--model", "model", args.model),
        ("--step", "name", args.step), ("--status", "status", args.status),
    ):  # fmt: skip
        if value is None:
            continue
        _, found = catalog.execute(f"SELECT 1 FROM runs WHERE {column} = ? LIMIT 1", [value])
        if found:
            continue
        _, rows = catalog.execute(f"SELECT DISTINCT {column} FROM runs WHERE {column} IS NOT NULL LIMIT 1000")
        known = sorted(str(r[0]) for r in rows)
        close = difflib.get_close_matches(value, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        if option == "--status" and value in ("hit", "hits", "cached"):
            hint = "; cache hits are completed runs: use --hits only"
        elif not close and len(known) <= 10:
            hint = f"; known values: {', '.join(known)}"
        sys.stderr.write(f"(no run has {option} {value!r}{hint})\n")


# -- show ----------------------------------------------------------------------------


def _artifact_rows(artifacts: Sequence[Artifact], producer_of: str, run_dir: Path) -> list[list[Any]]:
    rows = []
    for a in artifacts:
        if a.run_id is None:
            made = "(raw input)"
        elif a.run_id == producer_of:
            made = "this run"
        else:
            made = a.run_id
        rows.append([a.key, a.driver, human_size(a.size), a.hash[:12], made, shown_path(a.uri, run_dir)])
    return rows


def _outcome(run: Run) -> str:
    if run.kind == "scenario":
        return run.status
    if run.cache_hit:
        return f"{run.status}: cache hit, reused the outputs of run {run.reused_run_id}"
    if run.status == "completed":
        return "completed: executed (cache miss)"
    return run.status


def describe_run(run: Run, run_dir: Path | None = None) -> str:
    """The text ``consist show`` prints for ``run``."""
    from consist.identity.digests import flatten

    code = run.code
    code_text = None
    if code is not None:
        where = ".".join(p for p in (code.module, code.qualname) if p)
        place = f" ({code.file}:{code.line})" if code.file else ""
        version = f" version {code.version}" if code.version else ""
        code_text = f"{code.kind} {where}{place}{version}".strip()
    head = [
        ("run", run.id),
        ("step", run.name + ("" if run.model == run.name else f"  (model {run.model})")),
        ("kind", run.kind if run.kind != "step" else None),
        ("scenario", run.parent_id),
        ("year", run.year),
        ("iteration", run.iteration),
        ("tags", ", ".join(run.tags)),
        ("status", _outcome(run)),
        ("why it ran", run.miss_reason if not run.cache_hit else None),
        ("error", run.error),
        ("started", when(run.started_at)),
        ("ended", when(run.ended_at)),
        ("took", seconds(run.duration_s) if run.ended_at else None),
        ("host", f"{run.host} (pid {run.pid})" if run.host else None),
        ("cache mode", run.cache_mode if run.cache_mode != "reuse" else None),
        ("code", code_text),
        ("signature", run.signature),
        ("hashes", "  ".join(f"{k} {v[:12]}" for k, v in (
            ("code", run.code_hash), ("config", run.config_hash), ("inputs", run.inputs_hash)) if v) or None),
    ]  # fmt: skip
    sections = [key_values(head)]
    if run.config:
        sections.append("config\n" + key_values(sorted(flatten(run.config).items()), indent=2))
    facets = {k: v for k, v in run.facets.items() if flatten(run.config).get(k, object()) != v}
    if facets:
        sections.append("facets\n" + key_values(sorted(facets.items()), indent=2))
    steps = run.meta.get("steps") if run.kind == "scenario" else None
    if steps:
        sections.append("steps\n" + "\n".join(f"  {s}" for s in steps))
    failed = run.meta.get("failed_steps") if run.kind == "scenario" else None
    if failed:
        # Names, not ids: `consist runs --scenario NAME --status failed` lists their runs.
        sections.append("failed steps\n" + "\n".join(f"  {s}" for s in failed))
    headers = ("key", "driver", "size", "hash", "produced by", "path")
    for title, artifacts in (("inputs", run.inputs), ("outputs", run.outputs)):
        if artifacts:
            table = text_table(headers, _artifact_rows(artifacts, run.id, run_dir or Path.cwd()))
            sections.append(title + "\n" + "\n".join("  " + line for line in table.splitlines()))
    return "\n\n".join(s for s in sections if s)


def cmd_show(args: argparse.Namespace, run_dir: str, db_path: str | None) -> int:
    """``consist show RUN``: everything recorded about one run."""
    catalog = CliCatalog(run_dir, db_path)
    run = catalog.run(args.run)
    if args.format == "json":
        from consist.catalog.codec import encode_run

        sys.stdout.write(json.dumps(iso_times(json.loads(encode_run(run))), indent=1) + "\n")
    else:
        sys.stdout.write(describe_run(run, Path(catalog.tracker.run_dir)) + "\n")
    return 0


# -- lineage and artifact references -------------------------------------------------


def resolve_artifact(catalog: CliCatalog, ref: str) -> Artifact:
    """The artifact ``ref`` names: ``RUN:KEY`` (an output, else an input, of a run), an
    artifact id, or a path some run read or wrote (the most recent such record).

    Raises
    ------
    ArtifactNotFoundError
        Nothing recorded matches (the message says what was tried).
    """
    from consist.errors import RunNotFoundError

    if ":" in ref:
        run_ref, key = ref.rsplit(":", 1)
        try:
            run = catalog.run(run_ref)
        except RunNotFoundError:
            run = None
        if run is not None:
            found = run.output_map.get(key) or run.input_map.get(key)
            if found is not None:
                return found
            keys = sorted({*run.output_map, *run.input_map})
            raise ArtifactNotFoundError(f"run {run.id} has no artifact {key!r}; its keys are {keys}.")
    from consist.catalog.lineage import recorded_artifact

    found = recorded_artifact(lambda sql, params: catalog.execute(sql, params)[1], catalog.tracker.records, ref)
    if found is not None:
        return found
    raise ArtifactNotFoundError(
        f"no recorded artifact matches {ref!r} (tried an artifact id, RUN:KEY and a file path); "
        "list artifacts with `consist artifacts`."
    )


def cmd_lineage(args: argparse.Namespace, run_dir: str, db_path: str | None) -> int:
    """``consist lineage ARTIFACT``: the tree of runs and inputs behind an artifact."""
    from consist.display.graph import LineageGraph

    if args.depth is not None and args.depth < 0:
        raise ConfigError(f"--depth must be 0 or more (got {args.depth}); leave it out to follow every run.")
    catalog = CliCatalog(run_dir, db_path)
    artifact = resolve_artifact(catalog, args.artifact)
    graph = LineageGraph(catalog.tracker.lineage(artifact, max_depth=args.depth))
    text = {"text": graph.text, "mermaid": graph.mermaid, "svg": graph.svg}[args.format]()
    sys.stdout.write(text + "\n")
    return 0


# -- artifacts -----------------------------------------------------------------------


def cmd_artifacts(args: argparse.Namespace, run_dir: str, db_path: str | None) -> int:
    """``consist artifacts``: one page of artifacts, newest first."""
    limit, offset = _page(args)
    catalog = CliCatalog(run_dir, db_path)
    parts, params = [], []
    if args.run:
        run = catalog.run(args.run)
        parts.append("a.id IN (SELECT artifact_id FROM run_artifacts WHERE run_id = ?)")
        params.append(run.id)
    if args.key:
        parts.append("a.key = ?")
        params.append(args.key)
    if args.driver:
        parts.append("a.driver = ?")
        params.append(args.driver)
    if args.scenario:
        parts.append("a.run_id IN (SELECT id FROM runs WHERE parent_id = ?)")
        params.append(args.scenario)
    where = (" WHERE " + " AND ".join(parts)) if parts else ""
    sql = (
        "SELECT a.id, a.key, a.driver, a.size, a.hash, a.run_id, a.uri, a.created_at FROM artifacts a"
        f"{where} ORDER BY a.created_at DESC, a.id LIMIT ? OFFSET ?"
    )
    columns, rows = catalog.execute(sql, [*params, limit + 1, offset])
    more, rows = len(rows) > limit, rows[:limit]
    if args.format != "table":
        write_rows(columns, rows, args.format)
        return 0
    here = Path(catalog.tracker.run_dir)
    table = [[i, k, d, human_size(s), h[:12], r or "(raw input)", shown_path(u, here)] for i, k, d, s, h, r, u, _ in rows]
    sys.stdout.write(text_table(("id", "key", "driver", "size", "hash", "produced by", "path"), table) + "\n")
    _more_hint("artifacts", len(rows), limit, args.page, more)
    return 0


# -- query ---------------------------------------------------------------------------


def _sql_error(exc: BaseException) -> str:
    """DuckDB's first line, plus its suggestion ("Did you mean ...", candidate columns) if any."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    hint = next((line for line in lines[1:] if line.startswith(("Did you mean", "Candidate bindings"))), None)
    return f"{first_line(exc)} {hint}" if hint else first_line(exc)


def cmd_query(args: argparse.Namespace, run_dir: str, db_path: str | None) -> int:
    """``consist query SQL``: run SQL on the catalog, print or save the result."""
    import duckdb

    catalog = CliCatalog(run_dir, db_path)
    if args.format == "parquet" and not args.output:
        raise ConfigError("--format parquet writes a file: add --output FILE.")
    try:
        if args.format == "parquet":
            import pyarrow.parquet as pq

            table = catalog.arrow(args.sql)
            pq.write_table(table, args.output)
            sys.stderr.write(f"wrote {table.num_rows} rows to {args.output}\n")
            return 0
        columns, rows = catalog.execute(args.sql)
    except (duckdb.ProgrammingError, duckdb.ConversionException, duckdb.InvalidInputException) as exc:
        raise ConfigError(f"query failed: {_sql_error(exc)}") from None
    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as fh:
            write_rows(columns, rows, args.format, fh)
        sys.stderr.write(f"wrote {len(rows)} rows to {args.output}\n")
        return 0
    if args.format == "table" and len(rows) > args.max_rows:
        write_rows(columns, rows[: args.max_rows], "table")
        sys.stderr.write(f"({len(rows)} rows, first {args.max_rows} shown; --max-rows N or --format csv for all)\n")
        return 0
    write_rows(columns, rows, args.format)
    return 0
