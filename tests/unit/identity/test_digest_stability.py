"""Config digests are pinned: a faster walk must give the digests existing cache entries were made with.

The values below were computed by the config walk before its plain-leaf fast path
(main at f2fa1ae). A change here invalidates every cache entry of a config like it, so
it must come with a new ``CONFIG_TAG``, never silently.
"""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import PurePosixPath

import numpy as np
import pytest

from consist.identity.digests import config_identity, inputs_hash, step_signature


class Color(enum.Enum):
    RED = "red"


class Key(str):
    """A str subclass as a key (numpy.str_ is one): shown as its text, noted by its type."""


CONFIGS = {
    "none": None,
    "empty": {},
    "plain": {"threshold": 0.5, "name": "a", "n": 3, "flag": True, "nothing": None},
    "nested": {"a": {"b": [1, 2.0, "x"], "c": {"d": None}}, "e": (1, 2)},
    "nan": {"x": float("nan"), "y": float("inf"), "z": "NaN"},
    "int_key": {1: "a", "b": 2},
    "float_key": {1.5: "a"},
    "bool_values": {"t": True, "one": 1, "onef": 1.0},
    "enum": {"c": Color.RED, "k": "red"},
    "str_subclass_key": {Key("k"): 1},
    "numpy": {"i": np.int64(3), "f": np.float64(0.25), "s": np.str_("x")},
    "path_date": {"p": PurePosixPath("/a/b"), "d": dt.date(2020, 1, 2)},
    "set": {"s": {3, 1, 2}},
}

PINNED = {
    "none": "1cf86b58edaf3eba723e770675287cf3bcc382330b764d5a930c80f3347fff09",
    "empty": "1cf86b58edaf3eba723e770675287cf3bcc382330b764d5a930c80f3347fff09",
    "plain": "62e7f848bbfa889e55c3589c9bc8a56a3d39f9b910b9ba91715fbf4b7fb94f81",
    "nested": "a15b6f3b2d73a143ea877276948de3941d4cc4ce17f6ad0b5f222b3410de3896",
    "nan": "2e2aba00d47e2e8c7326ea5f26a89fd954e1657cc0874b54736f46059a440fd0",
    "int_key": "b463372982022ba711be9236cd51862fd9660f50977229e711b43a72134d7cdf",
    "float_key": "8ba2cc7b3d19293c16b9359860c06e6d6c704d980cf657f182953efba0dc6ab9",
    "bool_values": "940ff77d26e196ff5762703f3a5ec2fbf811ea7123113577565fad5fd764dc3c",
    "enum": "678dba94ace0fba548b42ccbf0b9e179e7f3383367d506108f094e8a8ba5be72",
    "str_subclass_key": "64e431a8549894b8b2c97ff7fe85d2c61666d05d1385f21992bf62b8c18b37db",
    "numpy": "cdd3a8cbafac9f130dc32e03507cc1a05a81f6fd311dab8acb7f111911d9b6cf",
    "path_date": "87ba7bdfabb296d36b2b4e5947e5b46b1b4bd9612c5ea240342dc467b66b8c7a",
    "set": "52a7df863be65ec84dc5ef393be65af10a2e42278c790aee0afdf4e7a0f48e3a",
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_config_digests_are_the_ones_existing_entries_were_made_with(name):
    assert config_identity(CONFIGS[name])[1] == PINNED[name]


def test_a_dict_changed_in_place_digests_anew():
    """The same object, mutated between two calls: two digests (nothing is kept per object)."""
    config = {"threshold": 0.5, "zones": [1, 2]}
    first = config_identity(config)[1]
    config["zones"].append(3)
    second = config_identity(config)[1]
    config["threshold"] = 0.6
    assert len({first, second, config_identity(config)[1]}) == 3


def test_inputs_and_signature_digests_are_pinned():
    assert inputs_hash({"raw": "ab" * 32}) == "0d50eb4dd35b951f0087bc8df15353cf9210e445f211760f9155c6be5c816cfe"
    assert step_signature("c" * 64, "k" * 64, "i" * 64, 0) == (
        "0aed3751a8083eb85a98e147121888d8ea7aed31ef0b334db2578cc933967af3"
    )
