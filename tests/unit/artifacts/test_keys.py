"""Output keys: the same rules however often a key is checked."""

from __future__ import annotations

import pytest

from consist.artifacts.files import check_key
from consist.errors import UnsafeKeyError


@pytest.mark.parametrize("bad", ["", "  ", ".", "..", ".hidden", "a/b", "a\\b", "a\x00b", "x" * 201, "é" * 101, None, 3])
def test_unsafe_keys_are_refused_every_time(bad):
    """A refused key stays refused after safe keys were checked (the memo holds only safe ones)."""
    for _ in range(2):
        check_key("persons_2030")
        with pytest.raises(UnsafeKeyError):
            check_key(bad)


def test_safe_keys_come_back_unchanged():
    for key in ("persons_2030", "x" * 200, "é" * 100, "人口"):
        assert check_key(key) == key
        assert check_key(key) == key


def test_a_str_subclass_is_checked_and_returned_as_given():
    class Name(str):
        pass

    key = Name("cleaned")
    assert check_key(key) is key
    with pytest.raises(UnsafeKeyError):
        check_key(Name("a/b"))
