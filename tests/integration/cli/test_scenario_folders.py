"""The `consist` command on a multi-year scenario folder: hints for typos, depth-limited lineage, failed steps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import consist
from consist import Tracker, use_tracker
from consist.cli.app import EXIT_PROBLEMS, EXIT_USAGE, main
from consist.errors import ConfigError


def grow(pop: pd.DataFrame, year: int) -> pd.DataFrame:
    out = pop.copy()
    out["value"] = out["value"] * 1.1 + (year - 2020)
    return out


def diverge(pop: pd.DataFrame) -> pd.DataFrame:
    raise RuntimeError("model diverged")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A run folder with a three-year chain in one scenario and a scenario that failed halfway."""
    root = tmp_path_factory.mktemp("flows")
    raw = root / "raw.csv"
    raw.write_text("value,category\n1.0,a\n2.0,b\n")
    tracker = Tracker(run_dir=root / "runs")
    with use_tracker(tracker):
        with consist.scenario("growth_0.02") as sc:
            sc.run(name="base", fn=lambda raw: raw, inputs={"raw": raw}, outputs=["pop"])
            for year in (2020, 2030, 2040):
                last = sc.run(name="grow", fn=grow, inputs=["pop"], load_inputs=True, config={"year": year},
                              year=year, outputs=["pop"])  # fmt: skip
        with pytest.raises(RuntimeError), consist.scenario("broken") as sc:
            sc.run(name="grow", fn=grow, inputs={"pop": raw}, config={"year": 2020}, outputs=["pop"])
            sc.run(name="diverge", fn=diverge, inputs=["pop"], load_inputs=True, outputs=["bad"])
    return {"run_dir": str(root / "runs"), "last": last.run.id, "path": str(last.outputs["pop"].path)}


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_query_error_keeps_duckdbs_suggestion_on_its_one_line(folder, capsys):
    """A misspelt table or column in `consist query` gives one line that carries DuckDB's close match."""
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "query", "SELECT * FROM runz")
    assert code == EXIT_USAGE and len(err.strip().splitlines()) == 1 and 'Did you mean "runs"' in err
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "query", "SELECT idd FROM runs")
    assert code == EXIT_USAGE and len(err.strip().splitlines()) == 1 and '"id"' in err


def test_runs_with_an_unknown_filter_value_names_the_close_match(folder, capsys):
    """An empty `consist runs` says which filter value no run has and suggests the close one."""
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "runs", "--scenario", "growth_0.2")
    assert code == 0 and "no run has --scenario 'growth_0.2'; did you mean growth_0.02" in err
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "runs", "--step", "gorw")
    assert "did you mean grow" in err
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "runs", "--status", "hit")
    assert "--hits only" in err
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "runs", "--step", "grow", "--year", "1999")
    assert "no run has" not in err  # every value exists; only their combination matches nothing


def test_lineage_cut_by_depth_says_so_instead_of_shown_above(folder, capsys):
    """`lineage --depth N` marks the runs whose inputs it did not follow, and a negative depth is one usage line."""
    ref = f"{folder['last']}:pop"
    code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "lineage", ref, "--depth", "1")
    assert code == 0 and "shown above" not in out and "not followed: depth limit" in out
    assert out.count("made by grow") == 2 and "raw input" not in out
    code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "lineage", ref)
    assert out.count("made by grow") == 3 and "raw input" in out and "not followed" not in out
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "lineage", ref, "--depth", "-1")
    assert code == EXIT_USAGE and err.startswith("consist: --depth must be 0 or more")


def test_lineage_rejects_a_negative_max_depth(folder):
    """`tracker.lineage(..., max_depth=-1)` is a ConfigError rather than an unbounded walk."""
    tracker = Tracker(run_dir=folder["run_dir"])
    artifact = tracker.get_artifacts_for_run(folder["last"]).outputs["pop"]
    with pytest.raises(ConfigError, match="max_depth must be"):
        tracker.lineage(artifact, max_depth=-1)
    assert tracker.lineage(artifact, max_depth=0).truncated


def test_show_of_a_failed_scenario_names_its_failed_step(folder, capsys):
    """`consist show` of a scenario that failed halfway lists the step that raised next to the finished ones."""
    code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "show", "broken")
    assert code == 0 and "failed steps\n  diverge" in out and "RuntimeError: model diverged" in out


def test_verify_counts_in_the_singular_and_mentions_gc(folder, capsys, tmp_path):
    """`verify` of one run with one missing output says "1 problem ... 1 run" and that gc'd files count as missing."""
    path = Path(folder["path"])
    saved = path.read_bytes()
    path.unlink()
    try:
        code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "verify", folder["last"])
    finally:
        path.write_bytes(saved)
    assert code == EXIT_PROBLEMS and "1 problem in the outputs of 1 run:" in out and "consist gc" in out


def test_pointing_at_the_work_folder_names_the_run_folder_inside_it(folder, capsys):
    """`--run-dir` given the folder that holds the run folder says which subfolder is the run folder."""
    work = str(Path(folder["run_dir"]).parent)
    code, _, err = cli(capsys, "--run-dir", work, "runs")
    assert code == 3 and len(err.strip().splitlines()) == 1
    assert "not a consist run folder" in err and f"Run folders inside it: {folder['run_dir']}" in err
