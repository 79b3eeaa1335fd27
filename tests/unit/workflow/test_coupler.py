"""The coupler on its own: keys, errors with close matches, declarations, typed schemas."""

from __future__ import annotations

import warnings

import pytest

from consist import (
    Artifact,
    ConfigError,
    Coupler,
    CouplerAttributeError,
    CouplerKeyError,
    coupler_schema,
)
from consist.workflow.coupler import CouplerWarning, closest


def art(key: str, h: str = "0" * 64) -> Artifact:
    return Artifact(id=key, key=key, uri=f"/data/{key}.parquet", hash=h, size=1, driver="parquet")


def test_set_get_require_keys_contains():
    """A set key is found by require, get, `in`, keys() and indexing; an unset one by get's default."""
    c = Coupler()
    a = art("population")
    assert c.set("population", a) is a
    assert c.require("population") is a
    assert c.get("population") is a
    assert c["population"] is a
    assert "population" in c and "persons" not in c
    assert c.keys() == ["population"]
    assert c.get("persons") is None
    assert c.get("persons", "fallback") == "fallback"
    assert len(c) == 1 and list(c) == ["population"]


def test_require_missing_key_lists_keys_and_closest_match():
    """require() of an unknown key names the available keys and the closest spelling."""
    c = Coupler()
    c.update({"population": art("population"), "zones": art("zones")})
    with pytest.raises(CouplerKeyError, match=r"no key 'popluation'.*'population', 'zones'.*Did you mean 'population'\?"):
        c.require("popluation")
    with pytest.raises(KeyError):
        c.require("nothing_like_it")


def test_require_on_empty_coupler_says_none_yet():
    """With nothing set, the error says so instead of listing an empty set."""
    with pytest.raises(CouplerKeyError, match="available keys: none yet"):
        Coupler().require("population")


def test_closest_matches_by_spelling_or_containment():
    """The suggestion finds a misspelling and a key contained in the requested one."""
    assert closest("zar_skims", ["zarr_skims", "population"]) == "zarr_skims"
    assert closest("shared_data", ["data"]) == "data"
    assert closest("xyz", ["population"]) is None


def test_update_accepts_result_outputs_mapping_and_keywords():
    """update() takes a mapping (such as result.outputs), an object with .outputs, or keywords."""

    class Result:
        outputs = {"a": art("a")}

    c = Coupler()
    c.update({"x": art("x")})
    c.update(Result())
    c.update(y=art("y"))
    assert c.keys() == ["x", "a", "y"]


def test_set_rejects_non_artifacts_and_unsafe_keys():
    """Only Artifacts can be stored, under keys that are safe file names."""
    c = Coupler()
    with pytest.raises(ConfigError, match="must hold an Artifact; got a str"):
        c.set("population", "population.parquet")
    with pytest.raises(ConfigError, match="cannot be used"):
        c.set("../escape", art("x"))
    with pytest.raises(ConfigError, match="takes a mapping"):
        c.update(42)


def test_declared_outputs_and_missing_required():
    """Required declared keys are missing until set; optional ones never are; required is sticky."""
    c = Coupler()
    c.declare_outputs("skims", "population", required={"skims": True})
    c.declare_outputs("debug", required=False)
    assert c.missing_declared_outputs() == ["skims"]
    c.declare_outputs("population", required=True)
    c.declare_outputs("population", required=False)
    assert c.missing_declared_outputs() == ["population", "skims"]
    c.set("skims", art("skims"))
    assert c.missing_declared_outputs() == ["population"]
    assert c.declared_outputs == {"skims": True, "population": True, "debug": False}


def test_declare_outputs_accepts_keys_as_one_list():
    """declare_outputs(["a", "b"], required=True) declares both keys, like declare_outputs("a", "b")."""
    c = Coupler()
    c.declare_outputs(["zarr_skims", "population"], required=True)
    c.declare_outputs(("debug_report",), required={"debug_report": False})
    assert c.declared_outputs == {"zarr_skims": True, "population": True, "debug_report": False}
    assert c.missing_declared_outputs() == ["population", "zarr_skims"]


def test_collect_by_keys_accepts_keys_as_one_list():
    """collect_by_keys(outputs, ["a", "b"]) sets the same keys as collect_by_keys(outputs, "a", "b")."""
    c = Coupler()
    outputs = {"a": art("a"), "b": art("b"), "c": art("c")}
    assert sorted(c.collect_by_keys(outputs, ["a", "b"])) == ["a", "b"]
    assert c.keys() == ["a", "b"]


