"""The `consist` command over a real run folder: listing, showing, lineage, queries, upkeep, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import consist
from consist import Tracker, use_tracker
from consist.cli.app import EXIT_CATALOG, EXIT_NOT_FOUND, EXIT_PROBLEMS, EXIT_USAGE, main


def clean(raw: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    return raw[raw["value"] > threshold]


def summarise(cleaned: pd.DataFrame) -> pd.DataFrame:
    return cleaned.groupby("category", as_index=False)["value"].mean()


def broken(raw: pd.DataFrame) -> pd.DataFrame:
    raise RuntimeError("model diverged")


def populate(root: Path) -> dict[str, str]:
    """A run folder with a two-step scenario, a plain run, a cache hit and a failed run."""
    raw = root / "raw.csv"
    raw.write_text("value,category\n0.1,a\n0.7,b\n0.9,a\n0.6,b\n")
    tracker = Tracker(run_dir=root / "runs")
    with use_tracker(tracker):
        with consist.scenario("baseline") as sc:
            first = sc.run(fn=clean, inputs={"raw": raw}, config={"threshold": 0.5}, outputs=["cleaned"], year=2030,
                           tags=["nightly"])  # fmt: skip
            second = sc.run(fn=summarise, inputs=["cleaned"], load_inputs=True, outputs=["summary"], year=2030)
        plain = consist.run(fn=clean, inputs={"raw": raw}, config={"threshold": 0.8}, outputs=["cleaned"])
        hit = consist.run(fn=clean, inputs={"raw": raw}, config={"threshold": 0.8}, outputs=["cleaned"])
        with pytest.raises(RuntimeError):
            consist.run(fn=broken, inputs={"raw": raw}, outputs=["out"])
    assert hit.cache_hit
    return {
        "run_dir": str(root / "runs"),
        "clean": first.run.id,
        "summary": second.run.id,
        "plain": plain.run.id,
        "hit": hit.run.id,
        "summary_artifact": second.outputs["summary"].id,
        "summary_path": str(second.outputs["summary"].path),
        "raw": str(raw),
    }


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return populate(tmp_path_factory.mktemp("cli"))


@pytest.fixture
def own_folder(tmp_path: Path) -> dict[str, str]:
    """A run folder this test may change."""
    return populate(tmp_path)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("consist: "), err
    assert "Traceback" not in err
    return lines[0]


def consist_script() -> list[str]:
    script = Path(sys.executable).parent / "consist"
    if script.exists():
        return [str(script)]
    found = shutil.which("consist")
    if found is None:
        pytest.skip("the consist script is not installed (pip install -e .)")
    return [found]


# -- the installed entry point ---------------------------------------------------------


def test_installed_command_lists_runs_newest_first(folder):
    """`consist runs` (the installed script) prints a table of runs, the latest first."""
    proc = subprocess.run([*consist_script(), "--run-dir", folder["run_dir"], "runs"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "STEP", "SCENARIO"]
    ids = [line.split()[0] for line in lines[1:]]
    assert ids.index(folder["hit"]) < ids.index(folder["plain"]) < ids.index(folder["clean"])
    assert "FAILED" not in proc.stdout and "failed" in proc.stdout


def test_python_dash_m_consist_runs_the_same_command(tmp_path):
    """`python -m consist --help` prints the `consist` command's usage and exits with 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "consist", "--help"], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: consist ")
    for command in ("runs", "show", "lineage", "query", "schema"):
        assert command in proc.stdout


