"""Per-format drivers: writing frames, loading and scanning files.

Owns the driver table (:mod:`~consist.artifacts.formats.drivers`), writing and converting
frames (:mod:`~consist.artifacts.formats.frames`), literal file names in globs
(:mod:`~consist.artifacts.formats.literal`) and xarray datasets
(:mod:`~consist.artifacts.formats.xarray_support`). A driver reads and writes bytes
only: it never hashes, records a run or touches the catalog, and imports its heavy
library (pandas, xarray, zarr) inside the function that needs it.
"""
