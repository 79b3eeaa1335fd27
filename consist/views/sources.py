"""What feeds a cross-run view or scan: the artifacts of a key, each with its provenance.

A *source* is one artifact in one context: the output of a completed step run (scenario
runs, which only collect their steps' outputs, are left out) with that run's scenario,
year and iteration. A cache hit records the artifact it reused as its own output; it
adds a source only when it puts that artifact in a new (scenario, year, iteration)
context, so re-running a workflow never doubles rows while a scenario that reused
another's result still shows it. Within a context the producing run is named, else the
earliest run.

Sources come from the run records, ordered by scenario, year, iteration and run, so
that a filter on those columns selects a contiguous stretch of files; a listing is saved
beside the catalog for the next process while the record files stand as they were (see
:mod:`consist.views.saved_sources`). Filters on provenance columns are applied here,
before any data file is touched.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from consist.artifacts import coltypes
from consist.errors import ConfigError, SchemaConflictError
from consist.user_warnings import user_stacklevel
from consist.views import saved_sources

if TYPE_CHECKING:
    from pathlib import Path

    from consist.artifacts.schema_capture import FileSchema, SchemaStore
    from consist.views.state import ViewState

log = logging.getLogger("consist.views")

# The provenance columns every cross-run view and scan adds, with their DuckDB types.
PROVENANCE: dict[str, str] = {
    "consist_run_id": "VARCHAR",
    "consist_scenario_id": "VARCHAR",
    "consist_year": "BIGINT",
    "consist_artifact_id": "VARCHAR",
    "consist_iteration": "BIGINT",
}
# Keyword filters of tracker.scan(...) -> the source field they match.
FILTERS = {
    "run_id": "run_id",
    "scenario": "scenario_id",
    "scenario_id": "scenario_id",
    "year": "year",
    "iteration": "iteration",
    "artifact_id": "artifact_id",
}
_FACET_COLUMN = {bool: "value_bool", int: "value_num", float: "value_num", str: "value_str"}


class Source(NamedTuple):
    """One artifact in one run context (see the module docstring).

    A named tuple: a view over 100,000 runs makes 100,000 of them, and a tuple is made
    several times faster than a frozen dataclass.
    """

    artifact_id: str
    key: str
    uri: str
    hash: str
    driver: str
    run_id: str
    scenario_id: str | None
    year: int | None
    iteration: int | None
    meta_json: str | None = None

    @property
    def meta(self) -> dict[str, Any]:
        """The artifact's metadata (decoded on demand)."""
        if not self.meta_json:
            return {}
        try:
            value = msgspec.json.decode(self.meta_json)
        except msgspec.DecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    def provenance(self) -> dict[str, Any]:
        """The values of the provenance columns for this source."""
        return {
            "consist_run_id": self.run_id,
            "consist_scenario_id": self.scenario_id,
            "consist_year": self.year,
            "consist_artifact_id": self.artifact_id,
            "consist_iteration": self.iteration,
        }


