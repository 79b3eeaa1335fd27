"""Several configs in one engine task: each stays its own step (outcome, retry, cache entry).

Batches are fixed with ``batch_size=`` where a test needs to know which configs travel
together; ``"auto"`` (the default) is checked to send fewer tasks than configs. Executions
are counted with a file each execution appends to; Dask's own task stream counts tasks.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import ConfigError
from consist.executors import RayExecutor
from tests.helpers import sweep_steps
from tests.helpers.sweep_steps import executions

N = 40


def configs(n: int = N, **extra: object) -> list[dict]:
    return [{"i": i, **extra} for i in range(n)]


def dask_tasks(client: object, action: object) -> tuple[object, int]:
    """``action()``'s value and the number of tasks the Dask cluster ran meanwhile."""
    from distributed import get_task_stream

    with get_task_stream(client) as stream:
        value = action()
    return value, len(stream.data)


@pytest.mark.parametrize(("batch_size", "expected_tasks"), [(5, N // 5), (1, N)])
def test_fixed_batches_send_that_many_configs_a_task(tracker, log, dask_client, batch_size, expected_tasks):
    """Each config of a batch is recorded once, in order; a second map ships nothing."""
    run = lambda: tracker.map(sweep_steps.simulate, configs(), outputs=["table"], executor=dask_client,  # noqa: E731
                              batch_size=batch_size, runtime_kwargs={"log": str(log)})
    batch, tasks = dask_tasks(dask_client, run)
    again = run()
    assert tasks == expected_tasks
    assert (batch.executed, batch.shipped, again.shipped, again.hits) == (N, N, 0, N)
    assert sorted(executions(log)) == list(range(N))
    assert [consist.load(r.outputs["table"])["i"][0] for r in batch.results] == list(range(N))
    assert [r.run_id for r in again.results] != [r.run_id for r in batch.results]
    assert [r.run.reused_run_id for r in again.results] == [r.run_id for r in batch.results]


def test_automatic_batches_send_fewer_tasks_than_configs(tracker, log, dask_client):
    """Steps of a few milliseconds travel several to a task once their time is known."""
    batch, tasks = dask_tasks(dask_client, lambda: tracker.map(
        sweep_steps.simulate, configs(), outputs=["table"], executor=dask_client, runtime_kwargs={"log": str(log)}))
    assert batch.executed == N and batch.shipped == N and sorted(executions(log)) == list(range(N))
    assert tasks < N


def test_a_failing_config_is_retried_alone_while_its_batch_mates_succeed(tracker, log, marks, dask_client):
    """retries= counts per config: only the failing configs of a batch go again, with a fresh attempt."""
    grid = [{"i": i, "fail": i % 8 == 3} for i in range(N)]
    batch = tracker.map(sweep_steps.flaky, grid, outputs=["table"], retries=1, batch_size=4, executor=dask_client,
                        runtime_kwargs={"log": str(log), "marks": marks})
    failing = [g["i"] for g in grid if g["fail"]]
    assert batch.ok and batch.executed == N and batch.shipped == N + len(failing)
    assert sorted(executions(log)) == sorted(list(range(N)) + failing)
    assert sorted(r.config["i"] for r in tracker.find_runs(name="flaky", status="failed")) == failing


def test_without_retries_a_failing_config_fails_alone(tracker, log, dask_client):
    """A raising config of a batch fails; the others of its task are recorded as usual."""
    grid = [{"i": i} for i in range(6)]
    batch = tracker.map(sweep_steps.always_fails, grid, outputs=["table"], batch_size=3, executor=dask_client,
                        runtime_kwargs={"log": str(log)})
    assert [c["i"] for c, _ in batch.failed] == list(range(6))
    assert ["config 4 is invalid" in str(e) for _, e in batch.failed] == [i == 4 for i in range(6)]
    assert batch.shipped == 6 and sorted(executions(log)) == list(range(6))


@pytest.mark.parametrize("which", ["dask", "ray"])
def test_a_batch_rerun_after_its_worker_died_serves_its_finished_configs_from_the_cache(
    tracker, log, marks, request, which
):
    """Configs 4 and 5 finish, config 6 kills the worker: the engine reruns the task of 4-7,
    where 4 and 5 are cache hits (not executed twice) and the killed attempt left no entry."""
    if which == "dask":
        executor = request.getfixturevalue("dask_client")
    else:
        request.getfixturevalue("ray_session")
        executor = RayExecutor()
    grid = [{"i": i, "die": i == 6} for i in range(12)]
    batch = tracker.map(sweep_steps.dies_once, grid, outputs=["table"], batch_size=4, executor=executor,
                        runtime_kwargs={"log": str(log), "marks": marks})
    assert batch.ok and batch.executed + batch.hits == 12
    assert sorted(executions(log)) == list(range(12))  # none ran twice
    assert batch.statuses[4] == batch.statuses[5] == "hit"
    assert batch.statuses[6] == batch.statuses[7] == "executed"
    for result in batch.results:
        entry = tracker.index.get(result.run.signature)
        producer = result.run.reused_run_id or result.run_id
        assert entry.run_id == producer and tracker.get_run(producer).status == "completed"
    killed = [r for r in tracker.find_runs(name="dies_once") if r.config["i"] == 6]
    assert [r.status for r in killed] == ["completed"]  # the killed attempt recorded nothing that counts
    tracker.records.wait_for_compaction()
    assert [p for p in tracker.run_dir.rglob("*") if p.name.endswith(".tmp")] == []


def dies_always(config: dict, log: str) -> pl.DataFrame:
    """Kills its worker process every time for configs with ``die``; logs the others."""
    if config.get("die"):
        os._exit(17)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"{config['i']}\n")
    return pl.DataFrame({"i": [config["i"]]})


def test_a_config_that_always_kills_its_worker_fails_alone_not_with_its_batch(tracker, log, ray_session):
    """Ray gives up on the task (max_retries=0): its configs go again one a task; only config 6 fails."""
    grid = [{"i": i, "die": i == 6} for i in range(12)]
    batch = tracker.map(dies_always, grid, outputs=["table"], batch_size=4,
                        executor=RayExecutor(max_retries=0), runtime_kwargs={"log": str(log)})
    assert [c["i"] for c, _ in batch.failed] == [6]
    assert batch.executed + batch.hits == 11 and batch.statuses[4] == batch.statuses[5] == "hit"
    assert sorted(executions(log)) == [i for i in range(12) if i != 6]  # 4 and 5 did not run twice
    runs = tracker.find_runs(name="dies_always")
    executed = sorted(r.config["i"] for r in runs if r.status == "completed" and not r.cache_hit)
    assert executed == [i for i in range(12) if i != 6]
    assert all(tracker.index.get(r.signature) is None for r in runs if r.config["i"] == 6)  # no entry for it


def test_a_process_pool_batches_too(tracker, log, worker_path):
    """Fixed batches on a process pool record every config once, as on Dask."""
    with cf.ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        batch = tracker.map(sweep_steps.simulate, configs(12), outputs=["table"], executor=pool, batch_size=5,
                            runtime_kwargs={"log": str(log)})
    assert batch.executed == 12 and batch.shipped == 12 and sorted(executions(log)) == list(range(12))


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "big"])
def test_a_bad_batch_size_is_refused_by_name(tracker, log, value):
    with pytest.raises(ConfigError, match="batch_size"):
        tracker.map(sweep_steps.simulate, configs(3), batch_size=value, runtime_kwargs={"log": str(log)})
    assert executions(log) == []
