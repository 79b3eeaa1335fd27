"""Run ids: a wanted one (suffixed when taken) or one generated from the step name, claimed exclusively."""

from __future__ import annotations

import functools
import secrets
import time
from typing import TYPE_CHECKING

from consist.artifacts.files import check_key, truncate_name

if TYPE_CHECKING:
    from consist.catalog.records import RecordStore


def claim_run_id(records: RecordStore, name: str, wanted: str | None, *, hold: bool = False) -> str:
    """A fresh run id: ``wanted`` (suffixed if already used) or one generated from ``name``.

    ``hold``: the id is for an execution, marked as running as it is claimed (see
    :func:`consist.catalog.orphans.hold`).
    """
    if wanted is not None:
        wanted = check_key(str(wanted), "run_id")
        if records.claim_id(wanted, hold=hold):
            return wanted
        while True:
            candidate = f"{wanted}~{secrets.token_hex(3)}"
            if records.claim_id(candidate, hold=hold):
                return candidate
    safe = _id_prefix(name)
    while True:  # claimed exclusively: two runs drawing one id must not share a record
        candidate = f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
        if records.claim_id(candidate, generated=True, hold=hold):
            return candidate


@functools.lru_cache(maxsize=1024)
def _id_prefix(name: str) -> str:
    """The part of a generated run id taken from the step name: safe in a file name, at most 60 bytes."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return truncate_name(safe, 60).lstrip(".") or "step"  # bytes: isalnum() keeps CJK letters
