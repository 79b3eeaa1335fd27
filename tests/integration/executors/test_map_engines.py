"""Sweeps on real engines: a process pool, a Dask LocalCluster and Ray, about 40 configs each.

Executions are counted with a file each execution appends to (the workers are other
processes); records are read back from the catalog the client queries.
"""

from __future__ import annotations

import concurrent.futures as cf
import linecache
import multiprocessing
import os
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import consist
from consist import ConfigError, SignatureMismatchError, Tracker
from consist.identity.code import identify
from tests.helpers import sweep_steps
from tests.helpers.sweep_steps import executions

N = 40
ENGINES = ["processes", "dask", "ray"]


@pytest.fixture
def process_pool(worker_path: None) -> Iterator[cf.ProcessPoolExecutor]:
    # Spawned, not forked: forking a process that runs Dask's or Ray's threads can hang the child.
    pool = cf.ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> object:
    """Each engine as map's executor= takes it."""
    if request.param == "processes":
        return request.getfixturevalue("process_pool")
    if request.param == "dask":
        return request.getfixturevalue("dask_client")
    request.getfixturevalue("ray_session")
    from consist.executors import RayExecutor

    return RayExecutor()


def step_records(tracker: Tracker, name: str, status: str = "completed") -> list:
    """The runs of step ``name`` in the catalog, as the client queries it."""
    return tracker.find_runs(name=name, status=status)


def temp_files(tracker: Tracker) -> list[Path]:
    """Temporary files left under the run folder once the map's background compaction is done."""
    tracker.records.wait_for_compaction()
    return [p for p in tracker.run_dir.rglob("*") if p.name.endswith(".tmp")]


def configs(n: int = N, **extra: object) -> list[dict]:
    return [{"i": i, **extra} for i in range(n)]


def test_every_config_is_recorded_once_and_a_second_map_ships_nothing(tracker, log, engine):
    """Each config runs once on the workers, in order, loads in the client; the re-map is all hits."""
    with consist.use_tracker(tracker), consist.scenario("sweep") as sc:
        first = sc.map(sweep_steps.simulate, configs=configs(), outputs=["table"],
                       runtime_kwargs={"log": str(log)}, executor=engine)
        again = sc.map(sweep_steps.simulate, configs=configs(), outputs=["table"],
                       runtime_kwargs={"log": str(log)}, executor=engine)
    assert (first.executed, first.hits, first.failed, first.shipped) == (N, 0, [], N)
    assert sorted(executions(log)) == list(range(N))
    tables = [consist.load(r.outputs["table"]) for r in first.results]
    assert [t["i"][0] for t in tables] == list(range(N))
    assert [t["sq"][0] for t in tables] == [i * i for i in range(N)]
    assert len({t["pid"][0] for t in tables} - {os.getpid()}) >= 1  # ran in other processes
    recorded = step_records(tracker, "simulate")
    assert len(recorded) == 2 * N  # executions + hits
    assert {r.run_id for r in first.results} == {r.id for r in recorded if not r.cache_hit}
    assert (again.shipped, again.hits, again.executed) == (0, N, 0)
    assert len(executions(log)) == N
    assert [r.run.reused_run_id for r in again.results] == [r.run_id for r in first.results]
    assert all(r.parent_id == "sweep" for r in recorded)
    assert temp_files(tracker) == []


