"""Naming one file to a reader literally, never as a glob pattern.

DuckDB and Polars expand ``*``, ``?``, ``[...]`` (and ``**``) in the paths they are
given, so a file named ``raw[1].csv`` would be read as the pattern matching
``raw1.csv``, and an output keyed ``?`` as every one-character name beside it. Polars
readers take ``glob=False``; DuckDB has no such switch, so its paths are escaped here
(each special character as a one-character class, ``[`` -> ``[[]``), which matches
exactly the one file. Directory parts are escaped too: a run folder may be named
``runs[2030]``.
"""

from __future__ import annotations

import os

_GLOB = frozenset("*?[]")


def has_glob(path: str) -> bool:
    """Whether DuckDB would take ``path`` for a pattern."""
    return any(c in _GLOB for c in path)


def glob_escape(path: str | os.PathLike[str]) -> str:
    """``path`` as a DuckDB glob matching only itself (unchanged when it has no special character)."""
    text = os.fspath(path)
    if not has_glob(text):
        return text
    return "".join(f"[{c}]" if c in _GLOB else c for c in text)


def sql_path(path: str | os.PathLike[str]) -> str:
    """``path`` as a SQL string literal that DuckDB reads as exactly that file."""
    return "'" + glob_escape(path).replace("'", "''") + "'"


def sql_pattern(folder: str | os.PathLike[str], pattern: str) -> str:
    """A SQL string literal of the glob ``pattern`` inside the literal ``folder``."""
    return "'" + (glob_escape(folder) + "/" + pattern).replace("'", "''") + "'"
