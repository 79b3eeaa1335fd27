"""A scenario's config= counts toward a container step's identity too (real Docker engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

import consist
from tests.helpers.containers import container_step, make_data, runs

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_engine")]

WORK = "cat /inputs/input.csv > /outputs/results.csv && echo ran >> /outputs/runs.log"


def test_a_container_step_reruns_when_the_scenario_config_changes(tracker, tmp_path: Path):
    """Same image, command and inputs: a hit under the same scenario config, a new container when it changes."""
    data = make_data(tmp_path)

    def session(price: float) -> consist.RunResult:
        with consist.scenario("policy", tracker=tracker, config={"fuel_price": price}):
            return container_step(tracker, data, script=WORK, image="consist-test/busybox:1")

    assert not session(3.0).cache_hit and runs(data) == 1
    assert session(3.0).cache_hit and runs(data) == 1
    changed = session(4.0)
    assert not changed.cache_hit and runs(data) == 2
    assert changed.run.config["scenario_config"] == {"fuel_price": 4.0}
