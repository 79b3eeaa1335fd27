"""Journals a compaction found wholly held by segments, remembered so they are not read again.

A journal is deleted only once it is sealed and segments have held each of its records
for the grace period (see :mod:`consist.catalog.compaction`). Until then every
compaction would read and decode it again, and compare each record with its segment
row: a process that records quickly (cache hits in a loop, a sweep's client) compacts
every few hundred records and would re-read a minute's worth of journals each time,
so the cost per record grows with the rate.

So a compaction that finds every record of a journal held byte for byte remembers the
journal's identity (inode, size, modification and change times, taken before it was
read) and its run ids. While a later compaction in this process sees the same identity,
the journal holds the same lines and needs no reading: only its ids' holders are looked
up. A journal that grew, was cut back or replaced no longer matches and is read again.
"""

from __future__ import annotations

import os
from pathlib import Path

Identity = tuple[int, int, int, int]

_known: dict[Path, tuple[Identity, tuple[str, ...]]] = {}


def identity(path: Path) -> Identity | None:
    """The journal's inode, size, mtime and ctime; None when it is gone."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def known_ids(path: Path, ident: Identity | None) -> tuple[str, ...] | None:
    """The run ids of a journal remembered with identity ``ident``; None when not remembered as such."""
    found = _known.get(path)
    if found is None or ident is None or found[0] != ident:
        return None
    return found[1]


def remember(path: Path, ident: Identity | None, ids: tuple[str, ...]) -> None:
    if ident is not None:
        _known[path] = (ident, ids)


def forget(path: Path) -> None:
    _known.pop(path, None)


def prune(folder: Path, names: list[str]) -> None:
    """Forget journals of ``folder`` that are no longer listed (deleted by any process)."""
    present = set(names)
    for path in [p for p in _known if p.parent == folder and p.name not in present]:
        del _known[path]
