"""Run ids: a wanted one (suffixed when taken) or one generated from the step name.

An execution claims its id exclusively (the claim also marks it running, see
:mod:`consist.catalog.orphans`): a wanted id with a claim file, a generated one by
creating its run folder (:func:`claim_run_folder`). A cache hit's generated id is not
claimed: it makes no folder, and its id is unique without a file (the second it was
drawn in, 32 random bits, never drawn twice by one process), which saves two
file-system entries a hit.
"""

from __future__ import annotations

import functools
import os
import random
import secrets
import time
from typing import TYPE_CHECKING

from consist.artifacts.files import check_key, truncate_name
from consist.catalog import orphans

if TYPE_CHECKING:
    from pathlib import Path

    from consist.artifacts.layout import Layout
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


def claim_run_folder(layout: Layout, run_dir: Path, name: str) -> str:
    """A generated id for an execution, claimed by creating ``<run_dir>/<id>/`` (held as running)."""
    safe, folder = _id_prefix(name), str(run_dir)
    while True:  # a name taken (another process's run, a user's folder) draws again
        candidate = f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"
        if orphans.claim_folder(layout, f"{folder}/{candidate}", candidate):
            return candidate


def hit_run_id(records: RecordStore, name: str, wanted: str | None) -> str:
    """The id a cache hit is recorded under: ``wanted`` claimed as in :func:`claim_run_id`, or a generated one."""
    if wanted is not None:
        return claim_run_id(records, name, wanted)
    safe = _id_prefix(name)
    while True:
        second = int(time.time())
        if second != _drawn[0]:  # formatted once a second, not once a hit
            _drawn[:] = [second, time.strftime("%Y%m%d-%H%M%S", time.localtime(second)), set()]
        candidate = f"{safe}-{_drawn[1]}-{_hit_random.getrandbits(32):08x}"
        if candidate not in _drawn[2]:
            _drawn[2].add(candidate)
            return candidate


# The second of the latest draw, its stamp, and the unclaimed ids this process drew in it.
_drawn: list = [-1, "", set()]

# Hit ids draw from a private generator seeded from the OS (a system call per draw costs a
# tenth of a hit), reseeded in a forked child so that parent and child never draw alike;
# private, so a step calling random.seed() cannot make two processes draw the same ids.
_hit_random = random.Random()
os.register_at_fork(after_in_child=_hit_random.seed)


@functools.lru_cache(maxsize=1024)
def _id_prefix(name: str) -> str:
    """The part of a generated run id taken from the step name: safe in a file name, at most 60 bytes."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return truncate_name(safe, 60).lstrip(".") or "step"  # bytes: isalnum() keeps CJK letters
