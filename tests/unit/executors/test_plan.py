"""How the client decides what a task carries: identity by value or by name, payloads that pickle."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import pickle

import pytest

from consist import ConfigError
from consist.executors.adapters import Adapter, InlineExecutor, adapt
from consist.executors.plan import by_value, check_payloads, host_of, payload, plan
from consist.executors.task import Payload
from tests.helpers import sweep_steps


class Model:
    def step(self, config):
        return config


def test_importable_functions_travel_by_name_others_by_value():
    """Module-level functions (also behind partials and methods) are identified again on the worker."""
    assert not by_value(sweep_steps.simulate)
    assert not by_value(functools.partial(sweep_steps.simulate, log="x"))
    assert not by_value(Model().step)

    def local(config):
        return config

    assert by_value(local)
    assert by_value(lambda config: config)
    namespace = {"__name__": "__main__"}
    exec("def cell(config):\n    return config\n", namespace)
    assert by_value(namespace["cell"])


def test_adapt_names_the_executor_kinds():
    """None runs inline; pools are recognised; anything else is refused with the accepted kinds."""
    assert adapt(None).kind == "inline" and adapt(None).dumps is None
    with cf.ThreadPoolExecutor(1) as pool:
        assert adapt(pool).kind == "threads"
    with cf.ProcessPoolExecutor(1) as pool:
        assert adapt(pool).kind == "processes" and adapt(pool).dumps is pickle.dumps
    with pytest.raises(ConfigError, match="dask.distributed.Client or consist.executors.RayExecutor"):
        adapt(object())


def test_inline_executor_hands_errors_back_through_the_future():
    """The inline executor runs at submit time and never raises from submit."""
    future = InlineExecutor().submit(int, "x")
    assert isinstance(future.exception(), ValueError)
    assert InlineExecutor().submit(int, "4").result() == 4


def test_a_payload_that_does_not_pickle_names_its_config(tracker):
    """A config holding an unpicklable value is named before anything is submitted."""

    class Opaque:
        def __reduce__(self):
            raise TypeError("cannot pickle Opaque")

    items = plan(tracker, sweep_steps.simulate, [{"i": 0}, {"i": 1}], {"runtime_kwargs": {"log": Opaque()}}, None, None)
    adapter = Adapter(InlineExecutor(), "processes", pickle.dumps)
    host = host_of(tracker, "workers")
    tasks = [(i, payload(host, i)) for i in items]
    assert all(isinstance(t, Payload) for _, t in tasks)
    with pytest.raises(ConfigError, match=r"configs\[0\] of the map cannot be sent to the processes executor"):
        check_payloads(adapter, tasks, sweep_steps.simulate)


def test_each_payload_gets_a_fresh_attempt_token(tracker):
    """Two payloads of one config differ only by their attempt token."""
    item = plan(tracker, sweep_steps.simulate, [{"i": 0}], {}, None, None)[0]
    first, second = payload(host_of(tracker, "workers"), item), payload(host_of(tracker, "workers"), item)
    assert first.token != second.token and first.expected == second.expected
    assert first.spec.code_info is None  # importable: the worker identifies it again


def test_a_process_pool_refuses_a_notebook_cell_function_by_name(tracker, monkeypatch):
    """A function of an interactive __main__ (no file to re-import) cannot reach a process pool."""
    import sys
    import types

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    namespace = {"__name__": "__main__"}
    exec("def cell(config):\n    return None\n", namespace)
    cell = namespace["cell"]
    items = plan(tracker, cell, [{"i": 0}], {}, None, None)
    tasks = [(i, payload(host_of(tracker, "workers"), i)) for i in items]
    assert tasks[0][1].spec.code_info is not None  # the client's identity travels with it
    with pytest.raises(ConfigError, match=r"__main__\.cell cannot be sent to the processes executor: it is defined in "
                                          r"__main__ of an interactive session .* Dask or Ray"):
        check_payloads(Adapter(InlineExecutor(), "processes", pickle.dumps), tasks, cell)
