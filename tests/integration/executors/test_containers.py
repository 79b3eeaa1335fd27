"""Container steps against a real Docker engine (no mocks): caching, identity, failures.

Skipped as a whole only when no engine answers; start one with
``bash scripts/start-docker.sh`` (``.ci/run`` does). Container executions are
counted by a line each run appends to a file in a mounted folder.
"""

from __future__ import annotations

import shutil
import textwrap
import uuid
from pathlib import Path

import polars as pl
import pytest

import consist
from consist import (
    ContainerExitError,
    EngineUnavailableError,
    ImageNotFoundError,
    OutputMissingError,
    Tracker,
)
from consist.executors import _docker_engine as engine
from tests.helpers.containers import container_step, make_data, runs

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

IMAGE_1 = "consist-test/busybox:1"
IMAGE_2 = "consist-test/busybox:2"
# Counts itself, then "models" the input: results.csv is input.csv plus the image variant.
WORK = (
    "echo run >> /outputs/runs.log; "
    "{ cat /inputs/input.csv; cat /etc/consist-variant 2>/dev/null || echo v1; } > /outputs/results.csv"
)


def step(tracker: Tracker, data: Path, **overrides):
    """A typical container step over ``data``; keyword arguments replace its parts."""
    return container_step(tracker, data, script=WORK, **{"run_id": "model_2030", "image": IMAGE_1, **overrides})


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return make_data(tmp_path / "a")


# -- caching -------------------------------------------------------------------------------


def test_second_identical_call_is_a_hit_and_starts_no_container(tracker: Tracker, data: Path):
    """Repeating a container step serves the cached outputs without starting a container."""
    first = step(tracker, data)
    second = step(tracker, data)
    assert runs(data) == 1
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert second.run.reused_run_id == first.run.id
    assert second.artifacts["results"].hash == first.artifacts["results"].hash
    assert second.artifacts["results"].path.read_text() == "zone,pop\n1,100\n2,250\nv1\n"


def test_outputs_are_stored_in_the_run_folder_and_load(tracker: Tracker, data: Path):
    """Each declared output is copied into the run's folder and loads as a frame; its host path is kept as metadata."""
    result = step(tracker, data)
    artifact = result.artifacts["results"]
    assert artifact.path.is_relative_to(tracker.run_dir / result.run.id)
    assert artifact.meta["host_path"] == str(data / "outputs" / "results.csv")
    assert artifact.meta["container_path"] == "/outputs/results.csv"
    frame = consist.load(artifact)
    assert isinstance(frame, pl.DataFrame) and frame["zone"].to_list()[:2] == ["1", "2"]


def test_moved_data_folder_is_still_a_hit(tracker: Tracker, tmp_path: Path, data: Path):
    """Host paths are not part of identity: the same step over the moved data folder is a hit."""
    step(tracker, data)
    moved = tmp_path / "elsewhere" / "data"
    moved.parent.mkdir()
    shutil.move(data, moved)
    again = step(tracker, moved)
    assert again.cache_hit and runs(moved) == 1
    assert again.artifacts["results"].path.exists()  # served from the run folder, not the old host path


def test_changed_input_content_is_a_miss(tracker: Tracker, data: Path):
    """Editing an input file's content re-runs the container."""
    step(tracker, data)
    (data / "inputs" / "input.csv").write_text("zone,pop\n1,101\n")
    result = step(tracker, data)
    assert not result.cache_hit and runs(data) == 2
    assert "input 'input' changed" in result.run.miss_reason


def test_image_content_change_is_a_miss(tracker: Tracker, data: Path):
    """Another image (different content) re-runs the container, and each image keeps its own entry."""
    step(tracker, data, image=IMAGE_1)
    two = step(tracker, data, image=IMAGE_2)
    one = step(tracker, data, image=IMAGE_1)
    assert (two.cache_hit, one.cache_hit) == (False, True)
    assert runs(data) == 2
    assert two.artifacts["results"].path.read_text().endswith("\n2\n")
    assert "code version changed (image=sha256:" in two.run.miss_reason