def test_installed_command_reports_a_missing_run_dir_in_one_line(tmp_path):
    """A run folder that does not exist gives one line on stderr and exit code 3."""
    proc = subprocess.run(
        [*consist_script(), "runs", "--run-dir", str(tmp_path / "nope")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == EXIT_NOT_FOUND
    assert "no run folder at" in one_line_error(proc.stderr) and proc.stdout == ""


# -- runs ------------------------------------------------------------------------------


def test_runs_filters(folder, capsys):
    """Filters by scenario, year, tag, status and cache hits select the matching runs only."""
    base = ("--run-dir", folder["run_dir"], "runs", "--format", "csv")
    code, out, _ = cli(capsys, *base, "--scenario", "baseline")
    assert code == 0
    ids = {r["id"] for r in pl.read_csv(out.encode()).to_dicts()}
    assert ids == {folder["clean"], folder["summary"]}
    _, out, _ = cli(capsys, *base, "--tag", "nightly", "--year", "2030")
    assert pl.read_csv(out.encode())["id"].to_list() == [folder["clean"]]
    _, out, _ = cli(capsys, *base, "--status", "failed")
    assert pl.read_csv(out.encode())["name"].to_list() == ["broken"]
    _, out, _ = cli(capsys, *base, "--hits", "only")
    assert pl.read_csv(out.encode())["id"].to_list() == [folder["hit"]]
    _, out, _ = cli(capsys, *base, "--kind", "scenario")
    assert pl.read_csv(out.encode())["id"].to_list() == ["baseline"]


def test_runs_accepts_tags_spelling(folder, capsys):
    """`consist runs --tags NAME` filters like --tag (the issue's spelling)."""
    code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "runs", "--format", "csv", "--tags", "nightly")
    assert code == 0
    assert pl.read_csv(out.encode())["id"].to_list() == [folder["clean"]]


def test_runs_pages_and_json(folder, capsys):
    """--limit and --page walk the runs newest first; --format json gives one object per run."""
    _, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "runs", "--format", "json", "--limit", "100")
    every = [r["id"] for r in json.loads(out)]
    assert len(every) == 6
    code, out, err = cli(capsys, "--run-dir", folder["run_dir"], "runs", "--limit", "2", "--page", "2")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == every[2:4]
    assert "--page 3" in err
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "runs", "--limit", "0")
    assert code == EXIT_USAGE and "--limit" in one_line_error(err)


def test_options_after_the_command_and_from_the_environment(folder, capsys, monkeypatch):
    """--run-dir works after the command name, and CONSIST_RUN_DIR stands in for it."""
    code, out, _ = cli(capsys, "runs", "--run-dir", folder["run_dir"], "--kind", "scenario")
    assert code == 0 and "baseline" in out
    monkeypatch.setenv("CONSIST_RUN_DIR", folder["run_dir"])
    code, out, _ = cli(capsys, "runs", "--kind", "scenario")
    assert code == 0 and "baseline" in out


# -- show ------------------------------------------------------------------------------


def test_show_prints_config_inputs_outputs_and_why_it_ran(folder, capsys):
    """`show` gives the config, input and output hashes and sizes, timing, and the miss reason."""
    code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "show", folder["clean"])
    assert code == 0
    assert "threshold  0.5" in out and "why it ran" in out and "no earlier run" in out
    assert "raw.csv" in out and "(raw input)" in out and "cleaned.parquet" in out and "this run" in out
    assert "took" in out and "scenario   baseline" in out.replace("scenario    ", "scenario   ")


def test_show_a_hit_names_the_reused_run_and_accepts_a_prefix(folder, capsys):
    """A cache hit says which run it reused; a unique start of an id is enough."""
    code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "show", folder["hit"][:-3])
    assert code == 0 and f"cache hit, reused the outputs of run {folder['plain']}" in out
    code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "show", folder["hit"], "--format", "json")
    assert json.loads(out)["reused_run_id"] == folder["plain"]


def test_show_unknown_and_ambiguous_ids(folder, capsys):
    """An unknown id and an ambiguous prefix each give one line and exit code 3."""
    code, out, err = cli(capsys, "--run-dir", folder["run_dir"], "show", "no-such-run")
    assert code == EXIT_NOT_FOUND and "no run has id 'no-such-run'" in one_line_error(err) and out == ""
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "show", "clean")
    assert code == EXIT_NOT_FOUND and "ambiguous" in one_line_error(err)


# -- lineage and artifacts -------------------------------------------------------------


