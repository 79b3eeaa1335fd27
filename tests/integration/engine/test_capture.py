"""Capturing files a step writes: capture_dir patterns and capture_outputs folders, wherever the step runs."""

from __future__ import annotations

from pathlib import Path

import pytest

import consist
from consist import use_tracker


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("*.csv", ["sub__x", "y"]), ("**/*.csv", ["sub__x", "y"]), ("sub/*.csv", ["sub__x"])],
)
def test_capture_patterns_with_folders_match_paths_inside_the_folder(tracker, in_tmp, pattern, expected):
    """capture_pattern="**/*.csv" or "sub/*.csv" captures the matching files a tool writes, as glob users expect."""
    calls: list[str] = []

    def tool() -> None:
        calls.append(pattern)
        out = Path("outputs")
        (out / "sub").mkdir(parents=True, exist_ok=True)
        (out / "sub" / "x.csv").write_text("a\n1\n")
        (out / "y.csv").write_text("a\n2\n")
        (out / "notes.txt").write_text("not a table")

    with use_tracker(tracker):
        for _ in range(2):
            result = consist.run(fn=tool, capture_dir=Path("outputs"), capture_pattern=pattern)
    assert sorted(result.outputs) == expected
    assert calls == [pattern] and result.cache_hit


def test_captured_outputs_are_found_when_the_step_changes_directory(tracker, in_tmp, monkeypatch):
    """A relative capture_dir (or capture_outputs folder) still captures when the step chdirs away."""
    (in_tmp / "work").mkdir()

    def legacy(k: int) -> None:
        monkeypatch.chdir(in_tmp / "work")  # restored by monkeypatch at teardown
        (in_tmp / "outputs").mkdir(exist_ok=True)
        (in_tmp / "outputs" / "results.csv").write_text(f"a\n{k}\n")

    def wrapped(_consist_ctx, k: int) -> None:
        with _consist_ctx.capture_outputs("outputs2", pattern="*.csv"):
            monkeypatch.chdir(in_tmp / "work")
            (in_tmp / "outputs2").mkdir(exist_ok=True)
            (in_tmp / "outputs2" / "summary.csv").write_text(f"a\n{k}\n")

    with use_tracker(tracker):
        first = consist.run(fn=legacy, config={"k": 1}, capture_dir="outputs", capture_pattern="*.csv")
        monkeypatch.chdir(in_tmp)
        second = consist.run(fn=wrapped, config={"k": 1}, inject_context=True)
    assert first.outputs["results"].path == (in_tmp / "outputs" / "results.csv").resolve()
    assert second.outputs["summary"].path == (in_tmp / "outputs2" / "summary.csv").resolve()
