"""Plain-text output for the ``consist`` command: aligned tables, sizes, times, durations.

Pure functions over strings and numbers (no catalog access, no heavy imports), so the
command stays fast to start and every rendering is easy to test.
"""

from __future__ import annotations

import datetime as _dt
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from consist.display.html import human_size, when

__all__ = [
    "cell", "human_size", "iso_times", "key_values", "parse_age", "seconds", "shown_path", "terminal_width",
    "text_table", "when",
]  # fmt: skip

_ELLIPSIS = "…"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def seconds(value: float | None) -> str:
    """A duration for people: ``0.012 s``, ``4.2 s``, ``3m 05s``, ``2h 01m``."""
    if value is None:
        return ""
    if value < 10:
        return f"{value:.3f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def parse_age(text: str, now: float) -> float:
    """The Unix time ``text`` points at: an age (``30d``, ``12h``, ``2w``, ``90m``, ``45s``)
    before ``now``, or an ISO date/time (``2026-01-31``, ``2026-01-31T12:00``).

    Raises
    ------
    ValueError
        ``text`` is neither (the message says what is accepted).
    """
    match = _DURATION.match(text)
    if match:
        return now - float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    try:
        return _dt.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an age (such as 30d, 12h, 2w, 90m) nor a date (such as 2026-01-31)"
        ) from None


def cell(value: Any) -> str:
    """How one value shows in a table: None empty, floats short, lists comma-joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        short = f"{value:.6g}"
        # A whole float keeps its point: configs tell 1.0 from 1 (they digest differently).
        return short if any(c in short for c in ".enai") else short + ".0"
    if isinstance(value, _dt.datetime):
        return when(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    text = str(value)
    # One row per line: a newline inside a cell would break the alignment.
    return text.replace("\r", " ").replace("\n", " ")


def _clip(text: str, width: int, *, left: bool = False) -> str:
    if len(text) <= width:
        return text
    if left:  # a path keeps its end: the file name and the folders nearest it
        return _ELLIPSIS + text[len(text) - max(0, width - 1) :]
    return text[: max(0, width - 1)] + _ELLIPSIS


# Columns never clipped: run and artifact ids are what users paste into other commands.
_WHOLE = ("id", "run", "run id", "produced by", "reused", "scenario id")
_PATHS = ("path", "uri", "file")


def _kept(header: str) -> bool:
    name = header.lower().replace("_", " ")
    return name in _WHOLE or name.endswith(" id")


def _numeric(values: Iterable[Any]) -> bool:
    seen = False
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        seen = True
    return seen


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    width: int | None = None,
    right: Sequence[bool] | None = None,
) -> str:
    """Rows as aligned columns under upper-case headers, fitted to ``width`` characters.

    Numeric columns are right-aligned. When the table is wider than ``width`` (default:
    the terminal's width, or unlimited when not a terminal) the widest columns are
    clipped with an ellipsis, never below 8 characters; paths lose their start, other
    text its end. Id columns (``id``, ``run``, ``produced by``, ``..._id``) are never
    clipped: a cut id cannot be pasted into ``consist show``.
    """
    texts = [[cell(v) for v in row] for row in rows]
    if right is None:
        right = [_numeric(row[i] for row in rows) for i in range(len(headers))]
    widths = [len(h) for h in headers]
    for row in texts:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    limit = width if width is not None else terminal_width()
    if limit:
        gap = 2 * (len(widths) - 1)
        clippable = [i for i, h in enumerate(headers) if not _kept(h)]
        while sum(widths) + gap > limit:
            widest = max(clippable, key=lambda i: widths[i], default=None)
            if widest is None or widths[widest] <= 8:
                break
            widths[widest] -= 1
    paths = [h.lower() in _PATHS for h in headers]

    def line(values: Sequence[str]) -> str:
        parts = []
        for i, text in enumerate(values):
            text = _clip(text, widths[i], left=paths[i])
            parts.append(text.rjust(widths[i]) if right[i] else text.ljust(widths[i]))
        return "  ".join(parts).rstrip()

    out = [line([h.upper() for h in headers])]
    out += [line(row) for row in texts]
    return "\n".join(out)


def key_values(pairs: Iterable[tuple[str, Any]], indent: int = 0) -> str:
    """``key  value`` lines with the values aligned; pairs whose value is empty are left out."""
    kept = [(k, cell(v)) for k, v in pairs if v not in (None, "", [], {})]
    if not kept:
        return ""
    pad = max(len(k) for k, _ in kept)
    return "\n".join(f"{' ' * indent}{k.ljust(pad)}  {v}" for k, v in kept)


def terminal_width() -> int | None:
    """Columns of the terminal on stdout, or None when stdout is not a terminal."""
    import sys

    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size((120, 24)).columns


_TIME_FIELDS = ("started_at", "ended_at", "created_at")


def iso_times(record: dict[str, Any]) -> dict[str, Any]:
    """A decoded run record with its epoch-second times as ISO 8601 strings (config untouched)."""

    def iso(item: dict[str, Any]) -> dict[str, Any]:
        return {
            k: _dt.datetime.fromtimestamp(v).astimezone().isoformat() if k in _TIME_FIELDS and isinstance(v, float) else v
            for k, v in item.items()
        }

    out = iso(record)
    for field in ("inputs", "outputs", "artifacts"):
        if isinstance(out.get(field), list):
            out[field] = [iso(a) if isinstance(a, dict) else a for a in out[field]]
    return out


def shown_path(uri: str, run_dir: Path) -> str:
    """A path for a table: relative to the run folder when inside it, else to the working folder, else as is."""
    path = Path(uri)
    for base in (run_dir, Path.cwd()):
        try:
            return str(path.relative_to(base.resolve()))
        except (ValueError, OSError):
            continue
    return uri
