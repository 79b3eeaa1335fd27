"""The public surface: `__all__` is sorted and lists exactly the public names."""

from __future__ import annotations

import subprocess
import sys

import consist


def test_all_is_sorted_and_complete():
    """Every public name in the package namespace is in __all__, sorted, and nothing else is."""
    public = {
        name
        for name, value in vars(consist).items()
        if not name.startswith("_") and not isinstance(value, type(sys)) and name not in {"annotations"}
    }
    assert consist.__all__ == sorted(consist.__all__)
    assert set(consist.__all__) == public


def test_import_does_not_load_heavy_dependencies():
    """A plain `import consist` loads neither docker, zarr, duckdb, pandas nor polars."""
    code = (
        "import sys, consist; "
        "print(sorted(m for m in ('docker', 'zarr', 'duckdb', 'pandas', 'polars', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_map_is_the_sweep_function_and_leaves_the_builtin_alone():
    """consist.map runs sweeps; it shadows the builtin map only inside consist's namespace."""
    import builtins

    from consist.executors.sweep import run_map

    assert "map" in consist.__all__ and consist.map is not builtins.map
    assert consist.map.__module__ == "consist.api" and callable(run_map)
    assert list(map(str, [1, 2])) == ["1", "2"]


def test_runs_table_and_diff_are_public_functions_and_tracker_methods():
    """The daily-view helpers are reachable from the package and from a tracker."""
    assert {"runs_table", "diff"} <= set(consist.__all__)
    assert callable(consist.Tracker.runs_table) and callable(consist.Tracker.diff)


def test_names_for_users_coming_from_upstream_consist_are_exported():
    """output_path and the two upstream-spelling errors are public; the upstream option objects are not."""
    for name in ("output_path", "UpstreamNameError", "UpstreamOptionError"):
        assert name in consist.__all__
    assert issubclass(consist.UpstreamOptionError, TypeError)
    assert issubclass(consist.UpstreamNameError, ImportError)
    for name in ("ExecutionOptions", "CacheOptions", "OutputPolicyOptions"):
        assert name not in consist.__all__
