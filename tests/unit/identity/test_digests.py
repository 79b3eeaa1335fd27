"""Identity: canonical config forms and digests are stable and explain themselves."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from pydantic import BaseModel

from consist.errors import UnhashableInputError
from consist.identity.digests import canonical, config_hash, config_snapshot, diff_configs, digest, inputs_hash, step_signature


class Model(BaseModel):
    threshold: float = 0.5
    remove_outliers: bool = True


@dataclasses.dataclass
class DC:
    threshold: float = 0.5
    remove_outliers: bool = True


class St(msgspec.Struct):
    threshold: float = 0.5
    remove_outliers: bool = True


def test_key_order_does_not_change_the_hash():
    """Two dicts with the same items in different order hash the same."""
    a = config_hash(config_snapshot({"a": 1, "b": {"x": 1, "y": 2}}))
    b = config_hash(config_snapshot({"b": {"y": 2, "x": 1}, "a": 1}))
    assert a == b


def test_whole_floats_differ_from_ints():
    """Since consist.config/2 a float keeps its type: 1.0 and 1 are different configs (range(1.0) fails)."""
    assert config_hash({"n": 1.0}) != config_hash({"n": 1})
    assert config_snapshot({"n": 1.0}) == {"n": 1.0} and isinstance(config_snapshot({"n": 1.0})["n"], float)
    assert config_hash({"n": 1.5}) != config_hash({"n": 1})


def test_pydantic_dataclass_struct_and_dict_agree():
    """A pydantic model, a dataclass, a msgspec Struct and a dict with the same fields hash the same."""
    hashes = {config_hash(config_snapshot(c)) for c in (Model(), DC(), St(), {"threshold": 0.5, "remove_outliers": True})}
    assert len(hashes) == 1


def test_paths_sets_and_tuples_have_canonical_forms():
    """Paths become POSIX strings, tuples lists, sets sorted lists."""
    snap = canonical({"p": Path("a/b.csv"), "t": (1, 2), "s": {3, 1, 2}})
    assert snap == {"p": "a/b.csv", "t": [1, 2], "s": [1, 2, 3]}


def test_unhashable_value_names_where_it_sits():
    """An object with no canonical form is reported with its location in the config."""
    with pytest.raises(UnhashableInputError, match=r"config\['a'\]\['b'\]"):
        config_snapshot({"a": {"b": object()}})


def test_non_mapping_config_is_rejected():
    """A config that is not a mapping-like object is a clear error."""
    with pytest.raises(UnhashableInputError, match="expected a dict"):
        config_snapshot([1, 2])


def test_config_hash_is_stable_across_processes_and_hash_seeds():
    """The same config hashes identically in processes with different PYTHONHASHSEED."""
    code = (
        "from consist.identity.digests import config_hash, config_snapshot;"
        "print(config_hash(config_snapshot({'b': {3, 1, 2}, 'a': {'z': 1, 'y': [1.0, 'x']}})))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONHASHSEED": seed, "PATH": ""}, check=True
        ).stdout.strip()
        for seed in ("0", "1", "12345")
    }
    assert len(outs) == 1
    assert len(outs.pop()) == 64


def test_digest_tags_separate_kinds():
    """The same payload under two tags gives two digests."""
    assert digest("consist.a/1", "x") != digest("consist.b/1", "x")


def test_inputs_hash_ignores_order():
    """Input order does not change the inputs digest, but names do."""
    assert inputs_hash({"a": "1", "b": "2"}) == inputs_hash({"b": "2", "a": "1"})
    assert inputs_hash({"a": "1", "b": "2"}) != inputs_hash({"a": "2", "b": "1"})


def test_signature_depends_on_every_component():
    """Changing code, config, inputs or epoch changes the signature."""
    base = step_signature("c", "k", "i", 0)
    assert len({base, step_signature("C", "k", "i", 0), step_signature("c", "K", "i", 0),
                step_signature("c", "k", "I", 0), step_signature("c", "k", "i", 1)}) == 5


def test_diff_configs_lists_changed_leaves():
    """Config diffs name dotted leaves with old and new values."""
    diff = diff_configs({"a": {"b": 1}, "c": 2}, {"a": {"b": 3}, "d": 4})
    assert ("a.b", 1, 3) in diff
    assert ("c", 2, "<absent>") in diff
    assert ("d", "<absent>", 4) in diff
