"""scripts/install-chromium.sh (run by .ci/run): a browser on PATH is used as is; a failing or stalled apt-get only skips."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "install-chromium.sh"
TOOLS = ("bash", "timeout", "id", "sleep", "touch")
pytestmark = pytest.mark.skipif(os.name == "nt" or not all(map(shutil.which, TOOLS)), reason="a POSIX shell script")
ROOT_USER = getattr(os, "geteuid", lambda: -1)() == 0


def bin_folder(tmp_path: Path, fakes: dict[str, str]) -> Path:
    """A PATH folder with the shell tools the script uses and the given fake commands (name -> bash body)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        (folder / tool).symlink_to(shutil.which(tool))
    for name, body in fakes.items():
        (folder / name).write_text(f"#!{shutil.which('bash')}\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


def install(folder: Path, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    done = subprocess.run([shutil.which("bash"), str(SCRIPT)], env={"PATH": str(folder), **env},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return done, time.monotonic() - start


def test_a_browser_the_tests_know_is_used_without_apt(tmp_path: Path):
    """google-chrome on PATH (as on hosted CI images): the picture tests find it, so apt-get is not run."""
    marker = tmp_path / "apt-ran"
    folder = bin_folder(tmp_path, {"google-chrome": "exit 0", "apt-get": f"touch {marker}"})
    done, _ = install(folder)
    assert done.returncode == 0 and not marker.exists()


@pytest.mark.skipif(not ROOT_USER, reason="the script installs only as root")
def test_a_failing_apt_get_warns_and_succeeds(tmp_path: Path):
    done, _ = install(bin_folder(tmp_path, {"apt-get": "exit 100"}))
    assert done.returncode == 0 and "picture tests will skip" in done.stderr


@pytest.mark.skipif(not ROOT_USER, reason="the script installs only as root")
def test_a_stalled_apt_get_is_stopped_after_the_time_limit(tmp_path: Path):
    done, took = install(bin_folder(tmp_path, {"apt-get": "sleep 50"}), CONSIST_APT_TIMEOUT="2")
    assert done.returncode == 0 and "took over 2 s" in done.stderr
    assert took < 20