def _values(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _in(column: str, values: list[Any], params: list[Any]) -> str:
    if not values:
        return "false"
    params.extend(values)
    return f"{column} IN ({', '.join('?' for _ in values)})"


def catalog_token(state: ViewState) -> tuple[Any, ...]:
    """A cheap version of the catalog (two ``listdir``): it changes whenever a run lands.

    Take it *before* reading the catalog: what is read is then at least as new as the
    token, so a cache keyed by it can only be conservative.
    """
    from consist.catalog.listing import names

    return names(state.layout)


def list_sources(state: ViewState, keys: Sequence[str], *, ignore_case: bool = False) -> list[Source]:
    """The sources of ``keys``, ordered by scenario, year, iteration, run and artifact.

    Results are cached per tracker (in its view state) until the catalog changes (:func:`catalog_token`).

    Parameters
    ----------
    keys
        Artifact keys to collect.
    ignore_case
        Match keys case-insensitively (schema views do; scans by key do not).
    """
    wanted = tuple(k.lower() for k in keys) if ignore_case else tuple(keys)
    cache = state.sources
    token = catalog_token(state)
    hit = cache.get((wanted, ignore_case))
    if hit is not None and hit[0] == token:
        return hit[1]
    params: list[Any] = []
    key_column = "lower(a.key)" if ignore_case else "a.key"
    # Straight over the records (not the public views): an artifact's fields as the run
    # that lists it recorded them, which a hit copies from its producer's record.
    sql = f"""
        SELECT a.id AS artifact_id, a.key AS key, a.uri AS uri, a.hash AS hash, a.driver AS driver,
               id AS run_id, parent_id AS scenario_id, year, iteration, a.meta AS meta, a.run_id AS producer
        FROM (SELECT id, parent_id, year, iteration, started_at, unnest(artifacts) AS a FROM _consist_records
              WHERE kind <> 'scenario' AND status = 'completed')
        WHERE a.direction = 'out' AND {_in(key_column, list(wanted), params)}
        QUALIFY row_number() OVER (PARTITION BY a.id, parent_id, year, iteration
                                   ORDER BY (id = a.run_id) DESC, started_at, id) = 1
        ORDER BY scenario_id NULLS FIRST, year NULLS FIRST, iteration NULLS FIRST, run_id, artifact_id"""
    table, identity = saved_sources.load(state.layout, sql, params)
    if table is None:
        catalog = state.catalog
        catalog.refresh()  # at least as new as the token and the identity, even in a held connection
        table = catalog.arrow(sql, params)
        if catalog.clean:
            saved_sources.save(state.layout, sql, params, identity, table)
    with no_gc():
        columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
        _rebase(state.run_dir, columns[2], columns[-1])
        sources = list(map(Source._make, zip(*columns[:-1])))
    cache[(wanted, ignore_case)] = (token, sources)
    return sources


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while making many objects that hold no cycles.

    Python runs a collection every 700 new container objects, each walking the young
    objects; making 100,000 sources otherwise spends more time collecting than making them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _rebase(run_dir: Path, uris: list[str], producers: list[str | None]) -> None:
    """Read each file from this tracker's copy of its run folder where that moved here (``uris`` in place).

    Records keep absolute paths; after the whole run folder was copied or moved (another
    machine, a renamed project), each file sits at the same place under its run's folder
    (see :mod:`consist.artifacts.relocate`).
    """
    from consist.mounts import is_mount_uri, resolve_uri
    from consist.artifacts.relocate import rebase_uri

    here = f"{run_dir}{os.sep}"
    absolute = os.path.isabs(here)  # then no path under it is a mount URI (scheme://)
    for number, (uri, producer) in enumerate(zip(uris, producers)):
        if absolute and uri.startswith(here):
            continue  # the common case, checked first: 100,000 sources
        if is_mount_uri(uri):  # inputs://... through this machine's mounts
            uri = str(resolve_uri(uri))
        if producer is not None and not uri.startswith(here):
            uri = rebase_uri(run_dir, uri, producer)
        uris[number] = uri


def select_sources(
    state: ViewState,
    sources: list[Source],
    filters: Mapping[str, Any] | None = None,
    facets: Mapping[str, Any] | None = None,
) -> list[Source]:
    """The sources matching every provenance filter and facet (no file is touched).

    Parameters
    ----------
    filters
        ``run_id``, ``scenario`` (or ``scenario_id``), ``year``, ``iteration`` or
        ``artifact_id``: a value or a list of values each; ``None`` is no filter.
    facets
        ``{facet key: value}`` equalities on the run of each source.
    """
    chosen = sources
    for name, value in (filters or {}).items():
        if name not in FILTERS:
            raise ConfigError(
                f"cannot filter a cross-run scan by {name!r}: provenance filters are "
                f"{', '.join(sorted(FILTERS))}; anything else is a facet (pass it as a keyword) "
                "or a column (filter the LazyFrame)."
            )
        if value is None:
            continue
        allowed = set(_values(value))
        field_name = FILTERS[name]
        chosen = [s for s in chosen if getattr(s, field_name) in allowed]
    if facets:
        runs = _runs_with_facets(state, facets)
        chosen = [s for s in chosen if s.run_id in runs]
    return chosen


def _runs_with_facets(state: ViewState, facets: Mapping[str, Any]) -> set[str]:
    params: list[Any] = []
    parts = []
    for key, value in facets.items():
        params.append(str(key))
        tests = []
        # A list matches any of its values, like the provenance filters.
        for item in _values(value):
            column = _FACET_COLUMN.get(type(item))
            if column is None:
                raise ConfigError(
                    f"facet filter {key}={value!r}: expected a bool, number or string value (or a list of them)."
                )
            params.append(item)
            tests.append(f"{column} = {'CAST(? AS DOUBLE)' if column == 'value_num' else '?'}")
        parts.append(f"SELECT run_id FROM facets WHERE key = ? AND ({' OR '.join(tests) or 'false'})")
    table = state.catalog.arrow(" INTERSECT ".join(parts), params)
    found = set(table.column("run_id").to_pylist())
    if not found:
        known = state.catalog.arrow("SELECT DISTINCT key FROM facets ORDER BY 1").column("key").to_pylist()
        unknown = [str(k) for k in facets if str(k) not in known]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], [*FILTERS, *known], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"no run has a facet named {unknown[0]!r}.{hint} Provenance filters are "
                f"{', '.join(sorted(FILTERS))}; other keywords match run facets."
            )
    return found


