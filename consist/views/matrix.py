"""Cross-run stacks of N-dimensional artifacts: ``tracker.load_matrix("skims", scenario=...)``.

One Zarr artifact per run (chosen in the catalog, like the sources of a cross-run scan,
before any store is opened) becomes one slice of a new ``run`` dimension, labelled by
``run_id``, ``scenario`` and ``year`` coordinates. Each store is opened lazily (see
:mod:`consist.artifacts.formats.xarray_support`), so building the stack reads metadata only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.artifacts.formats.xarray_support import open_dataset, require_xarray
from consist.errors import ArtifactNotFoundError, ConfigError
from consist.views.sources import FILTERS, list_sources, present, select_sources

if TYPE_CHECKING:
    from consist.views.state import ViewState


def load_matrix(state: ViewState, key: str, **filters: Any) -> Any:
    """One Zarr artifact of ``key`` per run, stacked lazily along a new ``run`` dimension.

    Parameters
    ----------
    state
        The views state of the tracker whose catalog is searched.
    key
        The output key of the N-d artifact.
    **filters
        ``scenario``, ``year``, ``run_id``, ``iteration`` (a value or a list) and facets,
        as for :meth:`Tracker.scan`: runs are chosen in the catalog before any store is opened.

    Returns
    -------
    xarray.Dataset
        Its ``run`` dimension has the coordinates ``run_id``, ``scenario`` and ``year``.
        Only metadata is read: the arrays are dask arrays over each run's store.
    """
    xr = require_xarray("tracker.load_matrix")
    provenance = {k: v for k, v in filters.items() if k in FILTERS}
    facets = {k: v for k, v in filters.items() if k not in FILTERS}
    sources = select_sources(state, list_sources(state, [key]), provenance, facets)
    others = sorted({s.driver for s in sources if s.driver != "zarr"})
    if others:
        raise ConfigError(
            f"load_matrix({key!r}) stacks Zarr stores, but artifacts of {key!r} are {', '.join(others)}; "
            "use tracker.scan for tables."
        )
    sources = present(sources, f"load_matrix({key!r})")
    if not sources:
        raise ArtifactNotFoundError(
            f"no completed run has a Zarr output {key!r}{' matching ' + repr(filters) if filters else ''}; "
            "check the key and the filters (tracker.find_runs() lists the runs)."
        )
    datasets = [open_dataset(Path(s.uri)) for s in sources]
    # Nothing compared or computed: each run's variables become one slice of the stack.
    stacked = xr.concat(datasets, dim="run", data_vars="all", coords="minimal", compat="override", join="outer")
    return stacked.assign_coords(
        run_id=("run", [s.run_id for s in sources]),
        scenario=("run", [s.scenario_id for s in sources]),
        year=("run", [s.year for s in sources]),
    )