def test_declare_outputs_rejects_required_for_undeclared_keys():
    """A required= mapping naming a key that is not declared is an error, not a silent no-op."""
    with pytest.raises(ConfigError, match=r"required= names \['skimz'\]"):
        Coupler().declare_outputs("skims", required={"skimz": True})


def test_warn_undocumented_key_once_with_suggestion():
    """With warn_undocumented, setting an undeclared key warns once and suggests the declared spelling."""
    c = Coupler()
    c.declare_outputs("zarr_skims", required=True, warn_undocumented=True, description={"zarr_skims": "travel times"})
    with pytest.warns(CouplerWarning, match="Setting undocumented coupler key 'zar_skims'.*did you mean 'zarr_skims'"):
        c.set("zar_skims", art("zar_skims"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c.set("zar_skims", art("zar_skims"))  # once per key
        c.set("zarr_skims", art("zarr_skims"))  # documented: silent
    assert c.descriptions == {"zarr_skims": "travel times"}


def test_sync_warns_when_another_step_replaces_a_key_silently():
    """A key written by one step and re-written by another that did not declare it warns, naming both runs; last wins."""
    c = Coupler()
    first, second = art("persons", "1" * 64), art("persons", "2" * 64)
    c.sync({"persons": first}, run_id="run-a", step="a", declared=frozenset())
    with pytest.warns(CouplerWarning, match=r"produced by run 'run-a' \(step 'a'\).*replaced by run 'run-b' \(step 'b'\)"):
        c.sync({"persons": second}, run_id="run-b", step="b", declared=frozenset())
    assert c.require("persons") is second
    assert c.writer("persons") == "run-b"
    assert c.replaced == {"persons": ["run-a", "run-b"]}


def test_sync_is_silent_for_the_same_step_or_an_explicit_set():
    """Re-running one step, or one function under per-year names, or an explicit set() replaces without a warning."""
    c = Coupler()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c.sync({"persons": art("persons")}, run_id="r1", step="simulate", declared=frozenset(), code="c1")
        c.sync({"persons": art("persons")}, run_id="r2", step="simulate", declared=frozenset(), code="c1")
        c.sync({"persons": art("persons")}, run_id="r3", step="simulate_2030", code="c1")
        c.sync({"persons": art("persons")}, run_id="r4", step="simulate_2040", code="c1")
        c.set("persons", art("persons"))
        c.sync({"persons": art("persons")}, run_id="r5", step="third", declared=frozenset())
    assert c.replaced == {}


def test_sync_warns_for_another_step_even_when_it_declared_the_key():
    """Two different steps both declaring the same output key warn: declaring is not replacing on purpose."""
    c = Coupler()
    c.sync({"persons": art("persons", "1" * 64)}, run_id="r1", step="a", declared=frozenset({"persons"}), code="ca")
    with pytest.warns(CouplerWarning, match="coupler.set"):
        c.sync({"persons": art("persons", "2" * 64)}, run_id="r2", step="b", declared=frozenset({"persons"}), code="cb")
    assert c.writer("persons") == "r2"


@coupler_schema
class Workflow:
    """A schema with two keys."""

    zarr_skims: Artifact
    synthetic_population: Artifact


def test_typed_schema_reads_sets_and_documents_keys():
    """A typed view returns the artifact per attribute, sets keys by assignment and documents the schema's keys."""
    c = Coupler()
    typed = c.typed(Workflow)
    a = art("zarr_skims")
    c.set("zarr_skims", a)
    assert typed.zarr_skims is a
    typed.synthetic_population = art("synthetic_population")
    assert "synthetic_population" in c
    assert set(c.declared_outputs) == {"zarr_skims", "synthetic_population"}
    assert sorted(dir(typed)) == ["synthetic_population", "zarr_skims"]


def test_typed_schema_unset_and_unknown_attributes_raise_clear_errors():
    """An unset schema key raises CouplerAttributeError (an AttributeError); a non-schema name lists the keys."""
    typed = Coupler().typed(Workflow)
    with pytest.raises(CouplerAttributeError, match=r"Workflow.zarr_skims is not set yet"):
        _ = typed.zarr_skims
    assert getattr(typed, "synthetic_population", None) is None
    with pytest.raises(AttributeError, match=r"has no key 'skims'; its keys are \['zarr_skims', 'synthetic_population'\]"):
        _ = typed.skims


def test_coupler_schema_needs_annotations_and_accepts_undecorated_classes():
    """A class without annotated keys is rejected; an undecorated class works like a decorated one."""
    with pytest.raises(ConfigError, match="no annotated attributes"):

        @coupler_schema
        class Empty:
            pass

    class Plain:
        persons: Artifact

    c = Coupler()
    c.set("persons", art("persons"))
    assert c.typed(Plain).persons.key == "persons"
