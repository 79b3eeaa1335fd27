"""Finding a run's files after its run folder moved (another machine, a renamed folder).

Artifacts record absolute paths, and a step's outputs live in its run's own folder,
``<run_dir>/<run_id>/``. When the whole run folder is copied or moved (to a cluster, a
colleague's laptop, a renamed project folder), the recorded paths go stale while the
bytes sit at the same place *relative to the run folder*. :func:`rebase` maps such an
artifact there whenever the run's folder exists under the tracker's run folder: a
tracker uses its own copy of a run's files, even when the old location still exists.

Identity never depends on where files are (inputs count by content, produced artifacts
by their recorded hash), so signatures are unchanged by the move and, once outputs are
found again, cache hits, ``verify``, ``recover`` and ``consist.load`` work as before.
The relocated bytes are still checked against the recorded hash wherever a hit or a
copy depends on them. Files outside a run's folder (raw inputs, hydrated copies) are
the user's to move: their paths are never rewritten.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePath

import msgspec

from consist.models import Artifact, CacheEntry


def rebase(run_dir: Path, artifact: Artifact, *, must_exist: bool = True) -> Artifact:
    """``artifact`` pointing into ``run_dir`` if its run's folder is there, else unchanged.

    Cheap when nothing moved: an artifact already under ``run_dir`` costs one string
    comparison and no system call. With ``must_exist=False`` the artifact is pointed at
    its place under ``run_dir`` even when nothing is there yet (where recovery puts the
    bytes back for a run of this catalog, rather than at another machine's path).
    """
    uri = rebase_uri(run_dir, artifact.uri, artifact.run_id, must_exist=must_exist)
    return artifact if uri is artifact.uri else msgspec.structs.replace(artifact, uri=uri)


def rebase_uri(run_dir: Path, uri: str, run_id: str | None, *, must_exist: bool = True) -> str:
    """``uri`` (a file of run ``run_id``) under ``run_dir`` if its run's folder is there; else ``uri`` itself."""
    if run_id is None or uri.startswith(f"{run_dir}{os.sep}"):
        return uri
    parts = PurePath(uri).parts
    if run_id not in parts:
        return uri  # not inside its run's folder (a hydrated copy, an external file)
    index = len(parts) - 1 - parts[::-1].index(run_id)
    # The run's folder, not the file, decides: a copy whose file was deleted must not be
    # served the file at the old location (another project's, which may go any time).
    if must_exist and not os.path.lexists(run_dir / run_id):
        return uri
    return str(run_dir.joinpath(*parts[index:]))


def rebase_all(run_dir: Path, artifacts: Iterable[Artifact]) -> list[Artifact]:
    """:func:`rebase` applied to each artifact."""
    return [rebase(run_dir, a) for a in artifacts]


def rebase_entry(run_dir: Path, entry: CacheEntry) -> CacheEntry:
    """A cache entry whose outputs point into ``run_dir`` where the run folder moved there."""
    outputs = rebase_all(run_dir, entry.outputs)
    if outputs == entry.outputs:  # the usual case: nothing moved, the very same artifacts
        return entry
    return msgspec.structs.replace(entry, outputs=outputs)
