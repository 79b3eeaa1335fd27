"""Portable paths: records name files through mounts, and runs and data folders move between machines."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import Tracker

LOG = "calls.txt"


def _write_zones(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zones.parquet"
    pl.DataFrame({"zone": [1, 2, 3], "pop": [10, 20, 30]}).write_parquet(path)
    return path


def summarise(zones: pl.DataFrame, out_dir: str) -> None:
    """Writes its result into the shared outputs mount and logs it there."""
    with (Path(out_dir).parent / LOG).open("a") as fh:
        fh.write("x\n")
    consist.log_dataframe(zones.select(pl.col("pop").sum()), "total", path=Path(out_dir) / "total.parquet")


def _machine(root: Path, **options) -> Tracker:
    return Tracker(
        run_dir=root / "runs",
        db_path=root / "provenance.duckdb",
        project_root=root,
        mounts={"inputs": "data/inputs", "outputs": "data/outputs"},
        **options,
    )


def _run(tracker: Tracker, root: Path) -> consist.RunResult:
    return tracker.run(
        summarise,
        inputs={"zones": root / "data" / "inputs" / "zones.parquet"},
        runtime_kwargs={"out_dir": str(root / "data" / "outputs")},
        outputs=["total"],
    )


def _executions(root: Path) -> int:
    log = root / "data" / LOG
    return log.read_text().count("x") if log.exists() else 0


def test_records_name_inputs_and_outputs_through_their_mounts(tmp_path):
    """An input under mount 'inputs' is recorded as inputs://zones.parquet, in the run and the catalog."""
    _write_zones(tmp_path / "data" / "inputs")
    tracker = _machine(tmp_path)
    result = _run(tracker, tmp_path)
    assert result.inputs["zones"].uri == "inputs://zones.parquet"
    assert result.outputs["total"].uri == "outputs://total.parquet"
    assert result.inputs["zones"].path == tmp_path / "data" / "inputs" / "zones.parquet"
    recorded = tracker.get_run(result.run_id)
    assert recorded.input_map["zones"].uri == "inputs://zones.parquet"
    uris = set(tracker.run_query("SELECT uri FROM artifacts")["uri"].to_list())
    assert uris == {"inputs://zones.parquet", "outputs://total.parquet"}
    assert consist.load(result.inputs["zones"])["pop"].to_list() == [10, 20, 30]
    assert consist.load("inputs://zones.parquet")["zone"].to_list() == [1, 2, 3]
    assert tracker.lineage(tmp_path / "data" / "outputs" / "total.parquet").run.id == result.run_id


def test_moving_runs_and_data_to_another_machine_keeps_the_cache(tmp_path):
    """Copied to another root with its own mounts, the same step is a hit that executes nothing."""
    first, second = tmp_path / "laptop", tmp_path / "cluster"
    _write_zones(first / "data" / "inputs")
    original = _run(_machine(first), first)
    assert _executions(first) == 1
    shutil.copytree(first, second)
    shutil.rmtree(first)  # the old machine's paths are gone
    moved = _machine(second)
    again = _run(moved, second)
    assert again.cache_hit and _executions(second) == 1
    assert again.outputs["total"].path == second / "data" / "outputs" / "total.parquet"
    assert consist.load(again.outputs["total"])["pop"].to_list() == [60]
    old_input = moved.get_run(original.run_id).input_map["zones"]
    assert consist.load(old_input, tracker=moved)["zone"].to_list() == [1, 2, 3]


def test_a_path_outside_every_mount_is_refused_unless_allowed(tmp_path):
    """An input outside the mounts fails before the step runs, naming the path and allow_external_paths."""
    elsewhere = _write_zones(tmp_path / "elsewhere")
    project = tmp_path / "project"
    _write_zones(project / "data" / "inputs")

    def step(zones: pl.DataFrame) -> pl.DataFrame:
        (tmp_path / LOG).open("a").write("x\n")
        return zones

    strict = _machine(project)
    with pytest.raises(consist.ConfigError, match=r"input 'zones' is .*elsewhere.*allow_external_paths=True"):
        strict.run(step, inputs={"zones": elsewhere}, outputs=["copy"])
    assert not (tmp_path / LOG).exists()
    relaxed = _machine(project, allow_external_paths=True)
    result = relaxed.run(step, inputs={"zones": elsewhere}, outputs=["copy"])
    assert result.inputs["zones"].uri == str(elsewhere)


