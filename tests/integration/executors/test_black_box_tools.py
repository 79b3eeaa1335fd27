"""Container steps written the way a modeller wraps a black-box tool, against a real engine.

Third QA pass: paths given as str, Path or ``~``, tools that fail to start, run too
long, write to the wrong place or nowhere, a stopped engine, re-runs in a fresh process
(counted by the engine's own start events) and container steps inside a scenario whose
coupler feeds a Python step. Container executions are counted by a line each run
appends to a file in a mounted folder, or by the engine's ``start`` events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import (
    ConfigError,
    ContainerExitError,
    ContainerTimeoutError,
    EngineUnavailableError,
    OutputMissingError,
    Tracker,
)
from consist.executors import _docker_engine as engine
from tests.helpers.containers import container_step, make_data, runs

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

IMAGE = "consist-test/busybox:1"
ROOT = Path(__file__).resolve().parents[3]
COPY = "echo run >> /outputs/runs.log; cp /inputs/input.csv /outputs/results.csv"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """``tmp_path/data/{inputs,outputs}`` with one input file."""
    return make_data(tmp_path)


def step(tracker: Tracker, data: Path, **overrides):
    return container_step(tracker, data, script=COPY, **{"run_id": "model", "image": IMAGE, **overrides})


def test_volumes_given_as_path_and_with_tilde_run_and_hit(tracker: Tracker, tmp_path: Path, monkeypatch):
    """Volumes, inputs and outputs given as Path objects or '~' strings run the tool once and then hit."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data = tmp_path / "home" / "project"
    (data / "inputs").mkdir(parents=True)
    (data / "outputs").mkdir()
    (data / "inputs" / "input.csv").write_text("zone,pop\n1,100\n")
    options = {
        "volumes": {Path("~/project/inputs"): "/inputs", "~/project/outputs": "/outputs"},
        "inputs": ["~/project/inputs/input.csv"],
        "outputs": {"results": "~/project/outputs/results.csv"},
    }
    first = step(tracker, data, **options)
    second = step(tracker, data, **options)
    assert (first.cache_hit, second.cache_hit, runs(data)) == (False, True, 1)
    assert first.artifacts["results"].path.read_text() == "zone,pop\n1,100\n"
    assert first.artifacts["results"].meta["host_path"] == str(data / "outputs" / "results.csv")


def test_folder_inputs_and_outputs_with_env_and_working_dir(tracker: Tracker, data: Path):
    """A folder input and a folder output, with environment and working directory, run once and then hit."""
    (data / "inputs" / "zones").mkdir()
    (data / "inputs" / "zones" / "a.csv").write_text("z\n1\n")
    command = ["sh", "-c", "echo run >> runs.log; mkdir -p skims; cp /inputs/zones/* skims/; echo $MODE > skims/mode.txt"]
    options = {
        "command": command,
        "inputs": [data / "inputs" / "zones"],
        "outputs": {"skims": data / "outputs" / "skims"},
        "environment": {"MODE": "fast"},
        "working_dir": "/outputs",
    }
    first = step(tracker, data, **options)
    second = step(tracker, data, **options)
    assert (first.cache_hit, second.cache_hit, runs(data)) == (False, True, 1)
    skims = second.artifacts["skims"].path
    assert sorted(p.name for p in skims.iterdir()) == ["a.csv", "mode.txt"]
    assert (skims / "mode.txt").read_text() == "fast\n"


def test_program_missing_from_the_image_is_an_exit_error_not_an_api_error(tracker: Tracker, data: Path):
    """A command whose program is not in the image fails like `docker run` (exit 127), naming it, and caches nothing."""
    with pytest.raises(ContainerExitError, match="exited with code 127") as info:
        step(tracker, data, command=["python", "run.py", "--year", "2030"])
    assert info.value.exit_code == 127 and '"python": executable file not found' in str(info.value)
    failed = tracker.records.get("model")
    assert failed.status == "failed"
    assert "python" in (failed.output_map["container_logs"].path / "stderr.log").read_text()
    with pytest.raises(ContainerExitError):  # not cached: it is tried again
        step(tracker, data, command=["python", "run.py", "--year", "2030"])


