"""Container-step helpers: a data folder to mount, a count of container executions, a typical step."""

from __future__ import annotations

from pathlib import Path


def make_data(root: Path) -> Path:
    """``root/data/{inputs,outputs}`` with one input file; returns ``root/data``."""
    data = root / "data"
    (data / "inputs").mkdir(parents=True)
    (data / "outputs").mkdir()
    (data / "inputs" / "input.csv").write_text("zone,pop\n1,100\n2,250\n")
    return data


def runs(data: Path) -> int:
    """How many containers ran against this data folder (each appends to ``outputs/runs.log``)."""
    log = data / "outputs" / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def container_step(tracker, data: Path, *, script: str, **overrides):
    """A typical container step over ``data`` running ``sh -c script``; keywords (``run_id``,
    ``image`` and any of ``run_container``'s) set or replace its parts."""
    from consist.integrations.containers import run_container

    options = {
        "tracker": tracker,
        "command": ["sh", "-c", script],
        "volumes": {str(data / "inputs"): "/inputs", str(data / "outputs"): "/outputs"},
        "inputs": [data / "inputs" / "input.csv"],
        "outputs": {"results": data / "outputs" / "results.csv"},
    }
    options.update(overrides)
    return run_container(**options)
