"""The narrow view of a tracker that the engine and the cache layer work through.

:class:`StepHost` lists what running, explaining, verifying and recovering a step
read: the run folder, the record store, the cache index, the hasher, the mounts, three
settings and the durability policy (when written files are fsynced), plus two hooks the
front installs. ``Tracker`` satisfies it; nothing here
or below imports the ``Tracker``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from consist.artifacts.layout import Layout
    from consist.catalog.durability import Flusher
    from consist.catalog.index import CacheIndex
    from consist.catalog.records import RecordStore
    from consist.identity.hashing import Hasher
    from consist.models import Artifact
    from consist.mounts import Mounts


class StepHost(Protocol):
    """Where a step's identity, records and cache entries live (see the module docs)."""

    run_dir: Path
    layout: Layout
    records: RecordStore
    index: CacheIndex
    hasher: Hasher
    cache_epoch: int
    code_identity: str
    verify_outputs: str
    flusher: Flusher
    mounts: Mounts

    def remember_source(self, code_hash: str, source: str) -> None:
        """Keep the source text behind a code identity, so a later miss can show a diff."""

    def restore_missing(self, inputs: Mapping[str, Artifact]) -> None:
        """Restore produced inputs whose files are gone (``cache_hydration="inputs-missing"``)."""
