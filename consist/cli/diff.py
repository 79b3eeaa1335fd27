"""``consist diff RUN_A RUN_B``: what differs between two runs (see :mod:`consist.catalog.run_diff`)."""

from __future__ import annotations

import argparse
import json
import sys

from consist.cli.catalog import CliCatalog


def cmd_diff(args: argparse.Namespace, run_dir: str, db_path: str | None) -> int:
    """Print the differences between two runs (ids or unambiguous starts of ids); exit 0 either way."""
    from consist.catalog.run_diff import diff_runs

    catalog = CliCatalog(run_dir, db_path)
    a, b = catalog.run(args.run_a), catalog.run(args.run_b)
    diff = diff_runs(catalog.tracker, a, b)
    if args.format == "json":
        sys.stdout.write(json.dumps(diff.to_dict(), indent=1, default=str) + "\n")
    else:
        sys.stdout.write(diff.text() + "\n")
    return 0
