"""What the views layer keeps per tracker, in one object the tracker owns.

The cross-run views (``tracker.views``), scans, the hot store and their caches read a
tracker's metadata folder, record store and query connection, and keep per-tracker
state (the query connection, the views namespace, the link farm, the schema store,
cached source listings).
:class:`ViewState` holds all of it, so no module stores private state on the tracker.
Each module that creates one of these things caches it here itself; this module
imports nothing of the views layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consist.artifacts.layout import Layout
    from consist.artifacts.schema_capture import SchemaStore
    from consist.catalog.reader import LiveCatalog
    from consist.catalog.records import RecordStore


@dataclass(eq=False)
class ViewState:
    """One tracker's views-layer state (see the module docs)."""

    layout: Layout
    db_path: Path
    run_dir: Path
    schemas: list[type]
    records: RecordStore
    live_catalog: LiveCatalog | None = None  # the tracker's query connection, created on first use
    sources: dict[Any, Any] = field(default_factory=dict)  # list_sources' cache, by keys
    # Made and kept by the modules that own them (typed loosely: this module imports none of them).
    hot_store: Any = None  # consist.views.hot.HotStore
    link_farm: Any = None  # consist.views.farm.LinkFarm
    schema_store: SchemaStore | None = None
    views: Any = None  # consist.views.namespace.Views
    fold_store: Any = None  # consist.views.folds.FoldStore

    @property
    def catalog(self) -> LiveCatalog:
        """The tracker's query connection to the catalog (created on first use)."""
        if self.live_catalog is None:
            from consist.catalog.database import ensure_database
            from consist.catalog.reader import LiveCatalog

            ensure_database(self.db_path, self.layout)
            self.live_catalog = LiveCatalog(self.layout)
        return self.live_catalog
