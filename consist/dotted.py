"""Nested mappings as dotted leaf keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``).

A leaf: config snapshots are flattened this way for facets, diffs and display.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(snapshot: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested config dicts into dotted leaf keys (``{"a": {"b": 1}}`` -> ``a.b``)."""
    out: dict[str, Any] = {}
    for key, value in snapshot.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
