"""Floor 5: cross-run data: hybrid views, scans, the hot store, ingestion, schema stubs.

Owns ``tracker.views`` (:mod:`~consist.views.namespace`), the SQL of a view, the views
written into the catalog file, Polars scans across runs, the hot (ingested) database
and exporting SQLModel stubs. Per-tracker state lives in a
:class:`~consist.views.state.ViewState` the tracker owns. It reads the catalog and the
artifacts below it and never imports the ``Tracker`` or the engine's step path.
"""