def test_lineage_by_run_key_id_and_path(folder, capsys):
    """`lineage` accepts RUN:KEY, an artifact id or a path, and prints runs down to the raw input."""
    for ref in (f"{folder['summary']}:summary", folder["summary_artifact"], folder["summary_path"]):
        code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "lineage", ref)
        assert code == 0, ref
        lines = out.splitlines()
        assert lines[0].startswith("summary ")
        assert "made by summarise" in out and "made by clean" in out
        assert lines[-1].strip().startswith("└─ raw") and "(raw input)" in lines[-1]


def test_lineage_as_mermaid_and_svg(folder, capsys):
    """`lineage --format mermaid|svg` prints a flowchart or an SVG document."""
    _, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "lineage", f"{folder['summary']}:summary", "--format", "mermaid")
    assert out.startswith("flowchart LR") and out.count("-->") == 4
    _, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "lineage", f"{folder['summary']}:summary", "--format", "svg")
    assert out.startswith("<svg") and out.rstrip().endswith("</svg>")


def test_lineage_of_unknown_artifacts(folder, capsys):
    """An unknown artifact or key gives one line and exit code 3."""
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "lineage", "deadbeef")
    assert code == EXIT_NOT_FOUND and "no recorded artifact matches 'deadbeef'" in one_line_error(err)
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "lineage", f"{folder['summary']}:nope")
    assert code == EXIT_NOT_FOUND and "has no artifact 'nope'" in one_line_error(err)


def test_artifacts_lists_and_filters(folder, capsys):
    """`artifacts` lists artifacts with sizes and producers; --run and --key narrow the list."""
    code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "artifacts")
    assert code == 0 and "summary" in out and "(raw input)" in out
    _, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "artifacts", "--run", folder["summary"], "--format", "json")
    assert sorted(r["key"] for r in json.loads(out)) == ["cleaned", "summary"]
    _, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "artifacts", "--key", "raw", "--format", "json")
    assert [r["uri"] for r in json.loads(out)] == [str(Path(folder["raw"]).resolve())]


# -- query -----------------------------------------------------------------------------


def test_query_prints_a_table_and_writes_files(folder, capsys, tmp_path):
    """`query` prints a table, and writes csv, json and parquet files that read back alike."""
    sql = "SELECT name, count(*) AS n FROM runs WHERE kind = 'step' GROUP BY name ORDER BY name"
    code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "query", sql)
    assert code == 0 and out.splitlines()[0].split() == ["NAME", "N"] and "clean" in out
    expected = {"broken": 1, "clean": 3, "summarise": 1}
    for fmt in ("csv", "json", "parquet"):
        target = tmp_path / f"out.{fmt}"
        code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "query", sql, "--format", fmt, "--output", str(target))
        assert code == 0 and "wrote 3 rows" in err
        frame = {"csv": pl.read_csv, "json": pl.read_json, "parquet": pl.read_parquet}[fmt](target)
        assert dict(zip(frame["name"], frame["n"])) == expected


def test_query_mistakes_are_usage_errors(folder, capsys):
    """Bad SQL, or parquet without a file, gives one line and exit code 2."""
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "query", "SELEC 1")
    assert code == EXIT_USAGE and "query failed" in one_line_error(err)
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "query", "SELECT 1", "--format", "parquet")
    assert code == EXIT_USAGE and "--output" in one_line_error(err)


# -- verify, gc, rebuild -----------------------------------------------------------------


def test_verify_reports_modified_and_missing_outputs(own_folder, capsys):
    """`verify` passes on intact outputs and exits 1 naming each modified or missing file."""
    code, out, _ = cli(capsys, "--run-dir", own_folder["run_dir"], "verify")
    assert code == 0 and "hold their recorded bytes" in out
    Path(own_folder["summary_path"]).write_bytes(b"tampered")
    code, out, _ = cli(capsys, "--run-dir", own_folder["run_dir"], "verify", own_folder["summary"])
    assert code == EXIT_PROBLEMS and "was modified" in out and own_folder["summary_path"] in out
    code, _, err = cli(capsys, "--run-dir", own_folder["run_dir"], "verify", "no-such-run")
    assert code == EXIT_NOT_FOUND and "no-such-run" in one_line_error(err)