def test_retagging_a_tag_to_other_content_is_a_miss(tracker: Tracker, data: Path, docker_engine):
    """The cache key follows the image's content id, not its tag: moving a tag to other content is a miss."""
    repo, tag = "consist-test/retag", uuid.uuid4().hex[:12]
    name = f"{repo}:{tag}"
    try:
        docker_engine.images.get(IMAGE_1).tag(repo, tag)
        first = step(tracker, data, image=name)
        docker_engine.images.get(IMAGE_2).tag(repo, tag)  # same name, other content
        second = step(tracker, data, image=name)
        docker_engine.images.get(IMAGE_1).tag(repo, tag)  # back to the first content
        third = step(tracker, data, image=name)
    finally:
        docker_engine.images.remove(name)  # an untag: the images keep their own tags
    assert (first.cache_hit, second.cache_hit, third.cache_hit) == (False, False, True)
    assert runs(data) == 2
    assert second.run.meta["container_image"] == name
    assert second.run.meta["container_image_id"] == engine.image_digest(IMAGE_2)


def test_command_environment_or_working_dir_change_is_a_miss(tracker: Tracker, data: Path):
    """Changing the command, the environment or the working directory each re-runs the container."""
    step(tracker, data)
    changes = [
        {"command": ["sh", "-c", WORK + "; true"]},
        {"environment": {"MODE": "fast"}},
        {"working_dir": "/tmp"},
    ]
    results = [step(tracker, data, **change) for change in changes]
    assert [r.cache_hit for r in results] == [False, False, False] and runs(data) == 4
    assert step(tracker, data, working_dir="/tmp").cache_hit and runs(data) == 4


def test_environment_value_change_is_a_miss(tracker: Tracker, data: Path):
    """Two values of one environment variable are two cache entries; values are not recorded, names are."""
    command = ["sh", "-c", WORK + '; echo "$MODE" >> /outputs/results.csv']
    fast = step(tracker, data, command=command, environment={"MODE": "fast"})
    slow = step(tracker, data, command=command, environment={"MODE": "slow"})
    assert (fast.cache_hit, slow.cache_hit, runs(data)) == (False, False, 2)
    assert slow.artifacts["results"].path.read_text().endswith("slow\n")
    assert slow.run.meta["container_env"] == ["MODE"] and "slow" not in str(slow.run.meta)


def test_container_mount_point_change_is_a_miss(tracker: Tracker, data: Path):
    """Mounting the same host folder at another container path is a different step."""
    step(tracker, data)
    moved_mount = step(
        tracker,
        data,
        command=["sh", "-c", WORK.replace("/inputs/", "/in/")],
        volumes={str(data / "inputs"): "/in", str(data / "outputs"): "/outputs"},
    )
    assert not moved_mount.cache_hit and runs(data) == 2


# -- failures --------------------------------------------------------------------------------


def test_nonzero_exit_fails_with_last_log_lines_and_no_cache_entry(tracker: Tracker, data: Path):
    """A non-zero exit raises with the container's last log lines, records a failed run and caches nothing."""
    script = "echo run >> /outputs/runs.log; for i in $(seq 1 40); do echo line $i; done; echo 'model diverged' >&2; exit 3"
    command = ["sh", "-c", script]
    with pytest.raises(ContainerExitError, match="exited with code 3") as info:
        step(tracker, data, command=command)
    message = str(info.value)
    assert "model diverged" in message and "line 40" in message
    assert "line 5\n" not in message  # only the last lines
    assert info.value.exit_code == 3 and info.value.step == "model_2030"
    with pytest.raises(ContainerExitError):
        step(tracker, data, command=command)
    assert runs(data) == 2  # the failure was not cached: the container ran again
    failed = tracker.records.get("model_2030")
    assert failed.status == "failed" and "exited with code 3" in failed.error
    logs = failed.output_map["container_logs"].path
    assert (logs / "stderr.log").read_text() == "model diverged\n"


def test_declared_output_not_written_is_an_error_naming_it(tracker: Tracker, data: Path):
    """An output the container did not write fails the run, naming the key and both of its paths."""
    outputs = {"results": data / "outputs" / "results.csv", "summary": data / "outputs" / "summary.txt"}
    with pytest.raises(OutputMissingError, match=r"'summary' at .*summary\.txt \(/outputs/summary\.txt in the container\)"):
        step(tracker, data, outputs=outputs)
    assert "'results'" not in str(tracker.records.get("model_2030").error)
    with pytest.raises(OutputMissingError):
        step(tracker, data, outputs=outputs)
    assert runs(data) == 2  # nothing was cached


def test_stale_output_left_from_before_is_not_taken_as_written(tracker: Tracker, data: Path):
    """A declared output file that exists but the container did not rewrite is an error, not a result."""
    stale = data / "outputs" / "summary.txt"
    stale.write_text("from last week\n")
    with pytest.raises(OutputMissingError, match="'summary' .* unchanged since before the run"):
        step(tracker, data, outputs={"summary": stale})


