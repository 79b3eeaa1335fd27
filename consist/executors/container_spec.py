"""What a container step is: its validated arguments and its code identity (pure).

:class:`ContainerSpec` holds the checked image, command, mounts, environment and working
directory of one container step; :func:`container_version` turns it, with the image's
content id, into the step's explicit code version. Nothing here talks to Docker, the
file system or the catalog, so all of it is testable with literals.
"""

from __future__ import annotations

import os
import posixpath
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consist.artifacts.files import check_key
from consist.errors import ConfigError
from consist.identity.digests import digest

LOGS_KEY = "container_logs"
"""The output key under which a container step's stdout/stderr folder is logged."""

CONTAINER_KEYS = ("image", "command", "volumes", "environment", "working_dir", "network_disabled", "timeout_s")
_TAG = "consist.container/1"


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """A validated description of one container invocation."""

    image: str
    command: str | tuple[str, ...]
    volumes: dict[str, str]
    environment: dict[str, str]
    working_dir: str | None = None
    network_disabled: bool = True
    timeout_s: float | None = None

    @property
    def mounts(self) -> list[str]:
        """The container-side mount points, sorted (they are part of identity)."""
        return sorted(self.volumes.values())

    @property
    def command_text(self) -> str:
        """The command as one shell-quoted line (for records and messages)."""
        return self.command if isinstance(self.command, str) else shlex.join(self.command)


def container_version(image_id: str, spec: ContainerSpec) -> str:
    """The code version of a container step: the image id and digests of the rest.

    Pure. Each component gets its own short digest so that a miss reason
    ("code version changed (a -> b)") shows which one changed; environment values are
    digested, never written out, since they may hold secrets.
    """
    command = spec.command if isinstance(spec.command, str) else list(spec.command)
    parts = {
        "command": command,
        "environment": sorted(spec.environment.items()),
        "mounts": spec.mounts,
        "working_dir": spec.working_dir,
    }
    shown = " ".join(f"{name}={digest(_TAG, name, value)[:16]}" for name, value in parts.items())
    return f"image={image_id} {shown}"


def make_spec(
    image: Any,
    command: Any,
    volumes: Any = None,
    environment: Any = None,
    working_dir: Any = None,
    network_disabled: bool = True,
    timeout_s: float | None = None,
) -> ContainerSpec:
    """Validate the arguments of a container step into a :class:`ContainerSpec`."""
    if not isinstance(image, str) or not image.strip():
        raise ConfigError(f"container image must be a non-empty string such as 'travel-model:v2.1'; got {image!r}.")
    if isinstance(command, str):
        if not command.strip():
            raise ConfigError("container command is empty; give the program to run, e.g. ['sh', '-c', '...'].")
        cmd: str | tuple[str, ...] = command
    elif isinstance(command, Sequence) and command and all(isinstance(c, (str, os.PathLike)) for c in command):
        cmd = tuple(os.fspath(c) for c in command)
    else:
        raise ConfigError(
            f"container command must be a string or a non-empty list of strings; got {command!r}. "
            "Example: ['python', 'run.py', '--year', '2030']."
        )
    return ContainerSpec(
        image=image,
        command=cmd,
        volumes=_volumes(volumes),
        environment=_environment(environment),
        working_dir=_container_path(working_dir, "working_dir") if working_dir is not None else None,
        network_disabled=bool(network_disabled),
        timeout_s=timeout_s,
    )


def _container_path(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ConfigError(f"{what} {value!r} must be an absolute path inside the container, such as '/outputs'.")
    return posixpath.normpath(value)


def _volumes(volumes: Any) -> dict[str, str]:
    if volumes is None:
        return {}
    if not isinstance(volumes, Mapping):
        raise ConfigError(
            f"volumes must be a mapping of host path -> container path; got a {type(volumes).__name__}. "
            "Example: {str(Path('data/inputs').resolve()): '/inputs'}."
        )
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for host, inside in volumes.items():
        if not isinstance(host, (str, os.PathLike)):
            raise ConfigError(f"volume host path {host!r} must be a path.")
        target = _container_path(inside, f"volume target for {os.fspath(host)!r}")
        if target in seen:
            raise ConfigError(f"container path {target!r} is mounted twice (from {seen[target]} and {os.fspath(host)}).")
        host_abs = os.path.abspath(os.path.expanduser(os.fspath(host)))
        seen[target] = host_abs
        out[host_abs] = target
    return out


def _environment(environment: Any) -> dict[str, str]:
    if environment is None:
        return {}
    if not isinstance(environment, Mapping):
        raise ConfigError(f"environment must be a mapping of name -> value; got a {type(environment).__name__}.")
    out = {}
    for name, value in environment.items():
        if not isinstance(name, str) or not name or "=" in name:
            raise ConfigError(f"environment variable name {name!r} must be a non-empty string without '='.")
        if not isinstance(value, (str, int, float, bool)):
            raise ConfigError(f"environment variable {name!r} is a {type(value).__name__}; give a string or number.")
        out[name] = str(value)
    return out


def parse_outputs(outputs: Any) -> dict[str, Path]:
    """Check ``{key: host path}`` declared outputs; paths made absolute, ``container_logs`` refused."""
    if outputs is None:
        return {}
    if not isinstance(outputs, Mapping):
        raise ConfigError(
            f"container outputs must be a mapping of key -> host path; got {outputs!r}. "
            "Example: {'results': host_outputs / 'results.parquet'}."
        )
    out = {}
    for key, path in outputs.items():
        check_key(key)
        if key == LOGS_KEY:
            raise ConfigError(
                f"output key {LOGS_KEY!r} is reserved for the container's stdout/stderr; choose another key."
            )
        if not isinstance(path, (str, os.PathLike)):
            raise ConfigError(f"output {key!r} must be a host path; got {path!r}.")
        out[key] = Path(os.path.abspath(os.fspath(Path(path).expanduser())))
    return out


@dataclass(frozen=True, slots=True)
class _Job:
    """What the step function needs to run one container (never hashed)."""

    spec: ContainerSpec
    image_id: str
    outputs: dict[str, Path]