def test_gc_dry_run_deletes_nothing_then_gc_frees_files_and_keeps_records(own_folder, capsys):
    """A dry run lists what would go; a real gc deletes those files, keeps records and kept runs' files."""
    run_dir = Path(own_folder["run_dir"])
    before = sorted(p for p in run_dir.rglob("*.parquet") if ".consist" not in p.parts)
    code, out, _ = cli(capsys, "--run-dir", str(run_dir), "gc", "--older-than", "0s", "--keep", own_folder["hit"], "--dry-run")
    assert code == 0 and "would free" in out and own_folder["clean"] in out
    assert sorted(p for p in run_dir.rglob("*.parquet") if ".consist" not in p.parts) == before
    code, out, _ = cli(capsys, "--run-dir", str(run_dir), "gc", "--older-than", "0s", "--keep", own_folder["hit"])
    assert code == 0 and out.splitlines()[-1].startswith("freed")
    assert not (run_dir / own_folder["clean"]).exists() and not Path(own_folder["summary_path"]).exists()
    # The kept run is a cache hit of `plain`: the files it serves are still there.
    assert (run_dir / own_folder["plain"] / "cleaned.parquet").exists()
    code, out, _ = cli(capsys, "--run-dir", str(run_dir), "show", own_folder["clean"])
    assert code == 0 and "cleaned.parquet" in out
    assert Path(own_folder["raw"]).exists()  # raw inputs outside the run folder are never touched


def test_gc_needs_a_selection_and_known_keep_ids(own_folder, capsys):
    """gc without an age or keep-list, or with an unknown kept id, refuses with one line."""
    code, _, err = cli(capsys, "--run-dir", own_folder["run_dir"], "gc")
    assert code == EXIT_USAGE and "say which runs" in one_line_error(err)
    code, _, err = cli(capsys, "--run-dir", own_folder["run_dir"], "gc", "--keep", "typo-run", "--dry-run")
    assert code == EXIT_NOT_FOUND and "typo-run" in one_line_error(err)
    code, _, err = cli(capsys, "--run-dir", own_folder["run_dir"], "gc", "--older-than", "soon")
    assert code == EXIT_USAGE and "--older-than" in one_line_error(err)


def test_a_corrupt_catalog_file_is_reported_and_rebuilt(own_folder, capsys):
    """A damaged catalog file gives one line (exit 4) naming `consist rebuild`, which repairs it."""
    db = Path(own_folder["run_dir"]) / "provenance.duckdb"
    db.write_bytes(b"this is not a duckdb file" * 100)
    for argv in (["runs"], ["artifacts"], ["query", "SELECT 1"], ["verify"], ["gc", "--older-than", "1d", "--dry-run"]):
        code, out, err = cli(capsys, "--run-dir", own_folder["run_dir"], *argv)
        assert code == EXIT_CATALOG, argv
        assert "consist rebuild" in one_line_error(err) and out == ""
    code, out, _ = cli(capsys, "--run-dir", own_folder["run_dir"], "rebuild")
    assert code == 0 and "(6 runs)" in out
    code, out, _ = cli(capsys, "--run-dir", own_folder["run_dir"], "runs")
    assert code == 0 and own_folder["hit"] in out


@pytest.mark.parametrize(
    "argv",
    [["runs"], ["show", "x"], ["lineage", "x"], ["artifacts"], ["query", "SELECT 1"], ["verify"],
     ["gc", "--older-than", "1d"], ["rebuild"], ["schema", "export", "x"]],
)  # fmt: skip
def test_every_command_reports_a_missing_run_dir(tmp_path, capsys, argv):
    """Each command, pointed at a folder that is not a run folder, prints one line and exits 3."""
    code, out, err = cli(capsys, "--run-dir", str(tmp_path), *argv)
    assert code == EXIT_NOT_FOUND and "not a consist run folder" in one_line_error(err) and out == ""
    assert not (tmp_path / ".consist").exists()


def test_debug_prints_the_traceback(tmp_path, capsys):
    """--debug adds the traceback above the one-line message."""
    code, _, err = cli(capsys, "--debug", "--run-dir", str(tmp_path / "nope"), "runs")
    assert code == EXIT_NOT_FOUND and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("consist: ")


