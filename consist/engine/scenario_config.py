"""A scenario's own config, part of the identity of every step run inside it.

``consist.scenario("high_gas", config={"fuel_price": 5.0})`` records the config on the
scenario (its scalar values as the scenario's facets) and adds it to each step's
canonical config under :data:`KEY`, so a step whose own config, code and inputs are
unchanged still re-executes when the scenario's config differs. The step function
never receives it: only what the identity hashes and the run records show changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consist.errors import ConfigError
from consist.identity.digests import flatten

KEY = "scenario_config"
_FACET_TYPES = (bool, int, float, str)


def with_scenario_config(snapshot: dict[str, Any], scenario_config: Mapping[str, Any]) -> dict[str, Any]:
    """A step's canonical config with the scenario's config added under :data:`KEY`."""
    if not scenario_config:
        return snapshot
    if KEY in snapshot:
        raise ConfigError(
            f"the step's config has a key {KEY!r}, which holds the scenario's config= in every step of a "
            "scenario with config=; rename that key."
        )
    return {**snapshot, KEY: dict(scenario_config)}


def scenario_facets(snapshot: Mapping[str, Any], facet_from: Sequence[str] | None) -> dict[str, Any]:
    """The scenario's facets from its config: every scalar leaf, or those ``facet_from`` names.

    ``facet_from`` is the upstream Consist spelling; keys are dotted for nested values.
    """
    leaves = flatten(snapshot)
    if facet_from is None:
        return {k: v for k, v in leaves.items() if isinstance(v, _FACET_TYPES)}
    if isinstance(facet_from, str):
        facet_from = [facet_from]
    unknown = [k for k in facet_from if k not in leaves]
    if unknown:
        known = ", ".join(sorted(leaves)) or "nothing: give config= too"
        raise ConfigError(f"scenario facet_from names {unknown}, which are not keys of its config= (it has {known}).")
    return {k: leaves[k] for k in facet_from if isinstance(leaves[k], _FACET_TYPES)}
