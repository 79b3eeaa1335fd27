"""Floor 6: the facts: run records, the cache index, segments, the DuckDB catalog, queries.

Owns appending and reading run records (:mod:`~consist.catalog.records`, the codec in
:mod:`~consist.catalog.codec`, the per-process journals in :mod:`~consist.catalog.journal`), compaction into Parquet segments, the signature index
that serves cache hits, the DuckDB catalog file and the in-process query connection,
and queries over them (runs, lineage, facets, SQL). It never builds an artifact path
or hashes a file, and imports nothing above it.
"""