def test_rebuild_compacts_on_request(own_folder, capsys, monkeypatch):
    """`rebuild --compact` folds fresh records into a segment and the catalog still lists every run."""
    from consist.catalog import compaction

    monkeypatch.setattr(compaction, "GRACE_S", 0.0)  # folded fresh files otherwise stay a while for readers
    code, out, _ = cli(capsys, "--run-dir", own_folder["run_dir"], "rebuild", "--compact")
    assert code == 0 and "folded" in out and "(6 runs)" in out
    assert not [n for n in os.listdir(Path(own_folder["run_dir"]) / ".consist/records/fresh") if not n.startswith(".")]
    code, out, _ = cli(capsys, "--run-dir", own_folder["run_dir"], "runs", "--format", "json")
    assert len(json.loads(out)) == 6


def test_runs_see_a_run_recorded_after_the_catalog_file_was_built(own_folder, capsys):
    """A run recorded after the catalog file exists shows up without a rebuild."""
    tracker = Tracker(run_dir=own_folder["run_dir"])
    late = tracker.run(fn=clean, inputs={"raw": Path(own_folder["raw"])}, config={"threshold": time.time() % 1},
                       outputs=["cleaned"])  # fmt: skip
    _, out, _ = cli(capsys, "--run-dir", own_folder["run_dir"], "runs", "--limit", "1")
    assert late.run.id in out


def test_a_damaged_segment_is_named_in_one_line(own_folder, capsys):
    """A damaged record segment gives one line naming the file (exit 4), not a traceback."""
    tracker = Tracker(run_dir=own_folder["run_dir"])
    tracker.compact()
    segment = next((Path(own_folder["run_dir"]) / ".consist/records/segments").glob("seg-*.parquet"))
    segment.write_bytes(b"garbage")
    code, out, err = cli(capsys, "--run-dir", own_folder["run_dir"], "runs")
    assert code == EXIT_CATALOG and out == ""
    line = [x for x in err.splitlines() if not x.startswith("consist: warning:")]
    assert len(line) == 1 and segment.name in line[0] and "Traceback" not in err


def test_schema_export_prints_or_writes_a_sqlmodel_class(folder, capsys, tmp_path):
    """`schema export RUN:KEY` prints an editable SQLModel class; --output writes it to a file."""
    code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "schema", "export", f"{folder['summary']}:summary",
                       "--class-name", "Summary")  # fmt: skip
    assert code == 0 and "class Summary(SQLModel)" in out and "category" in out
    target = tmp_path / "models.py"
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "schema", "export", f"{folder['summary']}:summary",
                       "--output", str(target))  # fmt: skip
    assert code == 0 and "SQLModel" in target.read_text() and str(target) in err
    code, _, err = cli(capsys, "--run-dir", folder["run_dir"], "schema", "export", "nothing-like-this")
    assert code == EXIT_NOT_FOUND and "no recorded artifact" in one_line_error(err)


def test_runs_still_list_while_another_process_holds_the_catalog_file(folder, capsys):
    """When a writer holds the catalog file open, the command reads the records in process instead."""
    db = Path(folder["run_dir"]) / "provenance.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        code, out, _ = cli(capsys, "--run-dir", folder["run_dir"], "runs", "--kind", "scenario")
        assert code == 0 and "baseline" in out
    finally:
        holder.communicate("")


def test_the_command_uses_the_catalog_file_the_pipeline_named(tmp_path):
    """Given only --run-dir, the command reads the db_path the pipeline used instead of building a second file."""
    import subprocess
    import sys

    import consist
    from consist import Tracker

    tracker = Tracker(run_dir=tmp_path / "runs", db_path=tmp_path / "provenance.duckdb")
    with consist.use_tracker(tracker):
        consist.run(fn=lambda: {"x": 1}, name="one", outputs=["x"])
    out = subprocess.run([sys.executable, "-m", "consist", "--run-dir", str(tmp_path / "runs"), "runs"],
                         capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "one" in out.stdout
    assert not (tmp_path / "runs" / "provenance.duckdb").exists()
    assert Tracker(run_dir=tmp_path / "runs").db_path == tmp_path / "provenance.duckdb"
