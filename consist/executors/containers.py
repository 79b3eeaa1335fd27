"""Container steps: a command run in a Docker image, as a cached and recorded step.

A container step is an ordinary engine step (:func:`consist.engine.step.run_step`) whose
function starts a container. Its code identity is an explicit version built from what
decides the container's behaviour: the image's content id (``sha256:...``, never the
tag), the command, the environment and the container-side mount points (plus the
working directory). Host paths are deliberately left out, so moving the data folder
on the host keeps the cache; the inputs' content hashes count as for any step.

After the container exits, each declared output (key -> host path) is copied into the
run's own folder and logged from there: the cache entry then survives the host folder
being moved, cleaned or overwritten by the next run. The container's stdout and stderr
are kept as the ``container_logs`` output (a folder with ``stdout.log`` and
``stderr.log``), also when it fails.

This module owns the container-specific rules only; it never talks to the catalog or
the index itself (the engine does), and imports ``docker`` only through
:mod:`consist.executors._docker_engine`, inside functions.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist._active import active_scenario, current_tracker
from consist.engine.spec import StepSpec, build_spec
from consist.errors import ConfigError, ContainerTimeoutError
from consist.executors.container_checks import (
    check_reachable,
    check_written,
    container_path_of,
    copier,
    create_missing_mounts,
    exit_error,
    link_on_host,
    listing,
    stamp,
    timeout_error,
)
from consist.executors.container_spec import (
    CONTAINER_KEYS,
    LOGS_KEY,
    _Job,
    container_version,
    make_spec,
    parse_outputs,
)

if TYPE_CHECKING:
    from consist.engine.context import RunContext
    from consist.engine.host import StepHost
    from consist.models import RunResult

__all__ = ["container_step", "executor_spec", "run_container"]


def run_container(
    *,
    tracker: StepHost | None = None,
    run_id: str | None = None,
    image: str,
    command: str | Sequence[str],
    volumes: Mapping[str | os.PathLike[str], str] | None = None,
    inputs: Mapping[str, Any] | Sequence[Any] | None = None,
    outputs: Mapping[str, str | os.PathLike[str]] | None = None,
    environment: Mapping[str, str] | None = None,
    working_dir: str | None = None,
    name: str | None = None,
    config: Any = None,
    depends_on: Sequence[str | os.PathLike[str]] | None = None,
    year: int | None = None,
    iteration: int | None = None,
    tags: Sequence[str] | None = None,
    facet: Mapping[str, Any] | None = None,
    parent_id: str | None = None,
    model: str | None = None,
    cache_mode: str = "reuse",
    cache_hydration: str = "metadata",
    hydrate_to: Mapping[str, str | os.PathLike[str]] | None = None,
    hydrate_dir: str | os.PathLike[str] | None = None,
    hydrate_overwrite: bool = False,
    network_disabled: bool = True,
    timeout_s: float | None = None,
) -> RunResult:
    """Run ``command`` in a Docker container as a tracked, cached step.

    On a cache hit (same image content, command, environment, container-side mounts,
    working directory, config and input content as a completed run whose stored
    outputs are intact) no container starts and the earlier outputs are returned.
    Resolving the image to its content id is the one engine call a hit makes.

    Parameters
    ----------
    tracker
        The tracker to record into (default: the one set by ``consist.use_tracker``).
    run_id
        Id to record this execution under (suffixed when already used); also the
        step name unless ``name`` is given.
    image
        An image on the engine (``name:tag``, ``name@sha256:...`` or an id). Its
        content id, not the tag, enters the cache key; nothing is pulled.
    command
        A list of arguments (run as is) or a string (split shell-style by docker).
    volumes
        ``{host path: container path}`` bind mounts (read-write). Only the container
        paths are part of the cache key.
    inputs
        Files or folders whose content is part of the cache key (a list, or a mapping
        of name -> path or Artifact), as in :meth:`consist.Tracker.run`.
    outputs
        ``{key: host path}`` files or folders the container writes. Each must be
        written by this run; it is copied into the run's folder and logged under its
        key. The key ``"container_logs"`` is reserved.
    environment
        Environment variables for the container (part of the cache key; recorded by
        name only).
    working_dir
        The working directory inside the container (part of the cache key).
    name
        Step name, used to compare runs when explaining a miss (default: ``run_id``,
        else the image name).
    config, depends_on, year, iteration, tags, facet, parent_id, model, cache_mode
        As for :meth:`consist.Tracker.run`.
    cache_hydration, hydrate_to, hydrate_dir, hydrate_overwrite
        What a hit copies (see :mod:`consist.engine.hydration`). By default (``"metadata"``)
        nothing: the artifacts point at the stored copies. With
        ``"outputs-requested"``, ``hydrate_to`` defaults to ``outputs``, so a hit puts
        the cached outputs back at the host paths the container would have written.
    network_disabled
        Run without network (default). Not part of the cache key.
    timeout_s
        Seconds to wait for the container; it is killed after that.

    Returns
    -------
    RunResult
        ``result.artifacts[key]`` for each output, plus ``"container_logs"``.

    Raises
    ------
    EngineUnavailableError
        No Docker engine answered (the message says how to start one).
    ImageNotFoundError
        The image is not on the engine.
    ContainerExitError
        The container exited non-zero; the message holds its last log lines. The run
        is recorded as failed and no cache entry is written.
    OutputMissingError
        A declared output was not written by the container (named in the message).

    Examples
    --------
    >>> result = run_container(                                    # doctest: +SKIP
    ...     tracker=tracker, run_id="model_2030", image="travel-model:v2.1",
    ...     command=["python", "run.py", "--year", "2030"],
    ...     volumes={str(host_inputs): "/inputs", str(host_outputs): "/outputs"},
    ...     inputs=[host_inputs / "input.csv"],
    ...     outputs={"results": host_outputs / "results.parquet"},
    ... )
    >>> result.artifacts["results"]                                 # doctest: +SKIP
    """
    from consist.engine.step import run_step

    tracker = tracker if tracker is not None else current_tracker()
    scenario = active_scenario(tracker)
    if parent_id is None and scenario is not None:
        # Inside `with tracker.scenario(...)`, the scenario is the parent, as for function steps.
        parent_id = scenario.name
    step = container_step(
        run_id=run_id, image=image, command=command, volumes=volumes, inputs=inputs, outputs=outputs,
        environment=environment, working_dir=working_dir, name=name, config=config, depends_on=depends_on,
        year=year, iteration=iteration, tags=tags, facet=facet, parent_id=parent_id, model=model,
        cache_mode=cache_mode, cache_hydration=cache_hydration, hydrate_to=hydrate_to, hydrate_dir=hydrate_dir,
        hydrate_overwrite=hydrate_overwrite, network_disabled=network_disabled, timeout_s=timeout_s,
        scenario_config=scenario.config_snapshot if scenario is not None and parent_id == scenario.name else {},
    )
    return run_step(tracker, step)


def container_step(
    *,
    image: str,
    command: str | Sequence[str],
    volumes: Mapping[str | os.PathLike[str], str] | None = None,
    outputs: Mapping[str, str | os.PathLike[str]] | None = None,
    environment: Mapping[str, str] | None = None,
    working_dir: str | None = None,
    name: str | None = None,
    run_id: str | None = None,
    cache_hydration: str = "metadata",
    hydrate_to: Mapping[str, str | os.PathLike[str]] | None = None,
    network_disabled: bool = True,
    timeout_s: float | None = None,
    **options: Any,
) -> StepSpec:
    """The step :func:`run_container` runs (``options``: the :class:`StepSpec` options it passes on)."""
    from consist.executors import _docker_engine

    spec = make_spec(image, command, volumes, environment, working_dir, network_disabled, timeout_s)
    wanted = parse_outputs(outputs)
    check_reachable(spec, wanted)
    if cache_hydration == "outputs-requested" and hydrate_to is None:
        hydrate_to = dict(wanted)  # "the requested paths" of a container step are its outputs
    image_id = _docker_engine.image_digest(spec.image)  # the one engine call of a hit
    job = _Job(spec, image_id, wanted)
    meta: dict[str, Any] = {
        "executor": "container",
        "container_image": spec.image,
        "container_image_id": image_id,
        "container_command": spec.command_text,
        "container_mounts": dict(spec.volumes),
        "container_env": sorted(spec.environment),
    }
    if spec.working_dir is not None:
        meta["container_working_dir"] = spec.working_dir
    return build_spec(
        name or (str(run_id) if run_id is not None else _image_name(spec.image)),
        _execute,
        outputs=list(wanted),
        load_inputs=False,
        runtime_kwargs={"job": job},
        inject_context=True,
        run_id=run_id,
        meta=meta,
        code_version=container_version(image_id, spec),
        kind="container",
        cache_hydration=cache_hydration,
        hydrate_to=hydrate_to,
        **options,
    )


def _image_name(image: str) -> str:
    """``registry/team/travel-model:v2.1`` -> ``travel-model``."""
    base = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return base.split(":", 1)[0] or "container"


def _execute(job: _Job, _consist_ctx: RunContext) -> None:
    """The step function: run the container, keep its logs, store its declared outputs."""
    from consist.executors import _docker_engine

    spec, ctx = job.spec, _consist_ctx
    # Taken here, on a miss only: a hit never stats the host outputs.
    before = {key: stamp(path, spec) for key, path in job.outputs.items()}
    # The output folders' listings, to name what the run wrote instead when an output is missing.
    listings = {host.parent: listing(host.parent) for host in job.outputs.values() if container_path_of(spec, host)}
    created = create_missing_mounts(spec)
    try:
        outcome = _docker_engine.run(
            job.image_id,
            spec.command if isinstance(spec.command, str) else list(spec.command),
            volumes=spec.volumes,
            environment=spec.environment or None,
            working_dir=spec.working_dir,
            network_disabled=spec.network_disabled,
            timeout_s=spec.timeout_s,
        )
    except ContainerTimeoutError as exc:
        logs = _keep_logs(ctx, job, getattr(exc, "stdout", ""), getattr(exc, "stderr", ""), exit_code=None)
        raise timeout_error(ctx.name, job, exc, logs) from None
    logs = _keep_logs(ctx, job, outcome.stdout, outcome.stderr, outcome.exit_code, outcome.duration_s)
    if outcome.exit_code != 0:
        raise exit_error(ctx.name, job, outcome, logs, created)
    check_written(ctx.name, job, before, listings, created)
    for key, host in job.outputs.items():
        stored = ctx.run_dir / key / host.name
        stored.parent.mkdir(parents=True, exist_ok=True)
        source = link_on_host(spec, host) or host
        copy = copier(spec)
        if source.is_dir():
            shutil.copytree(source, stored, copy_function=copy)
        else:
            copy(source, stored)
        extra = {"container_path": inside} if (inside := container_path_of(job.spec, host)) else {}
        ctx.log_artifact(stored, key, host_path=str(host), **extra)


def _keep_logs(
    ctx: RunContext, job: _Job, stdout: str, stderr: str, exit_code: int | None, duration_s: float | None = None
) -> Path:
    """Write the container's streams into the run folder and log them as ``container_logs``."""
    logs = ctx.run_dir / LOGS_KEY
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "stdout.log").write_text(stdout, encoding="utf-8")
    (logs / "stderr.log").write_text(stderr, encoding="utf-8")
    extra = {"duration_s": round(duration_s, 3)} if duration_s is not None else {"timed_out": True}
    ctx.log_artifact(logs, LOGS_KEY, exit_code=exit_code, image=job.spec.image, image_id=job.image_id, **extra)
    return logs


