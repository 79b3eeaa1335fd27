"""A step run by writer processes in the journal tests: each execution appends its config to a log file."""

from __future__ import annotations

import os


def step(i: int) -> dict[str, int]:
    with open(os.environ["JOURNAL_LOG"], "a") as fh:
        fh.write(f"{i}\n")
    return {"i": i}
