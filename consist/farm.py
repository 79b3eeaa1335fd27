"""The link farm: each source file seen through a hive-partitioned path of its provenance.

``<run_dir>/.consist/links/consist_scenario_id=<s>/consist_year=<y>/
consist_iteration=<i>/consist_run_id=<r>/consist_artifact_id=<a>/<file name>`` is a
relative symbolic link to the artifact's file (values percent-encoded, as DuckDB and
Polars read them). A provenance value that is null (no scenario, year or iteration) gets
no folder at all, so the usual path is one level shorter; readers group files by which
partitions their paths carry and add the missing columns as null constants. Reading a
list of such links with ``hive_partitioning`` gives the provenance columns as per-file
constants: a filter on them drops files before any is opened, and grouping by them costs
what grouping by any column costs, with no join.

Why short paths: DuckDB resolves the real path of every file it opens, twice per file
per query, at about a microsecond per path component; a link farm deep in folders costs
that on every query. So the farm sits directly under the metadata folder, a null value
adds no folder, and links are relative (resolving one walks the target's last two
components, not its whole absolute path; moving the run folder also keeps links valid).

A link is made once, atomically (made under a temporary name, then renamed), and never
changes: its path names the artifact and its context, and an artifact's file does not
move. Where links cannot be made (a file system without symbolic links, a value too long
for a file name) :meth:`LinkFarm.link` returns None and callers fall back to attaching
the provenance by other means. Links whose file was deleted dangle harmlessly; callers
list only sources whose file exists.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from consist.sources import PROVENANCE, Source

if TYPE_CHECKING:
    from consist.store import Layout

# Partition order: the usual filters first (a shallower tree to list).
HIVE_ORDER = ("consist_scenario_id", "consist_year", "consist_iteration", "consist_run_id", "consist_artifact_id")
NULL_VALUE = "__HIVE_DEFAULT_PARTITION__"


def _component(name: str, value: object) -> str:
    return f"{name}={quote(str(value), safe='')}"


def partitions(source: Source) -> tuple[str, ...]:
    """The provenance columns ``source``'s link path carries (those with a value), in path order."""
    values = source.provenance()
    return tuple(name for name in HIVE_ORDER if values[name] is not None)


def hive_types_sql(names: tuple[str, ...]) -> str:
    """The ``hive_types`` argument for DuckDB readers of links carrying partitions ``names``."""
    return "{" + ", ".join(f"'{name}': {PROVENANCE[name]}" for name in names) + "}"


class LinkFarm:
    """The link farm of one metadata folder.

    Parameters
    ----------
    layout
        The tracker's metadata folder; links live under ``links``.
    """

    def __init__(self, layout: Layout) -> None:
        self.root = layout.links
        self._made: dict[str, str] = {}

    def path(self, source: Source) -> Path:
        """Where ``source``'s link lives (whether or not it exists yet)."""
        values = source.provenance()
        parts = [_component(name, values[name]) for name in partitions(source)]
        return self.root.joinpath(*parts, os.path.basename(source.uri))

    def link(self, source: Source) -> str | None:
        """The path of a link to ``source``'s file, made if needed; None when it cannot be made."""
        if str(source.scenario_id) == NULL_VALUE or str(source.run_id) == NULL_VALUE:
            return None  # would read back as null
        path = self.path(source)
        key = str(path)
        if self._made.get(key) == source.uri:
            return key
        try:
            target = os.path.relpath(source.uri, path.parent)
            try:
                current = os.readlink(path)
            except FileNotFoundError:
                current = None
            if current != target:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
                os.symlink(target, tmp)
                os.replace(tmp, path)
        except (OSError, NotImplementedError, ValueError):
            return None
        self._made[key] = source.uri
        return key