def test_project_root_names_other_files(tmp_path):
    """A file under project_root and no named mount is recorded as project://<path>."""
    config = tmp_path / "conf" / "model.yaml"
    config.parent.mkdir()
    config.write_text("a: 1\n")
    tracker = Tracker(run_dir=tmp_path / "runs", project_root=tmp_path)
    result = tracker.run(lambda: 1, name="s", depends_on=[config], outputs=["one"])
    assert result.inputs["depends_on:model.yaml"].uri == "project://conf/model.yaml"


def test_bad_mounts_are_refused(tmp_path):
    """A mount name that is not a plain name, or 'project', is one clear error."""
    with pytest.raises(consist.ConfigError, match="mount name 'in puts'"):
        Tracker(run_dir=tmp_path / "runs", mounts={"in puts": tmp_path})
    with pytest.raises(consist.ConfigError, match="'project' is taken"):
        Tracker(run_dir=tmp_path / "runs", mounts={"project": tmp_path})
    with pytest.raises(consist.ConfigError, match="mapping"):
        Tracker(run_dir=tmp_path / "runs", mounts=[str(tmp_path)])


def test_without_mounts_nothing_changes(tracker, raw_csv):
    """A tracker without mounts records absolute paths, as before."""
    result = tracker.run(lambda: 1, name="s", inputs=[raw_csv], outputs=["one"])
    assert result.inputs["raw"].uri == str(raw_csv.resolve())


def test_recovery_after_a_move_reads_inputs_through_the_new_mounts(tmp_path):
    """A deleted output on the new machine is regenerated from the input recorded as inputs://zones.parquet."""
    first, second = tmp_path / "laptop", tmp_path / "cluster"
    _write_zones(first / "data" / "inputs")
    original = _run(_machine(first), first)
    shutil.copytree(first, second)
    shutil.rmtree(first)
    moved = _machine(second)
    artifact = moved.get_run(original.run_id).output_map["total"]
    artifact.path.unlink()
    moved.recover(artifact, runtime_kwargs={"summarise": {"out_dir": str(second / "data" / "outputs")}})
    assert _executions(second) == 2
    assert pl.read_parquet(second / "data" / "outputs" / "total.parquet")["pop"].to_list() == [60]


def test_a_frame_logged_outside_every_mount_is_refused_before_it_is_written(tmp_path):
    """log_dataframe(path=) outside the mounts raises naming the path, and writes no file."""
    project = tmp_path / "project"
    tracker = _machine(project)
    target = tmp_path / "elsewhere" / "t.csv"

    def step() -> None:
        consist.log_dataframe(pl.DataFrame({"a": [1]}), "t", path=target)

    with pytest.raises(consist.ConfigError, match="outside every mount"):
        tracker.run(step, outputs=["t"])
    assert not target.exists()


SECOND_MACHINE = """
import sys
from pathlib import Path

import consist
from tests.integration.artifacts.test_mounts import _machine, _run

root = Path(sys.argv[1])
tracker = _machine(root)
result = _run(tracker, root)
print(result.cache_hit, result.outputs["total"].path, consist.load(result.outputs["total"])["pop"].to_list())
"""


def test_another_process_with_only_the_new_mounts_is_served_from_the_cache(tmp_path):
    """A fresh process that knows only the new folders gets a hit for the moved project and executes nothing."""
    import os
    import subprocess
    import sys

    first, second = tmp_path / "laptop", tmp_path / "cluster"
    _write_zones(first / "data" / "inputs")
    _run(_machine(first), first)
    shutil.copytree(first, second)
    shutil.rmtree(first)
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", SECOND_MACHINE, str(second)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", str(second / "data" / "outputs" / "total.parquet"), "[60]"]
    assert _executions(second) == 1
