"""The source check accepts every ordinary way a function is written, and rejects text of other code.

A false rejection only costs a warning and the source snapshot; a false acceptance would
give two functions one identity. Both directions are checked here.
"""

from __future__ import annotations

import functools
import re
import textwrap
import warnings

import pytest

from consist.identity.code import identify
from consist.identity.source_check import describes


class _Base:
    def run(self):
        return 1


class _Model(_Base):
    """A class with private names, super() and decorated methods."""

    def run(self):
        """A docstring
        spanning lines, indented."""
        self.__secret = re.sub("a", "b", "abc")  # a call on an imported module
        return super().run() + len(self.__secret)

    @staticmethod
    def static(a, /, b, *rest, key=1, **extra):
        return [x for x in rest if x != key]

    @functools.lru_cache(maxsize=None)  # noqa: B019
    def cached(self):
        return 2

    @classmethod
    def build(cls):
        return cls()


def _factory(scale):
    def scaled(x):
        return x * scale

    class Inner:
        def method(self):
            def deepest():
                return scale, super(Inner, self).__init__

            return deepest

    return scaled, Inner().method()


def _decorator(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args)

    return wrapper


@_decorator
def _decorated(x):
    return x + 1


async def _agen():
    yield 1


_LAMBDAS = {"head": lambda df: df.head(), "tail": lambda df, n=2: df.tail(n)}
_CALL = dict(
    fn=lambda x: (x,
                  x + 1),
    other=1,
)


@pytest.mark.parametrize(
    "fn",
    [
        _Model.run,
        _Model.static,
        _Model.cached,
        _Model.build,
        _factory(2)[0],
        _factory(2)[1],
        _decorated,
        _decorated.__wrapped__,
        _agen,
        _LAMBDAS["head"],
        _LAMBDAS["tail"],
        _CALL["fn"],
        textwrap.dedent,
    ],
    ids=lambda fn: getattr(fn, "__qualname__", repr(fn)),
)
def test_ordinary_functions_are_identified_by_their_source(fn):
    """Methods, closures, decorators, lambdas inside calls and pytest-rewritten modules keep source identity."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info, source = identify(fn)
    assert info.kind == "callable_source" and source


def test_text_of_other_code_is_rejected():
    """Text that compiles to different code (an edited body, a changed constant, another name) is not accepted."""
    namespace: dict = {}
    exec(compile("def step(x):\n    return x + 1\n", "<cell>", "exec"), namespace)
    code = namespace["step"].__code__
    assert describes("def step(x):\n    return x + 1\n", code)
    assert describes("def step(x):  # a comment\n    return x + 1\n", code)
    assert not describes("def step(x):\n    return x + 2\n", code)
    assert not describes("def step(x):\n    return x * 1\n", code)
    assert not describes("def other(x):\n    return x + 1\n", code)
    assert not describes("def step(y):\n    return y + 1\n", code)
    assert not describes("def step(x):\n    return x +\n", code)
