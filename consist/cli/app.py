"""The ``consist`` command: look at, query and tidy a run folder from a terminal.

``consist [--run-dir DIR] [--db-path FILE] COMMAND ...`` with the commands ``runs``,
``show``, ``lineage``, ``artifacts``, ``query``, ``verify``, ``gc``, ``rebuild`` and
``schema export`` (``consist COMMAND --help`` describes each). The run folder defaults
to ``$CONSIST_RUN_DIR`` or ``./runs``, the catalog file to ``$CONSIST_DB_PATH`` or the
tracker's default.

This module only parses arguments and turns errors into one line and an exit code;
the commands live in :mod:`consist.cli.commands` and :mod:`consist.cli.maintain`,
imported only when run, so that starting the command stays fast.

Exit codes: 0 success; 1 ``verify`` found missing or modified outputs; 2 a bad option,
argument or SQL; 3 no such run folder, run or artifact; 4 the catalog is unreadable;
5 any other error (``--debug`` prints its traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CATALOG = 4
EXIT_ERROR = 5

_FORMATS = ("table", "csv", "json")


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # On sub-commands the defaults are suppressed, so `consist runs --run-dir X` and
    # `consist --run-dir X runs` both work and neither overrides the other with a default.
    default: Any = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--run-dir", metavar="DIR", default=default,
        help="the Tracker's run_dir (default: $CONSIST_RUN_DIR or ./runs)",
    )  # fmt: skip
    parser.add_argument(
        "--db-path", metavar="FILE", default=default,
        help="the catalog file (default: $CONSIST_DB_PATH, else the one the run folder was used with, else <run-dir>/provenance.duckdb)",
    )  # fmt: skip
    parser.add_argument(
        "--debug", action="store_true", default=False if top else argparse.SUPPRESS,
        help="print the full traceback of an error",
    )  # fmt: skip


def _paging(parser: argparse.ArgumentParser, limit: int = 20) -> None:
    parser.add_argument("--limit", "-n", type=int, default=limit, metavar="N", help=f"rows per page (default {limit})")
    parser.add_argument("--page", type=int, default=1, metavar="P", help="page number, newest first (default 1)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``consist`` command."""
    from consist import __version__

    parser = argparse.ArgumentParser(
        prog="consist",
        description="Look at, query and tidy a consist run folder.",
        epilog="Run `consist COMMAND --help` for a command's options.",
    )
    _global_options(parser, top=True)
    parser.add_argument("--version", action="version", version=f"consist {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _global_options(p, top=False)
        p.set_defaults(handler=handler)
        return p

    p = command("runs", "cli.commands:cmd_runs", "List runs, newest first, with optional filters.")
    p.add_argument("--scenario", metavar="NAME", help="runs of this scenario (parent_id)")
    p.add_argument("--model", metavar="NAME", help="runs of this model")
    p.add_argument("--step", metavar="NAME", help="runs of this step name")
    p.add_argument("--year", type=int, metavar="YEAR", help="runs of this year")
    p.add_argument("--status", metavar="STATUS", help="completed, failed, ... (default: any)")
    p.add_argument("--kind", choices=("step", "scenario"), help="only steps or only scenario records")
    p.add_argument("--tag", "--tags", dest="tag", action="append", default=[], metavar="TAG", help="runs carrying this tag (repeatable)")
    p.add_argument("--hits", choices=("only", "none"), help="only cache hits, or no cache hits")
    _paging(p)
    p.add_argument("--format", choices=_FORMATS, default="table", help="output format (default table)")

    p = command("show", "cli.commands:cmd_show", "Show one run: config, facets, inputs, outputs, timing, cache decision.")
    p.add_argument("run", metavar="RUN", help="a run id (or an unambiguous start of one)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or the JSON record")

    p = command("diff", "cli.diff:cmd_diff", "Show what differs between two runs: config, inputs, code, outputs.")
    p.add_argument("run_a", metavar="RUN_A", help="a run id (or an unambiguous start of one)")
    p.add_argument("run_b", metavar="RUN_B", help="the run to compare it with")
    p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or JSON")

    p = command("lineage", "cli.commands:cmd_lineage", "Show the runs and inputs that produced an artifact.")
    p.add_argument("artifact", metavar="ARTIFACT", help="an artifact id, RUN:KEY (an output of a run), or a file path")
    p.add_argument("--depth", type=int, metavar="N", help="follow at most N producing runs upstream")
    p.add_argument("--format", choices=("text", "mermaid", "svg"), default="text", help="output format (default text)")

    p = command("artifacts", "cli.commands:cmd_artifacts", "List artifacts, newest first, with optional filters.")
    p.add_argument("--run", metavar="RUN", help="artifacts a run read or wrote")
    p.add_argument("--key", metavar="KEY", help="artifacts with this key")
    p.add_argument("--driver", metavar="DRIVER", help="parquet, csv, zarr, file, dir, ...")
    p.add_argument("--scenario", metavar="NAME", help="artifacts produced by runs of this scenario")
    _paging(p)
    p.add_argument("--format", choices=_FORMATS, default="table", help="output format (default table)")

    p = command("query", "cli.commands:cmd_query", "Run SQL on the catalog (views runs, artifacts, run_artifacts, facets).")
    p.add_argument("sql", metavar="SQL", help='for example "SELECT model, count(*) FROM runs GROUP BY model"')
    p.add_argument("--format", choices=(*_FORMATS, "parquet"), default="table", help="output format (default table)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of the terminal (required for parquet)")
    p.add_argument("--max-rows", type=int, default=100, metavar="N", help="rows a table shows (default 100)")

    _maintenance_commands(command)
    return parser


def _maintenance_commands(command: Any) -> None:
    """The commands that change the run folder: verify, gc, rebuild, schema export."""
    p = command("verify", "cli.maintain:cmd_verify", "Re-hash recorded outputs and report missing or modified files.")
    p.add_argument("runs", nargs="*", metavar="RUN", help="runs to check (default: every completed run)")

    p = command(
        "gc", "cli.maintain:cmd_gc",
        "Delete the output files of old or unwanted runs (their records are kept).",
    )  # fmt: skip
    p.add_argument("--older-than", metavar="AGE", help="runs that ended before this age (30d, 12h, 2w) or date")
    p.add_argument("--keep", action="append", default=[], metavar="RUN", help="never collect this run (repeatable)")
    p.add_argument("--keep-file", metavar="FILE", help="never collect the runs listed in FILE, one id a line")
    p.add_argument("--keep-scenario", action="append", default=[], metavar="NAME", help="never collect runs of this scenario")
    p.add_argument("--dry-run", action="store_true", help="print what would be deleted and freed, delete nothing")

    p = command("rebuild", "cli.maintain:cmd_rebuild", "Rebuild the catalog file from the run records.")
    p.add_argument("--compact", action="store_true", help="first fold fresh run records into a Parquet segment")

    p = command("schema", "cli.maintain:cmd_schema", "Work with captured table schemas.")
    schema_sub = p.add_subparsers(dest="schema_command", metavar="ACTION", required=True)
    e = schema_sub.add_parser("export", help="Print an editable SQLModel class for a captured schema.")
    _global_options(e, top=False)
    e.add_argument("artifact", metavar="ARTIFACT", help="an artifact id, RUN:KEY, or a file path")
    e.add_argument("--class-name", metavar="NAME", help="name of the generated class")
    e.add_argument("--table-name", metavar="NAME", help="its __tablename__")
    e.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of the terminal")


def _settings(args: argparse.Namespace) -> tuple[str, str | None]:
    run_dir = args.run_dir or os.environ.get("CONSIST_RUN_DIR") or "./runs"
    db_path = args.db_path or os.environ.get("CONSIST_DB_PATH") or None
    return run_dir, db_path


def _classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and one-line message for an error a command raised."""
    from consist import errors
    from consist.cli.catalog import first_line

    if isinstance(exc, errors.ConfigError):
        return EXIT_USAGE, first_line(exc)
    if isinstance(exc, (errors.RunNotFoundError, errors.RunDirNotFoundError, errors.ArtifactNotFoundError)):
        return EXIT_NOT_FOUND, first_line(exc)
    if isinstance(exc, errors.CatalogError):
        return EXIT_CATALOG, first_line(exc)
    origin = type(exc).__module__.split(".")[0]
    if origin in ("duckdb", "_duckdb", "pyarrow", "msgspec"):
        detail = first_line(exc)
        if "records/segments" in detail.replace(os.sep, "/"):
            # A damaged segment is data, not the rebuildable views file: rebuilding cannot help.
            return EXIT_CATALOG, (
                f"a catalog segment is damaged ({detail}); move that file out of "
                ".consist/records/segments to read the other runs."
            )
        return EXIT_CATALOG, f"the catalog could not be read ({detail}); try `consist rebuild`."
    if isinstance(exc, errors.ConsistError):
        return EXIT_ERROR, first_line(exc)
    if isinstance(exc, OSError):
        return EXIT_ERROR, first_line(exc)
    return EXIT_ERROR, f"unexpected {type(exc).__name__}: {first_line(exc)} (rerun with --debug for the traceback)"


class _Warnings(logging.Handler):
    """consist's logged warnings (a corrupt record skipped...) as one ``consist:`` line each."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"consist: warning: {record.getMessage().splitlines()[0]}\n")
        except Exception:  # noqa: BLE001 - a warning must never break the command
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``consist`` command with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    debug = bool(args.debug) or os.environ.get("CONSIST_DEBUG", "") not in ("", "0")
    module_name, func_name = args.handler.split(":")
    log = logging.getLogger("consist")
    handler = _Warnings(logging.WARNING)
    log.addHandler(handler)
    try:
        import importlib

        module = importlib.import_module(f"consist.{module_name}")
        run_dir, db_path = _settings(args)
        return int(getattr(module, func_name)(args, run_dir, db_path) or EXIT_OK)
    except BrokenPipeError:
        # `consist runs | head`: the reader left; stop quietly.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed pipe until exit
        except OSError:
            pass
        return EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("consist: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - every error becomes one line and an exit code
        code, message = _classify(exc)
        if debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"consist: {message}\n")
        return code
    finally:
        log.removeHandler(handler)
