"""The cache index: one small msgpack file per step signature.

A lookup is one file read, whatever the number of runs in the catalog: no DuckDB, no
scan; and a file this index read before is only stat'ed, and read again when its inode,
size, mtime or ctime changed. An entry is written only after a run has completed and its record is on disk, so
a failed or killed run never leaves one. The file of a new signature is created and
written in place with one call (no temporary file, no rename); a reader that meets it
half written cannot decode it (msgpack says how long it is) and takes it as no entry,
silently for a file made moments ago. A file that already holds entries, or one that
must be fsynced before it appears (``durability="step"``), is replaced atomically.

Output keys are not part of a signature, so two steps running the same function on the
same config and inputs share one. When they declare different outputs (``outputs=["a"]``
in one, ``["b"]`` in the other) each needs its own entry, or every run of one would
replace the other's and neither would ever hit: the file then holds a short list of
entries, newest first, one per set of output keys, and a lookup takes the newest entry
that has every output the step declares.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path

import msgspec

from consist.artifacts.layout import Layout
from consist.atomic import open_exclusive, read_small, write_all, write_bytes
from consist.catalog import step_history
from consist.catalog.step_history import RECENT_RUNS  # noqa: F401  (re-exported: callers import it from here)
from consist.identity.hashing import hash_bytes
from consist.identity.reasons import StepComponents
from consist.models import CacheEntry, enc_hook

log = logging.getLogger("consist.cache")

_encoder = msgspec.msgpack.Encoder(enc_hook=enc_hook)  # numpy scalars in artifact metadata
_decoder = msgspec.msgpack.Decoder(CacheEntry)
_list_decoder = msgspec.msgpack.Decoder(list[CacheEntry])
# Entries kept per signature for different sets of output keys.
ALTERNATES = 4
_READ_MEMO = 4096  # entry files whose decoded entries a CacheIndex keeps


class CacheIndex:
    """Signature -> :class:`CacheEntry`, stored under ``layout.index``."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        # Entry file path -> (its inode, size, mtime and ctime when read, the entries it held).
        self._read: dict[str, tuple[tuple[int, int, int, int], list[CacheEntry]]] = {}

    def get(self, signature: str, keys: Iterable[str] = ()) -> CacheEntry | None:
        """The newest entry for ``signature`` with every output in ``keys``; failing that the
        newest entry (whose missing output then explains the miss); None if there is none.

        A damaged entry counts as absent.
        """
        entries = self.entries(signature)
        if len(entries) == 1:  # the usual case: the caller checks that it holds every output asked for
            return entries[0]
        wanted = set(keys)
        return next((e for e in entries if wanted <= {a.key for a in e.outputs}), entries[0] if entries else None)

    def entries(self, signature: str) -> list[CacheEntry]:
        """Every entry kept for ``signature``, newest first.

        An entry naming another signature (a file overwritten by a sync tool or a bad
        restore) is damaged: it is left out, with a warning naming the file, so another
        configuration's outputs are never served.
        """
        path = self.layout.index_file(signature)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return []
        state = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        known = self._read.get(path)
        if known is not None and known[0] == state:
            return list(known[1])
        data = read_small(path)
        if data is None:
            return []
        try:
            entries = [_decoder.decode(data)]  # the usual case: one entry
        except msgspec.DecodeError:
            try:
                entries = _list_decoder.decode(data)
            except msgspec.DecodeError:
                if not _being_written(path):
                    log.warning("ignoring damaged cache index file %s (it does not decode); the step will run", path)
                return []
        kept = [e for e in entries if e.signature == signature]
        if len(kept) < len(entries):
            log.warning(
                "ignoring damaged cache index file %s: it holds an entry for signature %s, not %s "
                "(copied or restored over?); the step will run and rewrite it",
                path, next(e.signature for e in entries if e.signature != signature), signature,
            )  # fmt: skip
            return kept
        # Read again only when the file changes (a new inode, size or time; a file that
        # changed after the stat above is read again next time, as its state is newer).
        if len(self._read) >= _READ_MEMO:
            self._read.clear()
        self._read[path] = (state, kept)
        return list(kept)

    def put(self, entry: CacheEntry, *, durable: bool = False) -> None:
        """Store ``entry`` atomically (at ``layout.index_path``); ``durable`` fsyncs it first.

        It replaces the entry with the same output keys; entries with other output keys
        are kept beside it (see the module docstring). When the bytes reach the disk is
        the tracker's durability policy (:mod:`consist.catalog.durability`).
        """
        keys = {a.key for a in entry.outputs}
        kept = self.entries(entry.signature)
        others = [e for e in kept if {a.key for a in e.outputs} != keys]
        payload = [entry, *others[: ALTERNATES - 1]] if others else entry
        path, data = self.layout.index_file(entry.signature), _encoder.encode(payload)
        fd = None if kept or durable else open_exclusive(path)
        if fd is None:  # replacing an entry, or fsynced before it appears: a temporary file, renamed
            write_bytes(path, data, durable=durable)
        else:  # a new signature: written in place (a reader meeting it half written skips it, see entries)
            write_all(fd, data, written=path, target=path)

    def last(self, name: str) -> StepComponents | None:
        """The components of the latest executed run of step ``name``, if any."""
        recent = self.recent(name)
        return recent[0] if recent else None

    def recent(self, name: str) -> list[StepComponents]:
        """Components of the latest executed runs of step ``name``, newest first."""
        return step_history.read(self._last_file(name))

    def put_last(
        self, name: str, components: StepComponents, recent: list[StepComponents] | None = None
    ) -> None:
        """Remember ``components`` as the latest executed run of step ``name``.

        ``recent`` is what :meth:`recent` returned (saves a read when the history is
        rewritten). Two processes finishing the same step at once may drop one of the
        two: the history only chooses what a later miss is compared with (see
        :mod:`consist.catalog.step_history`).
        """
        path = self._last_file(name)
        step_history.append(path, components, self.recent(name) if recent is None else recent)

    def _last_path(self, name: str) -> Path:
        return Path(self._last_file(name))

    def _last_file(self, name: str) -> str:
        return f"{self.layout.last}/{hash_bytes(name.encode())[:32]}"


def _being_written(path: str) -> bool:
    """Whether the entry file at ``path`` that did not decode was made moments ago (a writer may be writing it)."""
    try:
        return time.time() - os.stat(path).st_mtime < _WRITING_S
    except OSError:
        return True  # gone meanwhile: replaced, nothing to report


_WRITING_S = 2.0  # a new entry is written in place in one call: it is whole well within this
