"""A sample run record, as the engine would write one, for catalog tests."""

from __future__ import annotations

from consist.models import Artifact, Run


def make_run(i: int, **fields) -> Run:
    out = Artifact(id=f"art-{i}", key="persons", uri=f"/data/{i}/persons.parquet", hash=f"{i:064x}", size=10,
                   driver="parquet", run_id=f"run-{i}", meta={"role": "primary"} if i % 2 else {})  # fmt: skip
    raw = Artifact(id="raw", key="population", uri="/data/population.csv", hash="f" * 64, size=3, driver="csv")
    values = {
        "id": f"run-{i}",
        "name": "simulate",
        "model": "simulate",
        "status": "completed",
        "parent_id": "baseline",
        "year": 2020 + i % 3,
        "config": {"alpha": i / 10, "solver": {"tol": 1e-6}},
        "facets": {"alpha": i / 10, "mode": "car", "flag": i % 2 == 0, "solver.tol": 1e-6},
        "inputs": [raw],
        "outputs": [out],
        "started_at": 1000.0 + i,
        "ended_at": 1001.0 + i,
    }
    values.update(fields)
    return Run(**values)
