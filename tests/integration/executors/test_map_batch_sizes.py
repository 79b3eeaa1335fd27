"""A map of a step that an earlier map measured starts with batches of the measured size.

Tasks are counted with Dask's own task stream, executions with a file each execution
appends to.
"""

from __future__ import annotations

import polars as pl

from tests.helpers.sweep_steps import executions

N = 40


def test_a_later_map_of_a_step_sends_fewer_tasks_than_its_first(tracker, log, dask_client):
    """The first map ramps up from one config a task; the next one starts at the measured size."""
    from distributed import get_task_stream

    def quick(config: dict, log: str) -> pl.DataFrame:  # defined here: no earlier map measured it
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{config['i']}\n")
        return pl.DataFrame({"i": [config["i"]]})

    def mapped(grid: list[dict]) -> tuple[object, int]:
        with get_task_stream(dask_client) as stream:
            batch = tracker.map(quick, grid, outputs=["table"], executor=dask_client, runtime_kwargs={"log": str(log)})
        return batch, len(stream.data)

    first, first_tasks = mapped([{"i": i} for i in range(N)])
    later, later_tasks = mapped([{"i": i} for i in range(N, 2 * N)])
    assert (first.executed, later.executed, later.hits) == (N, N, 0)
    assert sorted(executions(log)) == list(range(2 * N))
    assert later_tasks < first_tasks < N
    assert [r.run.config["i"] for r in later.results] == list(range(N, 2 * N))