def test_container_running_past_its_timeout_is_killed_named_and_keeps_its_logs(tracker: Tracker, data: Path):
    """A container still running after timeout_s raises ContainerTimeoutError naming the step, with its output kept."""
    with pytest.raises(ContainerTimeoutError, match=r"'model' still ran after timeout_s=1") as info:
        step(tracker, data, command=["sh", "-c", "echo started; sleep 30"], timeout_s=1)
    assert isinstance(info.value, TimeoutError) and "started" in str(info.value)
    failed = tracker.records.get("model")
    assert failed.status == "failed"
    assert (failed.output_map["container_logs"].path / "stdout.log").read_text() == "started\n"
    assert not engine.client().containers.list(all=True, filters={"ancestor": IMAGE, "status": "running", "label": f"{engine.LABEL}={os.getpid()}"})


def test_output_under_no_mounted_folder_is_refused_before_the_container_starts(tracker: Tracker, data: Path):
    """A declared output outside every volume is a ConfigError before anything runs or is recorded."""
    with pytest.raises(ConfigError, match=r"'summary' at .*summary\.txt are not under any mounted folder"):
        step(tracker, data, outputs={"summary": data / "summary.txt"})
    assert runs(data) == 0 and not list(tracker.run_dir.glob("model*"))


def test_output_written_under_another_name_is_named_in_the_error(tracker: Tracker, data: Path):
    """When the tool writes its result under another name, the error names what it wrote in that folder."""
    command = ["sh", "-c", COPY.replace("results.csv", "result_2030.csv")]
    with pytest.raises(OutputMissingError, match=r"does not exist \(the run wrote result_2030\.csv, runs\.log in that folder\)"):
        step(tracker, data, command=command)


def test_string_command_with_shell_syntax_gets_a_hint(tracker: Tracker, data: Path):
    """A string command using a redirection fails with a hint that docker runs no shell for it."""
    with pytest.raises(OutputMissingError, match=r"use \['sh', '-c', '...'\]"):
        step(tracker, data, command="echo zone,pop > /outputs/results.csv")


def test_misspelt_volume_folder_is_named_when_the_tool_fails(tracker: Tracker, data: Path):
    """A volume folder that did not exist is mounted empty, and the tool's failure names it."""
    volumes = {str(data / "input"): "/inputs", str(data / "outputs"): "/outputs"}
    with pytest.raises(ContainerExitError, match=r"volume folder\(s\) .*data/input \(at /inputs\) did not exist"):
        step(tracker, data, volumes=volumes)


def test_outputs_linked_to_container_paths_are_stored_with_their_content(tracker: Tracker, data: Path):
    """An output the tool makes as a link to another mounted path (dangling on the host) is stored as the linked file's bytes."""
    make = "echo run >> /outputs/runs.log; mkdir -p /outputs/run; ln -sf /inputs/input.csv /outputs/run/input.csv; "
    options = {
        "command": ["sh", "-c", make + "ln -sf /inputs/input.csv /outputs/latest.csv"],
        "outputs": {"run": data / "outputs" / "run", "latest": data / "outputs" / "latest.csv"},
    }
    first = step(tracker, data, **options)
    expected = (data / "inputs" / "input.csv").read_text()
    assert first.artifacts["latest"].path.read_text() == expected
    assert (first.artifacts["run"].path / "input.csv").read_text() == expected
    again = step(tracker, data, **{**options, "command": options["command"] + ["x"]})  # re-makes the same links
    assert not again.cache_hit and runs(data) == 2
    assert step(tracker, data, **options).cache_hit and runs(data) == 2


def test_many_log_lines_are_kept_whole_and_the_error_shows_the_tail(tracker: Tracker, data: Path):
    """A container printing tens of thousands of lines keeps them all in its logs; the error shows only the last ones."""
    script = "seq 1 50000; echo 'solver failed' >&2; exit 4"
    with pytest.raises(ContainerExitError, match="exited with code 4") as info:
        step(tracker, data, command=["sh", "-c", script])
    message = str(info.value)
    assert "solver failed" in message and "50000" in message and "\n49970\n" not in message
    logs = tracker.records.get("model").output_map["container_logs"].path
    assert len((logs / "stdout.log").read_text().splitlines()) == 50000


def test_stopped_engine_behind_a_dead_socket_is_one_clear_error(tracker: Tracker, data: Path, tmp_path, monkeypatch):
    """With DOCKER_HOST at a socket nobody listens on, even a cached step raises one error saying how to start an engine."""
    step(tracker, data)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'docker.sock'}")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    engine.reset_client()
    try:
        with pytest.raises(EngineUnavailableError, match=r"No Docker engine answered at unix://.*docker\.sock.*start-docker\.sh"):
            step(tracker, data)
    finally:
        monkeypatch.undo()
        engine.reset_client()
    assert step(tracker, data).cache_hit and runs(data) == 1


