"""Ingestion's front door: ``consist.ingest(artifact)``, and ghost artifacts.

``ingest`` copies an artifact's rows, with the provenance of the run that produced it,
into the hot database of the tracker's metadata folder (:mod:`consist.views.hot`, which also
says where that lives and how processes share it). Views and scans then serve the
artifact from those rows and never from its file as well.

Ghost mode
    When an ingested artifact's file is deleted, :func:`load_ghost` serves
    ``consist.load``/``consist.scan`` from the hot rows. The hot store is found from the
    tracker in use, the stores this process has used, or the metadata folder next to the
    artifact's path, so a ghost also loads in a new process with no tracker.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from consist.errors import ConfigError
from consist.models import Artifact
from consist.views.hot import INGESTIBLE, HotStore, IngestRecord

if TYPE_CHECKING:
    from consist.artifacts.layout import Layout
    from consist.views.state import ViewState

_stores: dict[str, HotStore] = {}
_stores_lock = threading.Lock()


def hot_store(state: ViewState) -> HotStore:
    """The hot store of a tracker's metadata folder (shared within the process)."""
    if state.hot_store is None:  # every query asks: resolve the path once
        state.hot_store = _store_for(state.layout)
    return state.hot_store


def _store_for(layout: Layout) -> HotStore:
    key = str(layout.root.resolve())
    with _stores_lock:
        store = _stores.get(key)
    if store is None:
        store = HotStore(layout)
        with _stores_lock:
            store = _stores.setdefault(key, store)
    return store


def ingest(state: ViewState, artifacts: Artifact | Iterable[Artifact]) -> IngestRecord | list[IngestRecord]:
    """Copy artifacts' rows into the hot database with their provenance columns.

    Parameters
    ----------
    state
        The views state of the tracker whose catalog the artifacts belong to.
    artifacts
        An :class:`Artifact` (e.g. ``result.outputs["persons"]``), or several.

    Returns
    -------
    IngestRecord or list of IngestRecord
        One per artifact (ingesting an artifact again returns its first record).

    Raises
    ------
    ArtifactNotFoundError
        An artifact's file is missing.
    SchemaConflictError
        A column's type conflicts with the same column of earlier artifacts of the key.
    """
    single = isinstance(artifacts, Artifact)
    items = [artifacts] if single else list(artifacts)
    for item in items:
        if not isinstance(item, Artifact):
            raise ConfigError(f"ingest() takes Artifacts (e.g. result.outputs['persons']); got a {type(item).__name__}.")
        if item.driver not in INGESTIBLE:
            raise ConfigError(
                f"cannot ingest {item.key!r}: driver {item.driver!r} is not tabular (ingestible: {', '.join(INGESTIBLE)})."
            )
    store = hot_store(state)
    out = [store.ingest(item, _provenance(state, item)) for item in items]
    return out[0] if single else out


def _provenance(state: ViewState, artifact: Artifact) -> dict[str, Any]:
    run = state.records.get(artifact.run_id) if artifact.run_id else None
    return {
        "consist_run_id": artifact.run_id,
        "consist_scenario_id": run.parent_id if run else None,
        "consist_year": run.year if run else None,
        "consist_artifact_id": artifact.id,
        "consist_iteration": run.iteration if run else None,
    }


def ghost_record(artifact: Artifact, state: ViewState | None = None) -> tuple[HotStore, IngestRecord] | None:
    """The hot store holding ``artifact``'s rows, and its record, or None when never ingested.

    Looks in the store of ``state`` (a tracker's), the stores this process has used, and the metadata
    folders next to the artifact's path (``<run_dir>/<run_id>/<file>``), so a ghost
    loads in a fresh process too.
    """
    candidates: list[HotStore] = []
    if state is not None:
        candidates.append(hot_store(state))
    with _stores_lock:
        candidates.extend(_stores.values())
    for store in candidates:
        found = store.record(artifact.id)
        if found is not None:
            return store, found
    from consist.artifacts.layout import Layout

    for parent in list(artifact.path.parents)[:4]:
        layout = Layout(parent / ".consist")
        if (layout.hot / "ingested" / f"{artifact.id}.json").exists():
            store = _store_for(layout)
            found = store.record(artifact.id)
            if found is not None:
                return store, found
    return None


def load_ghost(
    artifact: Artifact, as_: str | None = None, *, lazy: bool = False, state: ViewState | None = None
) -> Any:
    """An ingested artifact's rows (its file is gone) as the kind it was logged, or None.

    ``as_`` chooses the kind like :func:`consist.load`; ``lazy`` gives a LazyFrame;
    ``state`` is the views state of the tracker to look in first.
    """
    from consist.artifacts.formats.frames import LOAD_KINDS, from_arrow

    if as_ is not None and as_ not in LOAD_KINDS and as_ != "path":
        raise ConfigError(f"as_={as_!r} is not a frame kind; expected one of {', '.join(LOAD_KINDS)} or 'path'.")
    found = ghost_record(artifact, state)
    if found is None:
        return None
    store, record = found
    if as_ == "path":
        return None  # there is no file to point at: the caller reports it missing
    table = _restore_schema(store.read(record), record.arrow_schema)
    if lazy:
        as_ = "lazy"
    return from_arrow(table, as_ or record.frame_kind or artifact.frame_kind or "polars")


def _restore_schema(table: Any, schema_bytes: bytes | None) -> Any:
    # The hot table holds plain SQL types: cast back to the file's Arrow schema so that
    # a ghost gives back what was stored (index, nullable dtypes, categoricals, zones).
    if not schema_bytes:
        return table
    import pyarrow as pa

    schema = pa.ipc.read_schema(pa.py_buffer(schema_bytes))
    if schema.names != table.column_names:
        return table
    try:
        columns = [_restore_column(table.column(i), field) for i, field in enumerate(schema)]
        fields = [_without_dictionary(field) for field in schema]
        return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=schema.metadata))
    except (pa.ArrowException, ValueError, TypeError):
        return table  # a type the hot table changed beyond a cast: rows as they are


def _without_dictionary(field: Any) -> Any:
    from consist.views.hot import DICTIONARY_META

    meta = field.metadata or {}
    if DICTIONARY_META not in meta:
        return field
    rest = {k: v for k, v in meta.items() if k != DICTIONARY_META}
    return field.with_metadata(rest) if rest else field.remove_metadata()


def _dictionary_of(field: Any) -> list[Any] | None:
    import msgspec

    from consist.views.hot import DICTIONARY_META

    raw = (field.metadata or {}).get(DICTIONARY_META)
    return None if raw is None else msgspec.json.decode(raw)


def _restore_column(column: Any, field: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    values = _dictionary_of(field)
    if values is None:
        return column.cast(field.type)
    # Rebuild the dictionary with its recorded values in their order (a cast would
    # order them by first appearance, reordering an ordered categorical's categories).
    kind = field.type
    dictionary = pa.array(values, type=kind.value_type)
    plain = column.cast(kind.value_type).combine_chunks()
    indices = pc.index_in(plain, value_set=dictionary).cast(kind.index_type)
    return pa.DictionaryArray.from_arrays(indices, dictionary, ordered=kind.ordered)
