"""The ``consist`` commands that check or change a run folder: verify, gc, rebuild, schema.

Same contract as :mod:`consist.cli.commands`: ``cmd_*(args, run_dir, db_path)`` prints
and returns an exit code; errors propagate to :func:`consist.cli.app.main`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from consist.cli.catalog import CliCatalog
from consist.cli.text import human_size, parse_age, when
from consist.errors import ConfigError

_LISTED = 50  # runs a gc report lists one by one before summarising the rest


def cmd_verify(args: argparse.Namespace, run_dir: str, db_path: str | None) -> int:
    """``consist verify [RUN ...]``: re-hash outputs; exit 1 when any is missing or modified."""
    catalog = CliCatalog(run_dir, db_path)
    catalog.check()
    run_ids = [catalog.run(ref).id for ref in args.runs] if args.runs else None
    problems = catalog.tracker.verify(run_ids)
    for problem in problems:
        sys.stdout.write(f"{problem}\n")
    what = _count(len(run_ids), "run") if run_ids is not None else "every completed run"
    if problems:
        missing = sum(1 for p in problems if p.problem == "missing")
        # Files deleted by `consist gc` are missing too: say so, or a tidy-up reads as damage.
        gc_hint = "; files deleted by `consist gc` count as missing" if missing else ""
        sys.stdout.write(
            f"{_count(len(problems), 'problem')} in the outputs of {what}: {missing} missing, "
            f"{len(problems) - missing} modified or unreadable (tracker.recover(artifact) can restore them{gc_hint})\n"
        )
        return 1
    sys.stdout.write(f"all outputs of {what} hold their recorded bytes\n")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _keep_list(args: argparse.Namespace, catalog: CliCatalog) -> list[str]:
    refs = list(args.keep)
    if args.keep_file:
        try:
            text = Path(args.keep_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read --keep-file {args.keep_file}: {exc.strerror or exc}.") from None
        refs += [line.split("#", 1)[0].strip() for line in text.splitlines()]
    # Every id must resolve: a typo in a keep-list must not get a run collected.
    return [catalog.run(ref).id for ref in refs if ref]


def cmd_gc(args: argparse.Namespace, run_dir: str, db_path: str | None) -> int:
    """``consist gc``: delete the files of old or unwanted runs (records kept)."""
    from consist.cache.cleanup import collect

    catalog = CliCatalog(run_dir, db_path)
    catalog.check()  # deleting files on the word of a damaged catalog is not an option
    older_than = None
    if args.older_than:
        try:
            older_than = parse_age(args.older_than, time.time())
        except ValueError as exc:
            raise ConfigError(f"--older-than {exc}.") from None
    keep = _keep_list(args, catalog)
    report = collect(
        catalog.tracker, older_than=older_than, keep=keep, keep_scenarios=args.keep_scenario, dry_run=args.dry_run
    )
    verb = "would delete" if args.dry_run else "deleted"
    for entry in report.runs[:_LISTED]:
        sys.stdout.write(
            f"{verb} {human_size(entry.bytes):>10}  {entry.run_id}  (ended {when(entry.ended_at)}, "
            f"{len(entry.paths)} paths)\n"
        )
    if len(report.runs) > _LISTED:
        rest = report.runs[_LISTED:]
        sys.stdout.write(f"... and {len(rest)} more runs ({human_size(sum(r.bytes for r in rest))})\n")
    sys.stdout.write(f"{report}\n")
    return 0


def cmd_rebuild(args: argparse.Namespace, run_dir: str, db_path: str | None) -> int:
    """``consist rebuild``: write the catalog file afresh from the records."""
    catalog = CliCatalog(run_dir, db_path)
    tracker = catalog.tracker
    if args.compact:
        report = tracker.compact()
        sys.stdout.write(f"compacted: {report.folded} fresh records folded into a segment\n")
    repaired = tracker.rebuild_catalog()
    for path in repaired.damaged:
        sys.stdout.write(f"damaged segment {path}: moved to {tracker.layout.corrupt / 'segments'}\n")
    if repaired.damaged:
        sys.stdout.write(f"recovered {repaired.recovered} runs from intact twins and fresh records\n")
    if repaired.duplicates:
        sys.stdout.write(f"removed {repaired.duplicates} duplicate copies of runs held twice in segments\n")
    if repaired.lost:
        sys.stdout.write(f"lost {len(repaired.lost)} runs: {', '.join(repaired.lost[:20])}\n")
    _, rows = catalog.execute("SELECT count(*) FROM (SELECT id FROM runs)")
    sys.stdout.write(f"rebuilt {tracker.db_path} from the records in {tracker.layout.root} ({rows[0][0]} runs)\n")
    return 0


def cmd_schema(args: argparse.Namespace, run_dir: str, db_path: str | None) -> int:
    """``consist schema export ARTIFACT``: print an editable SQLModel class for a captured schema."""
    from consist.cli.commands import resolve_artifact

    catalog = CliCatalog(run_dir, db_path)
    artifact = resolve_artifact(catalog, args.artifact)
    try:
        from consist.views.schema_export import export_sqlmodel
    except ImportError:  # pragma: no cover - the module ships with consist
        raise ConfigError("schema export is not available in this install of consist.") from None
    source = export_sqlmodel(
        catalog.tracker, artifact, class_name=args.class_name, table_name=args.table_name
    )
    if args.output:
        Path(args.output).write_text(source, encoding="utf-8")
        sys.stderr.write(f"wrote {args.output}\n")
    else:
        sys.stdout.write(source if source.endswith("\n") else source + "\n")
    return 0