def executor_spec(
    executor: str,
    *,
    container: Mapping[str, Any] | None,
    output_paths: Mapping[str, str | os.PathLike[str]] | None,
    step: Any = None,
    fn: Any = None,
    outputs: Sequence[str] | None = None,
    unsupported: Mapping[str, Any] | None = None,
    **options: Any,
) -> StepSpec:
    """The step of ``Tracker.run(..., executor="container", container={...}, output_paths={...})``.

    Checks the arguments that only make sense for a function step are unset, then
    builds the step as :func:`run_container` would.
    """
    if executor == "python":
        raise ConfigError("container= and output_paths= need executor='container' (or use fn= without them).")
    if executor != "container":
        raise ConfigError(f"executor={executor!r} is not an executor; expected 'python' (default) or 'container'.")
    if step is not None or fn is not None:
        raise ConfigError("executor='container' runs container['command'], not a function: drop fn=.")
    if not isinstance(container, Mapping) or "image" not in container or "command" not in container:
        raise ConfigError(
            "executor='container' needs container={'image': ..., 'command': [...], 'volumes': {...}}; "
            f"got container={container!r}."
        )
    unknown = sorted(set(container) - set(CONTAINER_KEYS))
    if unknown:
        raise ConfigError(f"container= has unknown key(s) {unknown}; expected some of {', '.join(CONTAINER_KEYS)}.")
    set_options = sorted(k for k, v in (unsupported or {}).items() if v not in (None, False, (), [], {}))
    if set_options:
        raise ConfigError(f"{', '.join(set_options)} only apply to function steps, not executor='container'.")
    paths = dict(output_paths or {})
    stray = [k for k in (outputs or ()) if k not in paths]
    if stray:
        raise ConfigError(
            f"outputs {stray} have no host path: with executor='container', declare outputs as "
            "output_paths={key: host path}."
        )
    return container_step(outputs=paths, **dict(container), **options)