def test_missing_image_says_how_to_get_it(tracker: Tracker, data: Path):
    """An image the engine does not have is one clear error, raised before anything is recorded."""
    with pytest.raises(ImageNotFoundError, match="docker pull"):
        step(tracker, data, image="consist-test/absent:0")
    assert not any(p.name.startswith("model_2030") for p in tracker.run_dir.iterdir())


def test_unreachable_engine_gives_one_clear_error(tracker: Tracker, data: Path, monkeypatch: pytest.MonkeyPatch):
    """With no engine answering, a container step raises one error that says how to start one, and records nothing."""
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    engine.reset_client()
    try:
        with pytest.raises(EngineUnavailableError) as info:
            step(tracker, data)
    finally:
        monkeypatch.undo()
        engine.reset_client()
    message = str(info.value)
    assert "No Docker engine answered at tcp://127.0.0.1:1" in message
    assert "scripts/start-docker.sh" in message and "DOCKER_HOST" in message
    assert not any(p.name.startswith("model_2030") for p in tracker.run_dir.iterdir())


# -- logs, hydration, scenarios ----------------------------------------------------------------


def test_container_logs_are_kept_as_an_artifact(tracker: Tracker, data: Path):
    """stdout and stderr are logged as the run's 'container_logs' folder, and a hit serves the same logs."""
    command = ["sh", "-c", WORK + "; echo hello out; echo hello err >&2"]
    first = step(tracker, data, command=command)
    logs = first.artifacts["container_logs"]
    assert (logs.path / "stdout.log").read_text() == "hello out\n"
    assert (logs.path / "stderr.log").read_text() == "hello err\n"
    assert logs.meta["exit_code"] == 0 and logs.meta["image_id"] == engine.image_digest(IMAGE_1)
    hit = step(tracker, data, command=command)
    assert hit.cache_hit and hit.artifacts["container_logs"].hash == logs.hash


def test_metadata_hit_copies_nothing_to_host_paths(tracker: Tracker, data: Path):
    """By default a hit leaves the host output paths alone: the artifacts point at the stored copies."""
    step(tracker, data)
    (data / "outputs" / "results.csv").unlink()
    hit = step(tracker, data)
    assert hit.cache_hit
    assert not (data / "outputs" / "results.csv").exists()
    assert hit.artifacts["results"].path.exists()


def test_outputs_requested_copies_cached_outputs_back_to_host_paths(tracker: Tracker, tmp_path: Path, data: Path):
    """With cache_hydration='outputs-requested', a hit puts each output back at its declared host path."""
    first = step(tracker, data)
    fresh = make_data(tmp_path / "fresh-checkout")
    hit = step(tracker, fresh, cache_hydration="outputs-requested")
    target = fresh / "outputs" / "results.csv"
    assert hit.cache_hit and runs(fresh) == 0
    assert target.read_text() == first.artifacts["results"].path.read_text()
    assert hit.artifacts["results"].path == target


def test_run_inside_a_scenario_records_the_scenario_as_parent(tracker: Tracker, data: Path):
    """A container step run inside a scenario is recorded with the scenario as its parent."""
    with tracker.scenario("baseline"):
        result = step(tracker, data)
    assert result.run.parent_id == "baseline"


# -- the guide's Pattern 3, as written ----------------------------------------------------------

# The guide's snippets verbatim, but for the image (travel-model:v2.1 does not exist here)
# and the command (a busybox shell command in the same list shape).
GUIDE_COMMAND = (
    '["sh", "-c", "echo run >> /outputs/runs.log; cat /inputs/input.csv > /dev/null; '
    'cp /inputs/model.parquet /outputs/results.parquet"]'
)

RUN_CONTAINER = '''
from consist.integrations.containers import run_container
from pathlib import Path

host_inputs = Path("data/inputs").resolve()
host_outputs = Path("data/outputs").resolve()

result = run_container(
    tracker=tracker,
    run_id="model_2030",
    image="IMAGE",  # Image digest becomes cache key
    command=COMMAND,
    volumes={
        str(host_inputs): "/inputs",
        str(host_outputs): "/outputs",
    },
    inputs=[host_inputs / "input.csv"],
    outputs={"results": host_outputs / "results.parquet"},
)

output_artifact = result.artifacts["results"]
'''

EXECUTOR = '''
import consist

with consist.use_tracker(tracker):
    result = consist.run(
        name="model_2030",
        executor="container",
        inputs=[host_inputs / "input.csv"],
        output_paths={"results": host_outputs / "results.parquet"},
        container={
            "image": "IMAGE",
            "command": COMMAND,
            "volumes": {str(host_inputs): "/inputs", str(host_outputs): "/outputs"},
        },
    )
'''