def test_duplicates_fold_and_a_loop_of_sc_run_shares_entries(tracker, log, dask_client):
    """Equal configs run once; a map and a loop of sc.run serve each other's entries."""
    doubled = configs(N // 2) + configs(N // 2)
    with consist.use_tracker(tracker), consist.scenario("sweep") as sc:
        batch = sc.map(sweep_steps.simulate, configs=doubled, outputs=["table"],
                       runtime_kwargs={"log": str(log)}, executor=dask_client)
        looped = [sc.run(sweep_steps.simulate, config=c, outputs=["table"], runtime_kwargs={"log": str(log)})
                  for c in configs(N // 2 + 5)]
        remap = sc.map(sweep_steps.simulate, configs=configs(N // 2 + 5), outputs=["table"],
                       runtime_kwargs={"log": str(log)}, executor=dask_client)
    assert (batch.executed, batch.hits, batch.shipped) == (N // 2, N // 2, N // 2)
    assert not dask_client.futures  # each released as it completed: nothing held on the cluster
    assert batch.statuses[N // 2:] == ["hit"] * (N // 2)
    assert [r.run.reused_run_id for r in batch.results[N // 2:]] == [r.run_id for r in batch.results[: N // 2]]
    assert [r.cache_hit for r in looped] == [True] * (N // 2) + [False] * 5
    assert (remap.hits, remap.shipped) == (N // 2 + 5, 0)
    assert sorted(executions(log)) == list(range(N // 2 + 5))
    assert len(step_records(tracker, "simulate")) == len(executions(log)) + batch.hits + N // 2 + remap.hits


NOTEBOOK_CELL = """
def cell_step(config):
    import polars as pl
    return pl.DataFrame({"i": [config["i"] * SCALE]})
"""


def notebook_function(tmp_path: Path, as_script: bool):
    """A function as a notebook cell (source only in linecache) or a script's __main__ defines it."""
    if as_script:
        filename = str(tmp_path / "script.py")
        Path(filename).write_text(NOTEBOOK_CELL)
    else:
        filename = "<ipython-input-7-0123456789ab>"
        linecache.cache[filename] = (len(NOTEBOOK_CELL), None, NOTEBOOK_CELL.splitlines(True), filename)
    namespace = {"__name__": "__main__", "SCALE": 3}
    exec(compile(textwrap.dedent(NOTEBOOK_CELL), filename, "exec"), namespace)
    return namespace["cell_step"]


@pytest.mark.parametrize("as_script", [False, True], ids=["notebook-cell", "main-script"])
@pytest.mark.parametrize("which", ["dask", "ray"])
def test_main_and_notebook_functions_keep_the_client_identity_on_workers(tracker, tmp_path, request, which, as_script):
    """A __main__ or notebook-cell function runs by value on workers under the identity the client computed."""
    fn = notebook_function(tmp_path, as_script)
    if which == "dask":
        executor = request.getfixturevalue("dask_client")
    else:
        request.getfixturevalue("ray_session")
        executor = consist.executors.RayExecutor()
    code = identify(fn)[0]
    assert code.kind == "callable_source"  # the client reads the cell's source
    with consist.use_tracker(tracker), consist.scenario("nb") as sc:
        batch = sc.map(fn, configs=configs(8), outputs=["out"], executor=executor)
        plain = sc.run(fn, config={"i": 5}, outputs=["out"])
    assert batch.executed == 8 and batch.failed == []
    assert {r.run.code_hash for r in batch.results} == {code.hash}
    assert plain.cache_hit and plain.run.reused_run_id == batch.results[5].run_id
    assert consist.load(batch.results[4].outputs["out"])["i"][0] == 12


def test_a_raising_step_fails_alone_and_retries_with_a_fresh_attempt(tracker, log, marks, dask_client):
    """A raising config leaves a failed record and no cache entry; retries=1 runs it again and succeeds."""
    grid = [{"i": i, "fail": i % 8 == 0} for i in range(N)]
    with consist.use_tracker(tracker):
        batch = consist.map(sweep_steps.flaky, configs=grid, outputs=["table"], retries=1,
                            runtime_kwargs={"log": str(log), "marks": marks}, executor=dask_client)
        broken = consist.map(sweep_steps.always_fails, configs=configs(4), outputs=["table"],
                             runtime_kwargs={"log": str(log)}, executor=dask_client)
        again = broken.retry()
    failing = [g["i"] for g in grid if g["fail"]]
    assert batch.ok and batch.executed == N and batch.shipped == N + len(failing)
    assert sorted(executions(log)[: N + len(failing)]) == sorted(list(range(N)) + failing)
    failed_records = step_records(tracker, "flaky", status="failed")
    assert sorted(r.config["i"] for r in failed_records) == failing
    assert all("transient failure" in r.error for r in failed_records)
    assert [type(e) for _, e in broken.failed] == [ValueError] * 4
    assert [c["i"] for c, _ in broken.failed] == [0, 1, 2, 3]
    assert "config 2 is invalid" in str(broken.failed[2][1])
    notes = "".join(broken.failed[2][1].__notes__)
    assert "raised on worker" in notes and "attempt " in notes and "in always_fails" in notes
    assert broken.results == [None] * 4 and broken.counts["failed"] == 4
    assert again.shipped == 8 and len(again.failed) == 4  # ran again: no cache entry was left
    assert len(step_records(tracker, "always_fails", status="failed")) == 8
    assert "Failed configs" in broken._repr_html_()


@pytest.mark.parametrize("which", ["dask", "ray"])
def test_a_killed_worker_leaves_no_cache_entry_and_the_task_is_rescheduled(tracker, log, marks, request, which):
    """A worker that dies mid-task is replaced by the engine; every config ends with one valid entry."""
    if which == "dask":
        executor = request.getfixturevalue("dask_client")
    else:
        request.getfixturevalue("ray_session")
        executor = consist.executors.RayExecutor()
    grid = [{"i": i, "die": i in (5, 23)} for i in range(N)]
    with consist.use_tracker(tracker):
        batch = consist.map(sweep_steps.dies_once, configs=grid, outputs=["table"],
                            runtime_kwargs={"log": str(log), "marks": marks}, executor=executor)
        again = consist.map(sweep_steps.dies_once, configs=grid, outputs=["table"],
                            runtime_kwargs={"log": str(log), "marks": marks}, executor=executor)
    assert batch.ok and again.shipped == 0
    recorded = step_records(tracker, "dies_once")
    # Every execution is recorded once. A finished task whose result died with its worker
    # before reaching the client is run again by the engine: a hit, recorded as such.
    assert len([r for r in recorded if not r.cache_hit]) == len(executions(log)) == batch.executed + batch.hits
    assert len([r for r in recorded if r.cache_hit]) >= batch.hits + again.hits
    for result in batch.results:
        entry = tracker.index.get(result.run.signature)
        producer = result.run.reused_run_id or result.run_id
        assert entry.run_id == producer and tracker.get_run(producer).status == "completed"
    assert temp_files(tracker) == []


def test_a_broken_process_pool_is_replaced_and_unfinished_configs_resubmitted(tracker, log, marks, process_pool):
    """A worker process that dies breaks the pool: a new pool finishes every config."""
    grid = [{"i": i, "die": i == 11} for i in range(N)]
    with consist.use_tracker(tracker):
        batch = consist.map(sweep_steps.dies_once, configs=grid, outputs=["table"],
                            runtime_kwargs={"log": str(log), "marks": marks}, executor=process_pool)
    assert batch.ok and batch.executed + batch.hits == N
    assert batch.shipped > N  # the configs out on the broken pool went again
    # The pool ends its other processes too: a step they were running is killed (or, in
    # the moment before, finishes) and runs again. Every config ends with a completed run
    # behind its cache entry.
    recorded = step_records(tracker, "dies_once")
    assert {r.config["i"] for r in recorded} == set(range(N))
    assert len(executions(log)) >= N and step_records(tracker, "dies_once", status="failed") == []
    for result in batch.results:
        assert tracker.get_run(tracker.index.get(result.run.signature).run_id).status == "completed"
    assert [consist.load(r.outputs["table"])["i"][0] for r in batch.results] == list(range(N))


def test_a_process_pool_refuses_a_closure_by_name(tracker, log, process_pool):
    """A closure cannot reach a process pool: one error names it and suggests the fix; nothing runs."""
    offset = 3

    def shifted(config, log):
        return sweep_steps.simulate({"i": config["i"] + offset}, log)

    with consist.use_tracker(tracker), pytest.raises(ConfigError, match=r"shifted cannot be sent .*module level.*Dask or Ray"):
        consist.map(shifted, configs=configs(), outputs=["table"], runtime_kwargs={"log": str(log)},
                    executor=process_pool)
    assert executions(log) == []


def test_stale_code_on_a_worker_is_an_error_not_a_second_entry(tracker, log, dask_client):
    """A worker importing other code for the step refuses to run it and records nothing."""

    def patch() -> None:
        import tests.helpers.sweep_steps as steps

        source = "def simulate(config, log):\n    return None  # other code\n"
        namespace: dict = {}
        exec(compile(source, steps.__file__ + ":stale", "exec"), namespace)
        namespace["simulate"].__module__, namespace["simulate"].__qualname__ = steps.__name__, "simulate"
        steps._original, steps.simulate = steps.simulate, namespace["simulate"]

    def unpatch() -> None:
        import tests.helpers.sweep_steps as steps

        steps.simulate = steps._original

    dask_client.run(patch)
    try:
        with consist.use_tracker(tracker):
            batch = consist.map(sweep_steps.simulate, configs=configs(6), outputs=["table"], retries=2,
                                runtime_kwargs={"log": str(log)}, executor=dask_client)
    finally:
        dask_client.run(unpatch)
    assert batch.shipped == 6  # not retried: it would fail the same way
    assert {type(e) for _, e in batch.failed} == {SignatureMismatchError}
    assert "code (client" in str(batch.failed[0][1])
    assert executions(log) == [] and step_records(tracker, "simulate") == []


def test_catalog_queries_during_a_map_see_no_error(tracker, log, dask_client):
    """Queries of the catalog while workers write records return counts that only grow."""
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def query() -> None:
        while not done.is_set():
            try:
                seen.append(tracker.run_query("select count(*) as n from runs")["n"][0])
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

    reader = threading.Thread(target=query)
    reader.start()
    try:
        with consist.use_tracker(tracker):
            consist.map(sweep_steps.simulate, configs=configs(), outputs=["table"],
                        runtime_kwargs={"log": str(log)}, executor=dask_client)
    finally:
        done.set()
        reader.join()
    assert errors == []
    assert seen and seen == sorted(seen)
    assert tracker.run_query("select count(*) as n from runs")["n"][0] == N


def test_a_chain_of_years_runs_inside_one_task(tracker, log, dask_client):
    """A step calling consist.run per year records every year on the worker; a re-map hits."""
    grid = [{"i": i, "rate": i / 10} for i in range(4)]
    with consist.use_tracker(tracker):
        batch = consist.map(sweep_steps.chain, configs=grid, outputs=["final"], runtime_kwargs={"log": str(log)},
                            executor=dask_client)
        again = consist.map(sweep_steps.chain, configs=grid, outputs=["final"], runtime_kwargs={"log": str(log)},
                            executor=dask_client)
    assert batch.executed == 4 and again.shipped == 0
    years = step_records(tracker, "grow")
    assert sorted(r.year for r in years) == sorted([2020, 2030, 2040] * 4)
    final = consist.load(batch.results[3].outputs["final"])
    assert final["pop"][0] == pytest.approx(100 * 1.3**3)


def test_records_can_be_written_by_the_client(tracker, log, dask_client):
    """With record_in="client" the workers send their records back; entries serve the next map."""
    with consist.use_tracker(tracker):
        batch = consist.map(sweep_steps.simulate, configs=configs(), outputs=["table"], record_in="client",
                            runtime_kwargs={"log": str(log)}, executor=dask_client)
        again = consist.map(sweep_steps.simulate, configs=configs(), outputs=["table"],
                            runtime_kwargs={"log": str(log)}, executor=dask_client)
    assert batch.executed == N and again.shipped == 0
    assert {r.id for r in step_records(tracker, "simulate") if not r.cache_hit} == {r.run_id for r in batch.results}


def test_workers_never_open_the_catalog_file(tracker, log, dask_client):
    """Workers record into the run folder only: a deleted db_path stays absent until the client queries."""
    tracker.db_path.unlink()
    with consist.use_tracker(tracker):
        batch = consist.map(sweep_steps.simulate, configs=configs(8), outputs=["table"],
                            runtime_kwargs={"log": str(log)}, executor=dask_client)
    assert batch.executed == 8 and not tracker.db_path.exists()
    assert len(step_records(tracker, "simulate")) == 8  # the client's query builds it again
    assert tracker.db_path.exists()
