"""consist.executors._docker_engine against a real Docker engine (no mocks).

Skipped as a whole when no engine answers; start one with ``bash scripts/start-docker.sh``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from consist.executors import _docker_engine as engine

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

IMAGE_1 = "consist-test/busybox:1"
IMAGE_2 = "consist-test/busybox:2"


def _container_ids() -> set[str]:
    """This process's containers (others, such as a parallel test run, come and go)."""
    mine = f"{engine.LABEL}={os.getpid()}"
    return {c.id for c in engine.client().containers.list(all=True, filters={"label": mine})}


def test_digest_is_a_content_id_and_differs_between_images():
    d1, d2 = engine.image_digest(IMAGE_1), engine.image_digest(IMAGE_2)
    for digest in (d1, d2):
        assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert d1 != d2


def test_digest_is_stable_and_resolves_back_to_itself():
    d1 = engine.image_digest(IMAGE_1)
    assert engine.image_digest(IMAGE_1) == d1
    assert engine.image_digest(d1) == d1


def test_image_variants_really_differ_in_content():
    one = engine.run(IMAGE_1, ["sh", "-c", "cat /etc/consist-variant || echo none"])
    two = engine.run(IMAGE_2, ["cat", "/etc/consist-variant"])
    assert (one.stdout, two.stdout) == ("none\n", "2\n")


def test_run_reports_exit_code_and_separate_streams():
    before = _container_ids()
    out = engine.run(IMAGE_1, ["sh", "-c", "echo hi; echo err >&2; exit 3"])
    assert out.exit_code == 3
    assert out.stdout == "hi\n"
    assert out.stderr == "err\n"
    assert 0 <= out.duration_s < 60
    assert _container_ids() <= before  # the container was removed


def test_run_accepts_a_string_command_env_and_working_dir():
    out = engine.run(
        IMAGE_1,
        "sh -c 'echo $GREETING; pwd'",
        environment={"GREETING": "hello"},
        working_dir="/tmp",
    )
    assert (out.exit_code, out.stdout) == (0, "hello\n/tmp\n")


def test_bind_mounts_are_read_write(tmp_path: Path):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    dst.mkdir()
    (src / "a.txt").write_text("payload\n")
    out = engine.run(
        IMAGE_1, ["cp", "/in/a.txt", "/out/b.txt"], volumes={str(src): "/in", str(dst): "/out"}
    )
    assert out.exit_code == 0, out.stderr
    assert (dst / "b.txt").read_text() == "payload\n"


def test_network_is_disabled_by_default():
    out = engine.run(IMAGE_1, ["sh", "-c", "ls /sys/class/net"])
    assert out.stdout.split() == ["lo"]


def test_timeout_kills_and_removes_the_container():
    before = _container_ids()
    with pytest.raises(TimeoutError, match="killed"):
        engine.run(IMAGE_1, ["sh", "-c", "echo started; sleep 60"], timeout_s=1)
    assert _container_ids() <= before


def test_missing_image_raises_image_not_found():
    name = "consist-test/does-not-exist:0"
    with pytest.raises(engine.ImageNotFoundError, match="docker pull") as info:
        engine.image_digest(name)
    assert name in str(info.value)
    assert isinstance(info.value, LookupError)
    with pytest.raises(engine.ImageNotFoundError):
        engine.run(name, ["true"])


def test_unreachable_engine_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    engine.reset_client()
    try:
        with pytest.raises(engine.EngineUnavailableError) as info:
            engine.client()
        message = str(info.value)
        assert "tcp://127.0.0.1:1" in message
        assert "start-docker.sh" in message and "DOCKER_HOST" in message
        with pytest.raises(engine.EngineUnavailableError):
            engine.image_digest(IMAGE_1)
    finally:
        monkeypatch.undo()
        engine.reset_client()
    assert engine.image_digest(IMAGE_1).startswith("sha256:")  # back on the real engine


def test_tail_keeps_the_last_lines():
    assert engine.tail("a\nb\nc\n", 2) == "b\nc"
    assert engine.tail("a\nb", 5) == "a\nb"
    assert engine.tail("a\nb", 0) == ""


def test_importing_the_module_does_not_import_docker():
    code = (
        "import sys, consist, consist.executors._docker_engine; "
        "sys.exit('docker' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr or "docker was imported"


def test_missing_docker_package_says_pip_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # makes `import docker` fail
    engine.reset_client()
    try:
        with pytest.raises(ModuleNotFoundError, match="pip install docker"):
            engine.client()
    finally:
        monkeypatch.undo()
        engine.reset_client()
