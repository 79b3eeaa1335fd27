"""HTML renderings for notebooks (``_repr_html_``) of runs, artifacts and results.

Pure string building: every value is escaped, nothing is read from disk.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterable, Sequence
from typing import Any

_STYLE = (
    "<style>.consist-t{border-collapse:collapse;font-size:12px}"
    ".consist-t td,.consist-t th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}"
    ".consist-t th{background:#f4f4f4}.consist-h{font-weight:600;margin:4px 0}</style>"
)


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def human_size(n: int | None) -> str:
    """``1536`` -> ``1.5 KiB``."""
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def when(ts: float | _dt.datetime | None) -> str:
    """A moment (epoch seconds or a datetime) as local ``YYYY-MM-DD HH:MM:SS``."""
    if not ts:
        return ""
    moment = ts.astimezone() if isinstance(ts, _dt.datetime) else _dt.datetime.fromtimestamp(ts)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> str:
    """An escaped HTML table with an optional heading."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    caption = f"<div class='consist-h'>{esc(title)}</div>" if title else ""
    return f"{_STYLE}{caption}<table class='consist-t'><tr>{head}</tr>{body}</table>"


def artifact_rows(artifacts: Iterable[Any]) -> list[list[Any]]:
    return [[a.key, a.driver, human_size(a.size), a.hash[:12], a.run_id or "(raw)", a.uri] for a in artifacts]


ARTIFACT_HEADERS = ("key", "driver", "size", "hash", "run", "path")


def artifact_html(artifact: Any) -> str:
    rows = [
        ("key", artifact.key),
        ("path", artifact.uri),
        ("driver", artifact.driver + (f" ({artifact.frame_kind})" if artifact.frame_kind else "")),
        ("size", human_size(artifact.size)),
        ("hash", artifact.hash),
        ("produced by", artifact.run_id or "(raw input)"),
    ]
    rows += [(f"meta.{k}", v) for k, v in sorted(artifact.meta.items())]
    return table(("field", "value"), rows, title=f"Artifact {artifact.key}")


def run_html(run: Any) -> str:
    outcome = f"hit (reused {run.reused_run_id})" if run.cache_hit else run.status
    fields = [
        ("id", run.id),
        ("step", run.name),
        ("model", run.model),
        ("scenario", run.parent_id),
        ("year", run.year),
        ("outcome", outcome),
        ("why it ran", run.miss_reason),
        ("error", run.error),
        ("started", when(run.started_at)),
        ("duration", f"{run.duration_s:.3f} s"),
        ("signature", run.signature[:16]),
    ]
    parts = [table(("field", "value"), [f for f in fields if f[1] not in (None, "")], title=f"Run {run.id}")]
    if run.config:
        from consist.dotted import flatten

        parts.append(table(("config", "value"), sorted(flatten(run.config).items()), title="Config"))
    if run.inputs:
        parts.append(table(ARTIFACT_HEADERS, artifact_rows(run.inputs), title="Inputs"))
    if run.outputs:
        parts.append(table(ARTIFACT_HEADERS, artifact_rows(run.outputs), title="Outputs"))
    return "".join(parts)


def result_html(result: Any) -> str:
    status = "cache hit" if result.cache_hit else "executed"
    head = table(("run", "step", "outcome"), [[result.run.id, result.run.name, status]], title="RunResult")
    return head + table(ARTIFACT_HEADERS, artifact_rows(result.outputs.values()), title="Outputs")


def run_artifacts_html(run_id: str, inputs: dict[str, Any], outputs: dict[str, Any]) -> str:
    """A run's artifacts (``tracker.get_artifacts_for_run``): inputs, then outputs, by key."""
    parts = [table(("run",), [[run_id]], title="Artifacts of run")]
    for title, artifacts in (("Inputs", inputs), ("Outputs", outputs)):
        rows = [[key, *row[1:]] for key, row in zip(artifacts, artifact_rows(artifacts.values()))]
        parts.append(table(ARTIFACT_HEADERS, rows, title=title) if rows else table((title.lower(),), [["(none)"]]))
    return "".join(parts)


def runs_html(runs: Sequence[Any], title: str = "Runs", keys: Sequence[Any] | None = None) -> str:
    """Runs one per row; ``keys`` adds a first column (the keys of ``find_runs(index_by=...)``)."""
    rows = [
        [r.id, r.name, r.parent_id, r.year, "hit" if r.cache_hit else r.status, when(r.started_at), f"{r.duration_s:.3f}"]
        for r in runs
    ]
    headers = ("id", "step", "scenario", "year", "outcome", "started", "seconds")
    if keys is not None:
        headers, rows = ("key", *headers), [[key, *row] for key, row in zip(keys, rows)]
    return table(headers, rows, title=title)


def scenario_html(scenario: Any, step_runs: Sequence[tuple[str, Any]]) -> str:
    """A scenario: its state, its steps (``(run id, its record or None)``, one row each) and the coupler's artifacts."""
    fields = [
        ("name", scenario.name),
        ("status", scenario.status),
        ("record id", scenario.run_id),
        ("model", scenario.model if scenario.model != "scenario" else None),
        ("parent scenario", scenario.parent_id),
        ("steps", len(scenario.steps)),
        ("failed steps", ", ".join(scenario.failed_steps)),
    ]
    parts = [table(("field", "value"), [f for f in fields if f[1] not in (None, "")], title=f"Scenario {scenario.name}")]
    if step_runs:
        rows = []
        for run_id, run in step_runs:
            if run is None:
                rows.append([run_id, "", "", "", ""])
                continue
            outcome = f"hit (reused {run.reused_run_id})" if run.cache_hit else run.status
            rows.append([run.id, run.name, run.year, outcome, f"{run.duration_s:.3f}"])
        parts.append(table(("run", "step", "year", "outcome", "seconds"), rows, title="Steps"))
    artifacts = list(scenario.coupler.values())
    if artifacts:
        parts.append(table(ARTIFACT_HEADERS, artifact_rows(artifacts), title="Coupler"))
    return "".join(parts)
