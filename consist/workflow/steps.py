"""From ``run()``'s arguments to a :class:`~consist.engine.spec.StepSpec`, for every caller.

``Tracker.run``, ``sc.run``, ``tracker.explain`` and ``tracker.would_hit`` take the same
options; :func:`plan_step` reads them once: which argument is the name and which the
function, which executor runs the step (a container step's spec comes from
:mod:`consist.executors.containers`), and which scenario is its parent.
Running the spec is the engine's (:func:`consist.engine.step.run_step`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from consist._active import active_scenario
from consist.engine.spec import build_spec, step_args
from consist.errors import ConfigError
from consist.upstream import refuse_unknown

if TYPE_CHECKING:
    from consist.engine.host import StepHost
    from consist.engine.spec import StepSpec

# Options of Tracker.run (and sc.run) besides the step and its name.
RUN_OPTIONS = frozenset(
    {
        "fn", "inputs", "config", "outputs", "load_inputs", "runtime_kwargs", "inject_context", "depends_on",
        "capture_dir", "capture_pattern", "year", "iteration", "tags", "run_id", "cache_mode", "facet",
        "code_version", "code_identity", "parent_id", "model", "executor", "container", "output_paths",
        "cache_hydration", "hydrate_to", "hydrate_dir", "hydrate_overwrite",
    }
)
# Options only a function step takes (refused with executor="container").
_FUNCTION_ONLY = ("load_inputs", "runtime_kwargs", "capture_dir", "inject_context", "code_version", "code_identity")


def plan_step(host: StepHost, step: Any, name: Any, options: dict[str, Any], who: str = "run()") -> StepSpec:
    """The spec ``run(step, name, **options)`` would run on ``host`` (nothing executes)."""
    if not RUN_OPTIONS.issuperset(options):
        refuse_unknown(who, {key: value for key, value in options.items() if key not in RUN_OPTIONS}, RUN_OPTIONS)
    options = dict(options)
    name, fn = step_args(step, name, options.pop("fn", None), who)
    executor = options.pop("executor", "python")
    container, output_paths = options.pop("container", None), options.pop("output_paths", None)
    scenario = active_scenario(host)
    if options.get("parent_id") is None and scenario is not None:
        # Inside `with tracker.scenario(...)`, a plain run records the scenario as parent.
        options["parent_id"] = scenario.name
    same = scenario is not None and options.get("parent_id") == scenario.name
    options["scenario_config"] = scenario.config_snapshot if same else {}
    if options.get("cache_hydration") is None:
        # A plain run inside a scenario is one of its steps: the scenario's hydration applies.
        options["cache_hydration"] = (scenario.step_cache_hydration if same else None) or "metadata"
    if executor != "python" or container is not None or (output_paths is not None and fn is None):
        from consist.executors.containers import executor_spec

        unsupported = {key: options.pop(key, None) for key in _FUNCTION_ONLY}
        options.pop("capture_pattern", None)
        return executor_spec(
            executor, container=container, output_paths=output_paths, fn=fn, name=name,
            unsupported=unsupported, **options,
        )
    if fn is None or not callable(fn):
        raise ConfigError(f"run() needs a callable fn=; got {fn!r}.")
    spec = build_spec(name, fn, output_paths=output_paths, **options)
    if output_paths is not None and spec.cache_hydration == "outputs-requested":
        if spec.hydrate_to is not None and dict(spec.hydrate_to) != dict(output_paths):
            raise ConfigError("output_paths= and hydrate_to= name different destinations; pass one of them.")
        # A hit copies the cached outputs where a miss writes them, replacing what is there as a miss would.
        spec.hydrate_to, spec.hydrate_overwrite = output_paths, True
    return spec
