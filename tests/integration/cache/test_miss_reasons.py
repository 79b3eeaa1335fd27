"""Why a step missed, in words: the module, commit or closure value that changed, a renamed input, an unreadable snapshot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import consist
from consist import Tracker


GIT = ["git", "-c", "user.email=qa@example.com", "-c", "user.name=qa"]


def _repo(tmp_path: Path, monkeypatch) -> Path:
    """An empty folder on sys.path to become a git repository (skips without git)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.syspath_prepend(str(repo))
    return repo


def _commit_all(repo: Path, message: str) -> None:
    """Commit everything in ``repo`` (made a repository with a .gitignore on first use)."""
    import subprocess

    if not (repo / ".git").exists():
        (repo / ".gitignore").write_text("runs/\n__pycache__/\n")
        subprocess.run(["git", "init", "-q", "."], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", message], cwd=repo, check=True)


def _module(folder: Path, name: str, helper_body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(
        "CALLS = []\n\n"
        f"def helper(x):\n    return {helper_body}\n\n"
        "def step(n):\n    CALLS.append(n)\n    return {'v': helper(n)}\n"
    )
    return path


def _fresh_import(name: str):
    import importlib
    import sys

    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


def test_callable_module_names_the_module_when_only_a_helper_changed(tmp_path, monkeypatch):
    """With code_identity='callable_module', editing a helper misses and the reason names the module file."""
    monkeypatch.syspath_prepend(str(tmp_path))
    path = _module(tmp_path, "qa3_steps_mod", "x + 1")
    tracker = Tracker(run_dir=tmp_path / "runs", code_identity="callable_module")
    mod = _fresh_import("qa3_steps_mod")
    tracker.run(mod.step, config={"n": 1}, outputs=["o"])
    path.write_text(path.read_text().replace("x + 1", "x + 2"))
    mod = _fresh_import("qa3_steps_mod")
    why = tracker.explain(mod.step, config={"n": 1}, outputs=["o"])
    assert not why.would_hit
    assert "module qa3_steps_mod (qa3_steps_mod.py) defining step changed" in why.reason
    assert "-    return x + 1" in str(why) and "+    return x + 2" in str(why)
    result = tracker.run(mod.step, config={"n": 1}, outputs=["o"])
    assert mod.CALLS == [1]
    assert "module qa3_steps_mod (qa3_steps_mod.py) defining step changed" in result.run.miss_reason


def test_repo_git_reasons_say_commit_or_uncommitted_changes(tmp_path, monkeypatch):
    """With code_identity='repo_git', a dirty edit and a later commit each miss, worded as such."""

    repo = _repo(tmp_path, monkeypatch)
    path = _module(repo, "qa3_steps_git", "x + 1")
    _commit_all(repo, "one")
    tracker = Tracker(run_dir=repo / "runs", code_identity="repo_git")
    mod = _fresh_import("qa3_steps_git")
    tracker.run(mod.step, config={"n": 1}, outputs=["o"])
    path.write_text(path.read_text().replace("x + 1", "x + 2"))
    dirty = tracker.run(_fresh_import("qa3_steps_git").step, config={"n": 1}, outputs=["o"])
    assert not dirty.cache_hit
    assert "uncommitted changes in the repository holding step changed" in dirty.run.miss_reason
    _commit_all(repo, "two")
    committed = tracker.run(_fresh_import("qa3_steps_git").step, config={"n": 1}, outputs=["o"])
    assert not committed.cache_hit
    assert "git commit of the repository holding step changed" in committed.run.miss_reason


def test_list_input_renamed_with_same_content_says_renamed(tmp_path):
    """Renaming a list input's file (same bytes) misses, and the reason says it was renamed, not changed."""
    calls = []

    def step():
        calls.append(1)
        return {"ok": 1}

    tracker = Tracker(run_dir=tmp_path / "runs")
    (tmp_path / "raw.csv").write_text("v\n1\n")
    tracker.run(step, inputs=[tmp_path / "raw.csv"], outputs=["o"])
    (tmp_path / "raw.csv").rename(tmp_path / "raw_v2.csv")
    assert "input 'raw' renamed to 'raw_v2'" in str(tracker.explain(step, inputs=[tmp_path / "raw_v2.csv"], outputs=["o"]))
    result = tracker.run(step, inputs=[tmp_path / "raw_v2.csv"], outputs=["o"])
    assert calls == [1, 1]
    assert "input 'raw' renamed to 'raw_v2' (same content" in result.run.miss_reason


def test_closure_value_change_is_explained_as_such(tmp_path):
    """A step built by a factory with another closure value misses; explain says the source is unchanged."""

    def make(k):
        def scaled():
            return {"k": k}

        return scaled

    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.run("scaled", fn=make(1), outputs=["o"])
    why = tracker.explain("scaled", fn=make(2), outputs=["o"])
    assert not why.would_hit
    assert "source text is unchanged, so a default argument, closure value" in str(why)


def test_repo_git_sees_a_reloaded_helper_in_the_same_process(tmp_path, monkeypatch):
    """repo_git in a long session: editing and reloading a helper module (step untouched) is a miss, not a stale hit."""
    import importlib

    repo = _repo(tmp_path, monkeypatch)
    (repo / "qa3_helpers.py").write_text("def helper(x):\n    return x + 1\n")
    (repo / "qa3_uses_helper.py").write_text(
        "import qa3_helpers\nCALLS = []\n\ndef step(n):\n    CALLS.append(n)\n    return {'v': qa3_helpers.helper(n)}\n"
    )
    _commit_all(repo, "one")
    tracker = Tracker(run_dir=repo / "runs", code_identity="repo_git")
    helpers = _fresh_import("qa3_helpers")
    mod = _fresh_import("qa3_uses_helper")
    first = tracker.run(mod.step, config={"n": 1}, outputs=["o"])
    assert tracker.run(mod.step, config={"n": 1}, outputs=["o"]).cache_hit
    (repo / "qa3_helpers.py").write_text("def helper(x):\n    return x + 2\n")
    importlib.reload(helpers)  # what %autoreload does; the step's module is not reloaded
    again = tracker.run(mod.step, config={"n": 1}, outputs=["o"])
    assert mod.CALLS == [1, 1]
    assert not again.cache_hit
    assert consist.load(again.outputs["o"]) != consist.load(first.outputs["o"])


def test_undecodable_code_snapshot_only_loses_the_diff_in_explain(tmp_path, monkeypatch):
    """explain() still explains a code change when the stored source snapshot is not valid UTF-8."""
    module = tmp_path / "qa5_stepmod.py"
    module.write_text("def step(k: int):\n    return {'v': k}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    import qa5_stepmod

    tracker = Tracker(run_dir=tmp_path / "runs")
    tracker.run(qa5_stepmod.step, config={"k": 1}, outputs=["v"])
    snapshots = list(tracker.layout.code.glob("*.txt"))
    assert snapshots
    for path in snapshots:
        path.write_bytes(b"\xff\xfe\x00not text\x80")
    module.write_text("def step(k: int):\n    return {'v': k * 2}\n")
    importlib.reload(qa5_stepmod)
    text = str(tracker.explain(qa5_stepmod.step, config={"k": 1}, outputs=["v"]))
    assert "code of step changed" in text
