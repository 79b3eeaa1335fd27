"""Shared fixtures: a fresh tracker in a temporary folder, a small raw CSV, and a real Docker engine.

``docker_engine`` yields a real Docker engine's client, or skips saying why there is none; a
container test module uses ``pytestmark = pytest.mark.usefixtures("docker_engine")`` to skip
as a whole when no engine answers. The test images ``consist-test/busybox:1`` and ``:2`` are
made by ``scripts/start-docker.sh``; when the engine answers but they are missing, the fixture
runs that script once (it only imports images then).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from consist import Tracker


@pytest.fixture
def tracker(tmp_path: Path) -> Tracker:
    return Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb")


@pytest.fixture
def raw_csv(tmp_path: Path) -> Path:
    path = tmp_path / "raw.csv"
    path.write_text("value,category\n0.1,a\n0.7,b\n0.9,a\n0.6,b\n0.95,c\n")
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test with the temporary folder as working directory (as the guide's relative paths expect)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


TEST_IMAGES = ("consist-test/busybox:1", "consist-test/busybox:2")
START_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "start-docker.sh"


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