def test_miss_reason_names_only_the_changed_part(tracker: Tracker, data: Path):
    """Changing the environment or the command misses, and the miss reason names just that part."""
    step(tracker, data, environment={"MODE": "fast"})
    env = step(tracker, data, environment={"MODE": "slow"})
    cmd = step(tracker, data, environment={"MODE": "slow"}, command=["sh", "-c", COPY + "; true"])
    assert (env.cache_hit, cmd.cache_hit, runs(data)) == (False, False, 3)
    assert "code version changed (environment=" in env.run.miss_reason and "command=" not in env.run.miss_reason
    assert "code version changed (command=" in cmd.run.miss_reason and "environment=" not in cmd.run.miss_reason


def test_scenario_container_steps_feed_a_python_step_without_coupler_warnings(tracker: Tracker, data: Path):
    """Two container steps and a Python step in a scenario pass outputs by coupler key, warn nothing, and all hit on a re-run."""
    calls = []

    def summarize(results: pl.DataFrame) -> pl.DataFrame:
        calls.append(1)
        return results.select(pl.col("pop").sum())

    volumes = {data / "inputs": "/inputs", data / "outputs": "/outputs"}

    def pipeline():
        with consist.use_tracker(tracker), tracker.scenario("baseline") as sc:
            sc.run(
                name="prepare", executor="container", inputs=[data / "inputs" / "input.csv"],
                output_paths={"prepared": data / "outputs" / "prepared.csv"},
                container={"image": IMAGE, "command": ["sh", "-c", COPY.replace("results", "prepared")], "volumes": volumes},
            )
            model = sc.run(
                name="model", executor="container", inputs={"prepared": sc.coupler.require("prepared")},
                output_paths={"results": data / "outputs" / "results.csv"},
                container={"image": IMAGE, "command": ["sh", "-c", "cp /outputs/prepared.csv /outputs/results.csv"], "volumes": volumes},
            )
            sc.run(summarize, name="summarize", inputs={"results": sc.coupler.require("results")}, outputs=["total"])
            return model, sorted(sc.coupler.keys()), consist.load(sc.coupler.require("total"))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a CouplerWarning fails the test
        first, keys, total = pipeline()
        again, _, _ = pipeline()
    assert keys == ["prepared", "results", "total"]
    assert total["pop"].to_list() == [350]
    assert (first.cache_hit, again.cache_hit, runs(data), len(calls)) == (False, True, 1, 1)
    assert "container_logs" in first.outputs and again.run.parent_id == "baseline"


FRESH = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import docker
    from consist import Tracker
    from consist.integrations.containers import run_container

    root, data = Path(sys.argv[1]), Path(sys.argv[2])
    api = docker.from_env()
    image_id = api.images.get(sys.argv[3]).id  # containers run by content id
    since = time.time()
    result = run_container(
        tracker=Tracker(run_dir=root / "runs", db_path=root / "provenance.duckdb"),
        run_id="model", image=sys.argv[3], command=["sh", "-c", sys.argv[4]],
        volumes={str(data / "inputs"): "/inputs", str(data / "outputs"): "/outputs"},
        inputs=[data / "inputs" / "input.csv"], outputs={"results": data / "outputs" / "results.csv"},
    )
    events = api.events(since=since, until=time.time() + 0.5, decode=True,
                        filters={"type": "container", "event": "start", "image": image_id})
    print(json.dumps({"hit": result.cache_hit, "starts": len(list(events))}))
    """
)


@pytest.mark.slow
def test_fresh_process_hits_counted_by_engine_start_events(tmp_path: Path, data: Path):
    """A re-run in a new process starts no container (counted by the engine's events), also with the data folder moved; a changed command starts one."""

    def fresh(folder: Path, command: str = COPY) -> dict:
        done = subprocess.run(
            [sys.executable, "-c", FRESH, str(tmp_path), str(folder), IMAGE, command],
            check=False, capture_output=True, text=True, cwd=ROOT, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    assert fresh(data) == {"hit": False, "starts": 1}
    assert fresh(data) == {"hit": True, "starts": 0}
    moved = tmp_path / "moved" / "data"
    moved.parent.mkdir()
    data.rename(moved)
    assert fresh(moved) == {"hit": True, "starts": 0}
    assert fresh(moved, COPY + "; true") == {"hit": False, "starts": 1}
    assert runs(moved) == 2
