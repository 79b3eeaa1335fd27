"""scripts/fetch-mermaid.sh (run by scripts/docs.sh): fetches Mermaid's script for offline diagrams; offline it
notes and goes on, quickly, so the docs build never fails or stalls for want of a network."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "fetch-mermaid.sh"
TOOLS = ("bash", "timeout", "mktemp", "tar", "mkdir", "cp", "rm", "dirname", "sleep", "gzip")
pytestmark = pytest.mark.skipif(os.name == "nt" or not all(map(shutil.which, TOOLS)), reason="a POSIX shell script")


def bin_folder(tmp_path: Path, npm_body: str | None) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in TOOLS:
        (folder / tool).symlink_to(shutil.which(tool))
    if npm_body is not None:
        (folder / "npm").write_text(f"#!{shutil.which('bash')}\n{npm_body}\n")
        (folder / "npm").chmod(0o755)
    return folder


def fetch(tmp_path: Path, folder: Path, **env: str) -> tuple[subprocess.CompletedProcess, float, Path]:
    target = tmp_path / "site-assets" / "mermaid.min.js"
    start = time.monotonic()
    done = subprocess.run([shutil.which("bash"), str(SCRIPT), str(target)], env={"PATH": str(folder), **env},
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return done, time.monotonic() - start, target


def test_a_packed_script_is_unpacked_into_place(tmp_path: Path):
    package = tmp_path / "package" / "dist" / "mermaid.min.js"
    package.parent.mkdir(parents=True)
    package.write_text("window.mermaid = {};")
    tgz = tmp_path / "mermaid-11.0.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(tmp_path / "package", arcname="package")
    done, _, target = fetch(tmp_path, bin_folder(tmp_path, f"cp {tgz} ."))
    assert done.returncode == 0 and target.read_text() == "window.mermaid = {};"


@pytest.mark.parametrize("npm_body", [None, "exit 1"], ids=["no npm", "npm fails"])
def test_without_the_script_the_build_goes_on_after_a_note(tmp_path: Path, npm_body: str | None):
    done, _, target = fetch(tmp_path, bin_folder(tmp_path, npm_body))
    assert done.returncode == 0 and "from a CDN" in done.stderr and not target.exists()


def test_a_stalled_npm_is_stopped_after_the_time_limit(tmp_path: Path):
    done, took, target = fetch(tmp_path, bin_folder(tmp_path, "sleep 50"), CONSIST_NPM_TIMEOUT="2")
    assert done.returncode == 0 and "could not be fetched" in done.stderr and not target.exists()
    assert took < 20
