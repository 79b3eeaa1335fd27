"""Floor 6: the bytes: artifacts made from files and frames, formats, the metadata folder layout.

Owns making an :class:`~consist.models.Artifact` from a file or a frame
(:mod:`~consist.artifacts.files`), the per-format drivers (:mod:`~consist.artifacts.formats`),
captured file schemas and column types, relocating records to a moved run folder, and
where everything lives under ``.consist`` (:mod:`~consist.artifacts.layout`). It never
reads or writes run records, and imports nothing above it.
"""