def known_keys(state: ViewState) -> list[str]:
    """Every output key in the catalog (for 'did you mean' hints)."""
    table = state.catalog.arrow("SELECT DISTINCT key FROM run_artifacts WHERE direction = 'out' ORDER BY 1")
    return table.column("key").to_pylist()


# -- cold files: presence and schemas ------------------------------------------------


def present(sources: Iterable[Source], what: str) -> list[Source]:
    """The sources whose file exists; each missing one is skipped with a warning naming it."""
    out = []
    for source in sources:
        if os.path.exists(source.uri):
            out.append(source)
        else:
            warnings.warn(
                f"{what}: skipping artifact {source.key!r} of run {source.run_id!r}: its file "
                f"{source.uri} is missing. Restore it with tracker.recover(artifact), or ingest "
                "artifacts (consist.ingest) so their rows outlive their files.",
                stacklevel=user_stacklevel(),
            )
    return out


def file_schemas(store: SchemaStore, sources: Iterable[Source], what: str) -> dict[str, FileSchema]:
    """Artifact id -> captured schema; files that vanish meanwhile are skipped with a warning."""
    out: dict[str, FileSchema] = {}
    for source in sources:
        if source.artifact_id in out:
            continue
        try:
            out[source.artifact_id] = store.of(source.uri, source.driver, source.hash, source.meta)
        except FileNotFoundError:
            present([source], what)
    return out


def unify(
    schemas: Mapping[str, dict[str, str]],
    declared: Mapping[str, str | None] | None,
    what: str,
) -> dict[str, str | None]:
    """The columns (name -> DuckDB type) of a view or scan over files of ``schemas``.

    ``schemas`` maps a label (a file path, or an ingested table) to its columns. With
    ``declared`` columns (a registered schema), those are the result, and each file's
    column must fit its declared type (a declared type of None keeps the files' own).
    Without, the result is the union of all columns in first-seen order, each of the
    combined type of its files (see :mod:`consist.artifacts.coltypes`).

    Raises
    ------
    SchemaConflictError
        Two files, or a file and the declaration, disagree on a column's type; the
        message names both and the column.
    """
    if declared is not None:
        for label, columns in schemas.items():
            for name, want in declared.items():
                have = columns.get(name)
                if have is not None and want is not None and not coltypes.fits(have, want):
                    agree = next((lb for lb, c in schemas.items() if name in c and coltypes.fits(c[name], want)), None)
                    other = f" but {schemas[agree][name]} in {agree}" if agree else ""
                    raise SchemaConflictError(
                        f"{what}: column {name!r} is {have} in {label}{other}, and the schema declares it {want}. "
                        "Fix the declaration (e.g. a str field for text), or rewrite that file with the declared type."
                    )
        out: dict[str, str | None] = dict(declared)
        for name, want in declared.items():
            if want is None:
                out[name] = _combined(name, {lb: c[name] for lb, c in schemas.items() if name in c}, what)
        return out
    by_column: dict[str, dict[str, str]] = {}
    for label, columns in schemas.items():
        for name, sql_type in columns.items():
            by_column.setdefault(name, {})[label] = sql_type
    return {name: _combined(name, types, what) for name, types in by_column.items()}


def _combined(name: str, types: dict[str, str], what: str) -> str | None:
    if not types:
        return None
    clash = coltypes.conflict(types)
    if clash is not None:
        first, second = clash
        raise SchemaConflictError(
            f"{what}: column {name!r} is {types[first]} in {first} but {types[second]} in {second}; "
            "these types do not combine (numbers widen, text does not become a number). Rewrite one "
            "file with a matching type, or filter to runs that agree (e.g. run_id=...)."
        )
    return coltypes.combine(list(types.values()))


def check_columns(columns: Iterable[str], what: str) -> None:
    """Refuse data columns that would shadow a provenance column."""
    clash = sorted(set(columns) & set(PROVENANCE))
    if clash:
        raise ConfigError(
            f"{what}: data column(s) {', '.join(clash)} collide with consist's provenance columns; "
            "rename them in the data or the schema."
        )
