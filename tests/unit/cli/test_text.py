"""Plain-text rendering for the command: aligned tables, ages, durations; and a fast, light import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from consist.cli import catalog as cli_catalog
from consist.catalog import database
from consist.cli.text import key_values, parse_age, seconds, text_table


def test_tables_align_columns_and_right_align_numbers():
    """Headers are upper-case, text is left-aligned and numbers right-aligned."""
    out = text_table(["name", "n"], [["a", 1], ["long name", 100]], width=None).splitlines()
    assert out == ["NAME" + " " * 9 + "N", "a" + " " * 12 + "1", "long name  100"]


def test_wide_tables_are_clipped_to_the_width():
    """A table wider than the width clips its widest column with an ellipsis."""
    out = text_table(["id", "path"], [["r1", "/very/long/" + "x" * 80]], width=40)
    assert all(len(line) <= 40 for line in out.splitlines()) and "…" in out


def test_cells_stay_on_one_line():
    """Newlines inside values do not break rows; None shows empty and lists are joined."""
    out = text_table(["a", "b", "c"], [["x\ny", None, ["p", "q"]]], width=None)
    assert out.splitlines()[1].split() == ["x", "y", "p,", "q"]


def test_whole_floats_keep_their_point_so_1_0_and_1_read_differently():
    """Configs digest 1.0 and 1 differently, so the command shows them differently."""
    shown = key_values([("x", 1.0), ("n", 1), ("big", 1e20), ("r", 2.5), ("m", -3.0)])
    assert shown.splitlines() == ["x    1.0", "n    1", "big  1e+20", "r    2.5", "m    -3.0"]


def test_key_values_skip_empty_values():
    """Key/value blocks align values and leave out empty ones."""
    assert key_values([("run", "r1"), ("year", None), ("scenario", "base")]) == "run       r1\nscenario  base"


def test_ages_and_dates():
    """Ages count back from now; ISO dates are read as they are; anything else is refused."""
    assert parse_age("30d", 1_000_000_000.0) == 1_000_000_000.0 - 30 * 86400
    assert parse_age("2w", 0.0) == -14 * 86400 and parse_age("90m", 0.0) == -5400
    assert parse_age("2026-01-31", 0.0) > 1.7e9
    with pytest.raises(ValueError, match="neither an age"):
        parse_age("soon", 0.0)


def test_durations_read_well():
    """Durations are shown in the unit that reads best."""
    assert [seconds(v) for v in (0.0123, 42.0, 185.0, 7300.0)] == ["0.012 s", "42.0 s", "3m 05s", "2h 01m"]


def test_command_startup_imports_no_heavy_module():
    """Importing the command and building its parser loads neither duckdb, pyarrow, polars nor pandas."""
    code = (
        "import sys, consist.cli; consist.cli.app.build_parser(); "
        "print(sorted(m for m in ('duckdb', 'pyarrow', 'polars', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_command_knows_the_catalog_schema_version():
    """The command's copy of the catalog schema version matches the catalog's."""
    assert cli_catalog.CATALOG_SCHEMA_VERSION == database.CATALOG_SCHEMA_VERSION
