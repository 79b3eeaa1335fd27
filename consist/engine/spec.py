"""What a caller said about one step (:class:`StepSpec`), built in one place.

Every way of running a step (``Tracker.run``, ``sc.run``, ``sc.trace``, container steps,
recovery, ``explain``) describes it through :func:`build_spec`, so defaults and the
spelling rules (one string is a one-item list, the name defaults to the function's)
are applied once. Pure: no I/O, no hashing, no catalog.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consist.errors import ConfigError


def listed(value: Any) -> list[Any]:
    """``value`` as a list; one string or path is one item, never its characters.

    ``outputs="cleaned"``, ``tags="nightly"`` and ``depends_on=Path("config.yaml")``
    are natural spellings of a one-item list.
    """
    if value is None:
        return []
    if type(value) is list or type(value) is tuple:
        return list(value)
    if isinstance(value, (str, os.PathLike)):
        return [value]
    return list(value)


@dataclass(slots=True)
class StepSpec:
    """Everything a caller said about one step."""

    name: str
    fn: Any = None
    inputs: Mapping[str, Any] | Sequence[Any] | None = None
    config: Any = None
    outputs: Sequence[str] = ()
    load_inputs: bool | None = None
    runtime_kwargs: dict[str, Any] | None = None
    inject_context: bool = False
    depends_on: Sequence[Any] = ()
    capture_dir: Path | None = None
    capture_pattern: str = "*"
    year: int | None = None
    iteration: int | None = None
    tags: Sequence[str] = ()
    run_id: str | None = None
    parent_id: str | None = None
    model: str | None = None
    cache_mode: str = "reuse"
    facets: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    code_version: str | None = None
    code_identity: str | None = None
    kind: str = "step"
    code_target: Any = None
    # Cache hydration (see consist.engine.hydration): what to copy on a hit, or restore on a miss.
    cache_hydration: str = "metadata"
    hydrate_to: Mapping[str, Any] | None = None
    hydrate_dir: Any = None
    hydrate_overwrite: bool = False
    # Where outputs are copied after an execution (a function step's output_paths=).
    output_paths: Mapping[str, Any] | None = None
    # The enclosing scenario's canonical config= (see consist.engine.scenario_config).
    scenario_config: dict[str, Any] = field(default_factory=dict)
    # (CodeInfo, source) computed by a map's client (see consist.executors): used as is
    # where the function arrived by value and has no source to read (a worker).
    code_info: tuple[Any, str | None] | None = None


def build_spec(
    name: str | None = None,
    fn: Any = None,
    *,
    outputs: Any = None,
    depends_on: Any = None,
    tags: Any = None,
    capture_dir: str | os.PathLike[str] | None = None,
    facet: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    **fields: Any,
) -> StepSpec:
    """The one place a :class:`StepSpec` is made, from the options as users spell them.

    ``facet=`` is the user's spelling of :attr:`StepSpec.facets`; the other keywords are
    :class:`StepSpec` fields.
    """
    return StepSpec(
        name=name or step_name(fn),
        fn=fn,
        outputs=listed(outputs),
        depends_on=listed(depends_on),
        tags=listed(tags),
        capture_dir=Path(capture_dir) if capture_dir is not None else None,
        facets=dict(facet or {}),
        meta=dict(meta or {}),
        **fields,
    )


def step_name(fn: Any) -> str:
    """The default step name: the function's name (a callable object's class name)."""
    return getattr(fn, "__name__", None) or type(fn).__name__


def step_args(step: Any, name: Any, fn: Any, who: str) -> tuple[str | None, Any]:
    """``(name, fn)`` from the spellings ``run(fn)``, ``run("name", fn)``, ``run("name", fn=fn)``, ``run(fn, name=...)``."""
    if fn is None and callable(name) and not isinstance(name, str):
        name, fn = None, name  # run("clean", clean_data)
    if isinstance(step, str):
        if name is not None:
            raise ConfigError(f"{who} got the name twice: {step!r} and name={name!r}.")
        name = step
    elif step is not None:
        if fn is not None:
            raise ConfigError(f"{who} got the function twice: positionally and as fn=.")
        fn = step
    return name, fn
