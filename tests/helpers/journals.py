"""Where run records sit in the fresh record folder: one-record files and journal lines."""

from __future__ import annotations

import os
from pathlib import Path

from consist.catalog.journal_index import is_journal, read_journal


def fresh_ids(fresh: Path) -> list[str]:
    """Run ids held by the fresh record folder (record files by name, journals by their lines), sorted."""
    ids = []
    for name in os.listdir(fresh) if fresh.is_dir() else []:
        if name.startswith("."):
            continue
        if is_journal(name):
            ids += list(read_journal(fresh / name).records)
        else:
            ids.append(name[: -len(".json")])
    return sorted(ids)


def record_line(fresh: Path, run_id: str) -> tuple[Path, int, bytes]:
    """The journal holding ``run_id``'s record, the line's offset and its bytes (without the newline)."""
    for name in sorted(os.listdir(fresh)):
        if is_journal(name):
            found = read_journal(fresh / name).records.get(run_id)
            if found is not None:
                return fresh / name, found[0], found[1]
    raise LookupError(f"no journal in {fresh} holds run {run_id}")
