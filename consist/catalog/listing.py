"""What the record folders hold, as cheap version tokens of the catalog.

Record files and segments never change once written (new content gets a new name), and
journals only grow, so within one process the names of the files in ``records/fresh``
and ``records/segments``, with each journal's size, are a version of the catalog:
:func:`names` changes whenever a run lands, a compaction publishes a segment or a merge
replaces some.

Across processes names are not enough: a folder may be copied or restored from a
backup, or a file damaged in place. :func:`identity` adds each file's inode, size,
modification and change times (a change time cannot be set back), so something saved
with it (see :mod:`consist.views.saved_sources`) is trusted only while every record file
it was made from stands as it was, in the same folder.
"""

from __future__ import annotations

import os

import blake3

from consist.artifacts.layout import Layout
from consist.catalog.codec import fresh_names
from consist.catalog.journal_index import journal_names
from consist.catalog.segments import list_segment_names


def names(layout: Layout) -> tuple[frozenset[str], tuple[str, ...], frozenset[tuple[str, int]]]:
    """The fresh record names, the segment file names and each journal's size (two ``listdir``, a ``stat`` a journal)."""
    sizes = []
    for name in journal_names(layout.fresh):
        try:
            sizes.append((name, os.stat(layout.fresh / name).st_size))
        except FileNotFoundError:
            continue  # folded and deleted meanwhile: the segments listed next hold its runs
    return frozenset(fresh_names(layout)), tuple(list_segment_names(layout.segments)), frozenset(sizes)


def identity(layout: Layout) -> str:
    """A digest of the metadata folder's path and of every record and segment file's identity.

    Take it *before* reading the records: what is read is then at least as new as the
    digest says, so anything keyed by it can only be conservative.
    """
    h = blake3.blake3(str(layout.root.resolve()).encode())
    for folder in (layout.fresh, layout.segments):
        h.update(b"\x00" + folder.name.encode())
        try:
            entries = sorted((e for e in os.scandir(folder) if not e.name.startswith(".")), key=lambda e: e.name)
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # compacted meanwhile: the segment listed after it holds the run
            h.update(f"\x01{entry.name}\x02{st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}".encode())
    return h.hexdigest()
