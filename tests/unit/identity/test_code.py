"""Code identity: every callable has one, and it changes when its code does."""

from __future__ import annotations

import functools

import pytest

from consist.identity.code import identify
from consist.errors import ConfigError


def _fn(source: str):
    ns: dict = {}
    exec(source, ns)
    return ns["f"]


def plain(x):
    return x + 1


def test_source_identity_records_where_it_came_from():
    """The default identity is the function's source, with module, qualname and line recorded."""
    info, source = identify(plain)
    assert info.kind == "callable_source" and "return x + 1" in source
    assert info.qualname == "plain" and info.line is not None and info.file.endswith("test_code.py")


def test_exec_functions_fall_back_to_bytecode():
    """A function without source still gets an identity from its code object, which tracks edits."""
    a, b, c = _fn("def f(x):\n    return x + 1\n"), _fn("def f(x):\n    return x + 1\n"), _fn("def f(x):\n    return x + 2\n")
    ia, ib, ic = identify(a)[0], identify(b)[0], identify(c)[0]
    assert ia.kind == "bytecode"
    assert ia.hash == ib.hash != ic.hash


def test_partial_arguments_count():
    """functools.partial arguments are part of the identity."""
    assert identify(functools.partial(plain, 1))[0].hash != identify(functools.partial(plain, 2))[0].hash


def test_module_and_version_recipes():
    """callable_module hashes the whole module; code_version bypasses inspection."""
    assert identify(plain, "callable_module")[0].kind == "callable_module"
    v1, v2 = identify(plain, version="1")[0], identify(plain, version="2")[0]
    assert v1.kind == "version" and v1.hash != v2.hash


def test_git_recipe_falls_back_outside_a_repository(tmp_path):
    """repo_git outside a git repository falls back to the module recipe rather than failing."""
    assert identify(_fn("def f():\n    return 1\n"), "repo_git")[0].kind in {"bytecode", "callable_source", "repo_git"}


def test_unknown_recipe_is_refused():
    """An unknown recipe names the valid ones."""
    with pytest.raises(ConfigError, match="callable_source"):
        identify(plain, "magic")


def test_default_arguments_and_closures_count():
    """Lambdas made in a loop differ by their defaults and captured values, not just their code."""
    by_default = [identify(lambda offset=offset: offset)[0].hash for offset in (1, 2, 1)]
    assert by_default[0] == by_default[2] != by_default[1]

    def make(scale):
        def step(x):
            return x * scale

        return step

    assert identify(make(2))[0].hash != identify(make(3))[0].hash
    assert identify(make(2))[0].hash == identify(make(2))[0].hash


def test_uncanonical_closure_values_count_by_type():
    """A captured object with no canonical form does not break identity."""

    class Model:
        pass

    model = Model()

    def step():
        return model

    assert identify(step)[0].hash == identify(step)[0].hash


def test_recursive_closure_terminates():
    """A nested function that refers to itself still gets an identity."""

    def outer():
        def fact(n):
            return 1 if n <= 1 else n * fact(n - 1)

        return fact

    assert len(identify(outer())[0].hash) == 64


def test_mutable_closure_values_do_not_change_identity():
    """A list the step appends to (an execution counter) does not change its identity as it grows."""
    calls = []

    def step():
        calls.append(1)

    before = identify(step)[0].hash
    calls.extend([1, 2, 3])
    assert identify(step)[0].hash == before
