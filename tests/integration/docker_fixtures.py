"""The ``docker_engine`` fixture: a real Docker engine, or a skip saying why there is none.

Import it into a test module (``from docker_fixtures import docker_engine``) and use
``pytestmark = pytest.mark.usefixtures("docker_engine")`` to skip the whole module
when no engine answers. The test images ``consist-test/busybox:1`` and ``:2`` are
made by ``scripts/start-docker.sh``; when the engine answers but they are missing,
the fixture runs that script once (it only imports images then).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

TEST_IMAGES = ("consist-test/busybox:1", "consist-test/busybox:2")
START_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "start-docker.sh"


def _missing_images(api) -> list[str]:
    import docker

    missing = []
    for tag in TEST_IMAGES:
        try:
            api.images.get(tag)
        except docker.errors.ImageNotFound:
            missing.append(tag)
    return missing


@pytest.fixture(scope="session")
def docker_engine():
    """Yield the shared docker client; skip if no engine answers."""
    pytest.importorskip("docker", reason="the `docker` Python package is not installed")
    from consist.executors import _docker_engine as engine

    engine.reset_client()
    try:
        api = engine.client()
    except engine.EngineUnavailableError as exc:
        pytest.skip(f"no Docker engine: {exc}")
    if _missing_images(api):
        done = subprocess.run(
            ["bash", str(START_SCRIPT)], capture_output=True, text=True, timeout=600
        )
        missing = _missing_images(api)
        if missing:
            pytest.fail(
                f"test images {missing} are missing and {START_SCRIPT.name} could not "
                f"import them (exit {done.returncode}):\n{engine.tail(done.stderr)}"
            )
    yield api
    engine.reset_client()


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
