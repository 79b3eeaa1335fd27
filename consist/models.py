"""The data model: runs, artifacts and results as frozen msgspec Structs.

These are both what users hold (``result.outputs["cleaned"]`` is an :class:`Artifact`)
and what the catalog stores (one JSON record per run). The schema only grows: a field
added later always has a default, and no field changes type.
"""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Any

import msgspec

SCHEMA_VERSION = 1


class Artifact(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A file or directory that a run read or wrote, identified by its content hash.

    Attributes
    ----------
    key
        The name the artifact goes by (an output key, or the input's parameter name).
    path
        Where the bytes are (a :class:`pathlib.Path`).
    hash
        Blake3 hex digest of the content (directories: of their sorted file hashes).
    size
        Bytes on disk (directories: the sum of their files).
    driver
        The format driver: ``parquet``, ``csv``, ``arrow``, ``json``, ``zarr``,
        ``file`` or ``dir``.
    run_id
        The run that produced it, or ``None`` for a raw input nobody produced.
    meta
        User metadata given when it was logged.
    """

    id: str
    key: str
    uri: str
    hash: str
    size: int
    driver: str
    run_id: str | None = None
    frame_kind: str | None = None
    meta: dict[str, Any] = msgspec.field(default_factory=dict)
    stat: str | None = None
    created_at: float = 0.0

    @property
    def path(self) -> Path:
        """The artifact's location on disk (a mount URI resolved through the tracker's mounts)."""
        if "://" in self.uri:
            from consist.mounts import resolve_uri

            return resolve_uri(self.uri)
        return Path(self.uri)

    @property
    def metadata(self) -> dict[str, Any]:
        """User metadata (alias of ``meta``)."""
        return self.meta

    @property
    def producing_run_id(self) -> str | None:
        """The id of the run that wrote this artifact."""
        return self.run_id

    def __fspath__(self) -> str:
        return str(self.path)

    def _repr_html_(self) -> str:
        from consist.display.html import artifact_html

        return artifact_html(self)


class CodeInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where a step's code identity came from, so a miss can say what changed."""

    kind: str
    hash: str
    module: str | None = None
    qualname: str | None = None
    file: str | None = None
    line: int | None = None
    version: str | None = None
    # Module-level constants the code reads (name -> value); they are part of ``hash``.
    globals: dict[str, Any] | None = None


class Run(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One execution of a step (or a scenario), hit or miss, as recorded."""

    id: str
    name: str
    model: str
    status: str
    signature: str = ""
    code_hash: str = ""
    config_hash: str = ""
    inputs_hash: str = ""
    parent_id: str | None = None
    year: int | None = None
    iteration: int | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    facets: dict[str, Any] = msgspec.field(default_factory=dict)
    meta: dict[str, Any] = msgspec.field(default_factory=dict)
    inputs: list[Artifact] = msgspec.field(default_factory=list)
    outputs: list[Artifact] = msgspec.field(default_factory=list)
    code: CodeInfo | None = None
    cache_hit: bool = False
    reused_run_id: str | None = None
    cache_mode: str = "reuse"
    cache_epoch: int = 0
    miss_reason: str | None = None
    started_at: float = 0.0
    ended_at: float = 0.0
    error: str | None = None
    host: str | None = None
    pid: int | None = None
    kind: str = "step"
    # What re-executing this step needs beyond its identity (see consist.engine.replay).
    replay: dict[str, Any] = msgspec.field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def scenario_id(self) -> str | None:
        """The scenario this run belongs to (alias of ``parent_id``)."""
        return self.parent_id

    @property
    def duration_s(self) -> float:
        """Wall-clock seconds from start to end."""
        return max(0.0, self.ended_at - self.started_at)

    @property
    def output_map(self) -> dict[str, Artifact]:
        """Outputs by key."""
        return {a.key: a for a in self.outputs}

    @property
    def input_map(self) -> dict[str, Artifact]:
        """Inputs by key."""
        return {a.key: a for a in self.inputs}

    def _repr_html_(self) -> str:
        from consist.display.html import run_html

        return run_html(self)


class CacheEntry(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """What the cache index keeps per signature: the run that made it and its outputs."""

    signature: str
    run_id: str
    outputs: list[Artifact]
    created_at: float


class RunResult:
    """What :func:`consist.run` returns.

    Attributes
    ----------
    outputs
        Output artifacts by key.
    run
        The recorded :class:`Run` of this call (on a hit, ``run.reused_run_id`` names the
        run whose outputs were reused).
    cache_hit
        Whether the step was served from the cache without executing.
    """

    __slots__ = ("outputs", "run", "cache_hit")

    def __init__(self, outputs: dict[str, Artifact], run: Run, cache_hit: bool) -> None:
        self.outputs = outputs
        self.run = run
        self.cache_hit = cache_hit

    @property
    def artifacts(self) -> dict[str, Artifact]:
        """Output artifacts by key (alias of ``outputs``)."""
        return self.outputs

    @property
    def inputs(self) -> dict[str, Artifact]:
        """Input artifacts by key."""
        return self.run.input_map

    @property
    def run_id(self) -> str:
        """The id of the recorded run."""
        return self.run.id

    def __getitem__(self, key: str) -> Artifact:
        return self.outputs[key]

    def _repr_html_(self) -> str:
        from consist.display.html import result_html

        return result_html(self)

    def __repr__(self) -> str:
        hit = "hit" if self.cache_hit else "executed"
        return f"RunResult(run_id={self.run.id!r}, {hit}, outputs={sorted(self.outputs)})"


def enc_hook(obj: Any) -> Any:
    """msgspec encoding hook for records: numpy scalars become plain numbers, paths strings.

    A year from ``np.arange`` or metadata from ``np.linspace`` reaches run records and
    cache entries as numpy scalars, which msgspec does not encode on its own.
    """
    item = getattr(obj, "item", None)
    if callable(item) and type(obj).__module__ == "numpy":
        return item()
    if isinstance(obj, PurePath):  # as in configs (values are checked where given; this is a safety net)
        return obj.as_posix()
    raise NotImplementedError(f"Encoding objects of type {type(obj).__qualname__} is unsupported")