def _guide(code: str, ns: dict) -> dict:
    code = textwrap.dedent(code).replace('"IMAGE"', repr(IMAGE_1)).replace("COMMAND", GUIDE_COMMAND)
    exec(compile(code, "<guide>", "exec"), ns)
    return ns


@pytest.fixture
def guide_dir(in_tmp: Path) -> Path:
    data = make_data(in_tmp)
    pl.DataFrame({"zone": [1, 2], "trips": [10.5, 25.0]}).write_parquet(data / "inputs" / "model.parquet")
    return data


def test_guide_run_container_snippet_runs_and_hits(guide_dir: Path):
    """The guide's run_container example runs as written, its output loads, and running it again starts no container."""
    ns = _guide(RUN_CONTAINER, {"tracker": Tracker(run_dir="./runs", db_path="./provenance.duckdb")})
    assert not ns["result"].cache_hit
    assert consist.load(ns["output_artifact"])["trips"].to_list() == [10.5, 25.0]
    again = _guide(RUN_CONTAINER, ns)
    assert again["result"].cache_hit and runs(guide_dir) == 1


def test_guide_executor_snippet_runs_and_shares_the_cache(guide_dir: Path):
    """consist.run(executor='container') runs as the guide writes it and is the same step as run_container."""
    ns = _guide(EXECUTOR, {
        "tracker": Tracker(run_dir="./runs", db_path="./provenance.duckdb"),
        "host_inputs": Path("data/inputs").resolve(),
        "host_outputs": Path("data/outputs").resolve(),
    })
    assert not ns["result"].cache_hit
    assert ns["result"].artifacts["results"].meta["container_path"] == "/outputs/results.parquet"
    _guide(EXECUTOR, ns)
    assert ns["result"].cache_hit
    _guide(RUN_CONTAINER, ns)
    assert ns["result"].cache_hit and runs(guide_dir) == 1


def test_executor_outputs_requested_restores_the_host_outputs(tracker: Tracker, tmp_path: Path, data: Path):
    """consist.run(executor='container', cache_hydration='outputs-requested') puts outputs back at output_paths."""
    step(tracker, data)
    fresh = make_data(tmp_path / "fresh-checkout")
    with consist.use_tracker(tracker):
        hit = consist.run(
            name="model_2030",
            executor="container",
            inputs=[fresh / "inputs" / "input.csv"],
            output_paths={"results": fresh / "outputs" / "results.csv"},
            container={
                "image": IMAGE_1,
                "command": ["sh", "-c", WORK],
                "volumes": {str(fresh / "inputs"): "/inputs", str(fresh / "outputs"): "/outputs"},
            },
            cache_hydration="outputs-requested",
        )
    assert hit.cache_hit and runs(fresh) == 0
    assert (fresh / "outputs" / "results.csv").read_text() == "zone,pop\n1,100\n2,250\nv1\n"


def test_explain_says_a_container_step_would_hit_or_why_not(tracker: Tracker, data: Path):
    """tracker.explain with executor='container' answers without starting a container, naming a changed image."""
    def options(image: str) -> dict:
        return {
            "name": "model_2030",
            "executor": "container",
            "inputs": [data / "inputs" / "input.csv"],
            "output_paths": {"results": data / "outputs" / "results.csv"},
            "container": {
                "image": image,
                "command": ["sh", "-c", WORK],
                "volumes": {str(data / "inputs"): "/inputs", str(data / "outputs"): "/outputs"},
            },
        }

    tracker.run(**options(IMAGE_1))
    assert tracker.would_hit(**options(IMAGE_1))
    other = tracker.explain(**options(IMAGE_2))
    assert not other.would_hit and f"image={engine.image_digest(IMAGE_2)}" in other.reason
    assert runs(data) == 1


def test_recover_a_stored_output_from_the_host_file_the_container_wrote(tracker: Tracker, data: Path):
    """A deleted stored output is recovered from the host path the container wrote, hash-checked, with no container run."""
    result = step(tracker, data)
    stored = result.artifacts["results"]
    stored.path.unlink()
    report = tracker.recover(stored)
    assert stored.path.read_text() == "zone,pop\n1,100\n2,250\nv1\n" and runs(data) == 1
    assert str(data / "outputs" / "results.csv") in str(report)
    (data / "outputs" / "results.csv").write_text("edited\n")
    stored.path.unlink()
    with pytest.raises(consist.RecoveryError, match="no replay recipe"):
        tracker.recover(stored)
