"""Container step identity and argument checks, without a Docker engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import consist
from consist import ConfigError, Tracker, UnsafeKeyError
from consist.integrations.containers import container_version, make_spec, run_container

IMAGE_ID = "sha256:" + "a" * 64


def version(**overrides) -> str:
    options = {
        "image": "model:1",
        "command": ["python", "run.py", "--year", "2030"],
        "volumes": {"/data/inputs": "/inputs", "/data/outputs": "/outputs"},
        "environment": {"MODE": "fast"},
        "working_dir": "/work",
    }
    options.update(overrides)
    image_id = options.pop("image_id", IMAGE_ID)
    return container_version(image_id, make_spec(**options))


def test_host_paths_and_tags_are_not_part_of_identity():
    """Moving the host folders or naming the image by another tag leaves the version unchanged."""
    assert version(volumes={"/elsewhere/in": "/inputs", "/elsewhere/out": "/outputs"}) == version()
    assert version(volumes={"/data/outputs": "/outputs", "/data/inputs": "/inputs"}) == version()
    assert version(image="registry.example/model:latest") == version()


@pytest.mark.parametrize(
    "change",
    [
        {"image_id": "sha256:" + "b" * 64},
        {"command": ["python", "run.py", "--year", "2040"]},
        {"command": "python run.py --year 2030"},
        {"environment": {"MODE": "slow"}},
        {"environment": {"MODE": "fast", "SEED": 1}},
        {"volumes": {"/data/inputs": "/in", "/data/outputs": "/outputs"}},
        {"working_dir": None},
    ],
    ids=["image", "command", "command-as-string", "env-value", "env-added", "mount-point", "working-dir"],
)
def test_what_decides_the_container_behaviour_is_part_of_identity(change):
    """The image content id, command, environment, container-side mounts and working directory each change the version."""
    assert version(**change) != version()


def test_version_names_the_image_and_hides_environment_values():
    """The version shows the image id (so a miss reason names it) and never an environment value."""
    text = version(environment={"API_TOKEN": "s3cret"})
    assert text.startswith(f"image={IMAGE_ID} command=")
    assert "s3cret" not in text and "API_TOKEN" not in text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"image": ""}, "image must be a non-empty string"),
        ({"command": []}, "command must be a string or a non-empty list"),
        ({"command": "  "}, "command is empty"),
        ({"volumes": ["/data:/data"]}, "volumes must be a mapping"),
        ({"volumes": {"/data": "relative"}}, "must be an absolute path inside the container"),
        ({"volumes": {"/a": "/x", "/b": "/x/"}}, "'/x' is mounted twice"),
        ({"environment": {"A": [1]}}, "environment variable 'A' is a list"),
        ({"working_dir": "work"}, "working_dir 'work' must be an absolute path"),
    ],
)
def test_bad_container_arguments_are_named(options, message):
    """Each malformed container argument gets one error naming it."""
    base = {"image": "model:1", "command": ["true"]}
    base.update(options)
    with pytest.raises(ConfigError, match=message):
        make_spec(**base)


def test_reserved_and_unsafe_output_keys_are_refused_before_any_engine_call(tmp_path: Path):
    """The key 'container_logs' is reserved and unsafe keys are refused, before Docker is needed."""
    tracker = Tracker(run_dir=tmp_path / "runs")
    with pytest.raises(ConfigError, match="'container_logs' is reserved"):
        run_container(tracker=tracker, image="model:1", command=["true"], outputs={"container_logs": tmp_path / "x"})
    with pytest.raises(UnsafeKeyError):
        run_container(tracker=tracker, image="model:1", command=["true"], outputs={"../up": tmp_path / "x"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"executor": "kubernetes", "container": {"image": "m", "command": ["true"]}}, "executor='kubernetes'"),
        ({"executor": "container"}, "needs container="),
        ({"executor": "container", "container": {"image": "m", "command": ["true"], "gpus": 1}}, r"unknown key\(s\) \['gpus'\]"),
        ({"executor": "container", "fn": print, "container": {"image": "m", "command": ["true"]}}, "drop fn="),
        ({"container": {"image": "m", "command": ["true"]}}, "need executor='container'"),
        (
            {"executor": "container", "container": {"image": "m", "command": ["true"]}, "runtime_kwargs": {"a": 1}},
            "runtime_kwargs only apply to function steps",
        ),
        (
            {"executor": "container", "container": {"image": "m", "command": ["true"]}, "outputs": ["results"]},
            r"outputs \['results'\] have no host path",
        ),
    ],
)
def test_executor_container_arguments_are_checked(tmp_path: Path, options, message):
    """consist.run(executor=...) refuses unknown executors and arguments a container step cannot use."""
    tracker = Tracker(run_dir=tmp_path / "runs")
    with consist.use_tracker(tracker), pytest.raises(ConfigError, match=message):
        consist.run(name="model", **options)


def test_importing_the_container_module_does_not_import_docker():
    """Importing consist and its container integration never imports the docker package."""
    code = "import sys, consist, consist.integrations.containers; sys.exit('docker' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr or "docker was imported"


def test_volume_host_paths_expand_the_home_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A volume written as '~/data' mounts the home folder's data, as the outputs' '~' paths do."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert make_spec("model:1", ["true"], {"~/data": "/data"}).volumes == {str(tmp_path / "data"): "/data"}


def test_version_difference_names_only_the_changed_parts():
    """A changed container version is reported by its changed parts; plain version strings are shown whole."""
    from consist.identity.reasons import version_difference

    old, new = version(), version(environment={"MODE": "slow"})
    shown = version_difference(old, new)
    assert shown.startswith("environment=") and "command=" not in shown and "image=" not in shown
    assert version_difference("v1", "v2") == "v1 -> v2"
    assert version_difference(None, "v2") == "None -> v2"
