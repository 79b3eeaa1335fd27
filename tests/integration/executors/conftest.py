"""Real engines for the map tests, started once per session and stopped at its end.

A Dask ``LocalCluster`` of two single-threaded worker processes and a two-CPU Ray
instance, both bound to 127.0.0.1. Workers import the step functions of
``tests.helpers.sweep_steps`` (and consist itself) from this checkout: its root goes on PYTHONPATH.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[3])


@pytest.fixture(scope="session")
def worker_path() -> Iterator[None]:
    """This checkout first on the PYTHONPATH that worker processes inherit."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([ROOT, *([before] if before else [])])
    yield
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before


@pytest.fixture(scope="session")
def dask_client(worker_path: None) -> Iterator[object]:
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed (pip install 'consist[dask]')")
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="session")
def ray_session(worker_path: None) -> Iterator[object]:
    # Read when ray is imported: a single-machine Ray then binds every server to loopback
    # (otherwise they listen on all interfaces under the machine's own address).
    before = os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'consist[ray]')")
    ray.init(
        num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
        log_to_driver=False, configure_logging=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()
        if before is None:
            os.environ.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
        else:
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = before


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """The file each execution of a sweep step appends a line to."""
    return tmp_path / "executions.log"


@pytest.fixture
def marks(tmp_path: Path) -> str:
    """A folder sweep steps leave marks in (a worker killed once, a config tried)."""
    folder = tmp_path / "marks"
    folder.mkdir()
    return str(folder)
