"""Drawing a recorded scenario by name, with the tracker given or taken from ``use_tracker``."""

from __future__ import annotations

import consist


def make() -> None:
    return None


def test_a_recorded_scenario_is_drawn_by_name_with_the_tracker_in_use(tracker):
    """consist.scenario_graph("name") inside use_tracker reads the tracker in use and draws its steps."""
    with consist.scenario("base", tracker=tracker) as sc:
        sc.run(fn=make)
    with consist.use_tracker(tracker):
        graph = consist.scenario_graph("base")
    assert graph.name == "base"
    assert [run.name for run in graph.runs] == ["make"]
    assert graph.runs == consist.scenario_graph("base", tracker=tracker).runs
