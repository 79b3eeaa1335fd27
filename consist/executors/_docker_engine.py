"""Low-level Docker engine access: a cached client, image digests, one-shot container runs.

``docker`` is imported lazily inside functions: importing this module never imports it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Defined in consist.errors (public: consist.EngineUnavailableError...), re-exported here.
from consist.errors import (
    ContainerTimeoutError,
    EngineUnavailableError,
    ImageNotFoundError,
)

__all__ = [
    "ContainerOutcome",
    "EngineUnavailableError",
    "ImageNotFoundError",
    "client",
    "image_digest",
    "reset_client",
    "run",
    "tail",
]

_lock = threading.Lock()
_client: Any = None


@dataclass(frozen=True)
class ContainerOutcome:
    """What one finished container left behind."""

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _engine_url() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _unavailable(exc: BaseException) -> EngineUnavailableError:
    reason = str(exc).strip() or type(exc).__name__
    return EngineUnavailableError(
        f"No Docker engine answered at {_engine_url()}: {reason}. Start one "
        "(e.g. `sudo dockerd` or `bash scripts/start-docker.sh`), or set DOCKER_HOST."
    )


def _import_docker() -> Any:
    try:
        import docker
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "Running steps in containers needs the `docker` Python package: "
            "`pip install docker` (or install consist from its checkout with the `containers` extra: `pip install -e '.[containers]'`).",
            name="docker",
        ) from exc
    return docker


def client() -> Any:
    """Return the shared Docker client, connecting and pinging the engine once.

    Returns
    -------
    docker.DockerClient
        ``docker.from_env()`` (honours ``DOCKER_HOST`` and ``DOCKER_TLS_*``),
        cached for the process until :func:`reset_client`.

    Raises
    ------
    EngineUnavailableError
        If no engine answers at the configured address (one clear message, any cause).
    ModuleNotFoundError
        If the ``docker`` Python package is not installed.
    """
    global _client
    with _lock:
        if _client is not None:
            return _client
        docker = _import_docker()
        import requests  # a dependency of docker

        try:
            candidate = docker.from_env()  # asks the engine its API version
            candidate.ping()
        except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
            raise _unavailable(exc) from exc
        _client = candidate
        return _client


def reset_client() -> None:
    """Forget the cached client (e.g. after ``DOCKER_HOST`` changed); the next call reconnects."""
    global _client
    with _lock:
        old, _client = _client, None
    if old is not None:
        with contextlib.suppress(Exception):  # closing a dead client must not fail
            old.close()


def _image_not_found(image: str) -> ImageNotFoundError:
    return ImageNotFoundError(
        f"Docker image {image!r} is not on the engine at {_engine_url()}. "
        f"Fetch or build it first (`docker pull {image}` or `docker build -t {image} .`)."
    )


def image_digest(image: str) -> str:
    """Return the content id of a local image, in one engine call.

    Parameters
    ----------
    image : str
        A reference the engine knows: ``name:tag``, ``name@sha256:...`` or an image id.

    Returns
    -------
    str
        The image id ``"sha256:<hex>"``: the hash of the image's config, which
        changes whenever its content changes (a tag does not).

    Raises
    ------
    ImageNotFoundError
        If the engine has no such image.
    EngineUnavailableError
        If no engine answers.
    """
    api, docker = client(), _import_docker()
    import requests

    try:
        return str(api.images.get(image).id)
    except docker.errors.ImageNotFound as exc:
        raise _image_not_found(image) from exc
    except requests.exceptions.ConnectionError as exc:  # engine went away since client()
        raise _unavailable(exc) from exc


# The label on every container consist starts; its value is the starting process's pid.
LABEL = "org.consist.pid"


def run(
    image: str,
    command: str | Sequence[str],
    *,
    volumes: Mapping[str, str] | None = None,
    environment: Mapping[str, str] | None = None,
    working_dir: str | None = None,
    network_disabled: bool = True,
    timeout_s: float | None = None,
) -> ContainerOutcome:
    """Run ``command`` in a new container of ``image``, wait for it, remove it.

    Parameters
    ----------
    image : str
        The image to run; it must already be on the engine.
    command : str or sequence of str
        The command; a string is split shell-style by docker, a sequence is
        passed as is (use ``["sh", "-c", "..."]`` for shell syntax).
    volumes : mapping of str to str, optional
        Host path -> container path, bind-mounted read-write (host paths made absolute).
    environment : mapping of str to str, optional
        Environment variables for the container.
    working_dir : str, optional
        The working directory inside the container.
    network_disabled : bool, default True
        Run with ``network_mode="none"``.
    timeout_s : float, optional
        Seconds to wait for the container to exit; ``None`` waits forever.

    Returns
    -------
    ContainerOutcome
        Exit code, decoded stdout and stderr, and the wall time from start to exit. A
        program that could not start gives exit code 127 (not found), 126 (not
        executable) or 125 (other), with the engine's reason as stderr, as ``docker run``.

    Raises
    ------
    ImageNotFoundError
        If the image is not on the engine (nothing is pulled).
    EngineUnavailableError
        If no engine answers.
    ContainerTimeoutError
        If ``timeout_s`` elapsed first (a ``TimeoutError``); the container is killed, and
        the error's ``stdout`` and ``stderr`` hold what it printed.
    """
    api, docker = client(), _import_docker()
    import requests

    binds = {os.path.abspath(h): {"bind": c, "mode": "rw"} for h, c in (volumes or {}).items()}
    options: dict[str, Any] = {"volumes": binds, "working_dir": working_dir, "detach": True}
    options["labels"] = {LABEL: str(os.getpid())}  # which process started it (docker ps --filter label=...)
    options["environment"] = dict(environment) if environment else None
    options["network_mode"] = "none" if network_disabled else None  # None: engine default
    container = None
    try:
        try:
            argv = command if isinstance(command, str) else list(command)
            container = api.containers.create(image, argv, **options)
        except docker.errors.ImageNotFound as exc:
            raise _image_not_found(image) from exc
        started = time.perf_counter()
        try:
            container.start()
        except docker.errors.APIError as exc:
            # The program could not be started (not in the image, not executable...): report it
            # as `docker run` does, an exit code with the reason on stderr, not as an API error.
            reason = str(getattr(exc, "explanation", None) or exc)
            return ContainerOutcome(_start_failure_code(reason), "", f"the container could not start: {reason}\n", 0.0)
        try:
            status = container.wait(timeout=timeout_s)
        except requests.exceptions.RequestException as exc:
            if timeout_s is None or "timed out" not in str(exc).lower():  # a read timeout
                raise  # (the forced removal below kills the container)
            with contextlib.suppress(Exception):  # stop it before reading its logs, so they are complete
                container.kill()
            timed_out = ContainerTimeoutError(
                f"Container of {image!r} still ran after {timeout_s}s and was killed; "
                f"last output:\n{tail(_decode(container.logs(stdout=True, stderr=True)))}"
            )
            timed_out.stdout = _decode(container.logs(stdout=True, stderr=False))
            timed_out.stderr = _decode(container.logs(stdout=False, stderr=True))
            raise timed_out from exc
        duration = time.perf_counter() - started
        stdout = container.logs(stdout=True, stderr=False)
        stderr = container.logs(stdout=False, stderr=True)
    except requests.exceptions.ConnectionError as exc:
        raise _unavailable(exc) from exc
    finally:
        if container is not None:
            with contextlib.suppress(Exception):  # never mask the real error
                container.remove(force=True)
    return ContainerOutcome(
        int(status.get("StatusCode", -1)), _decode(stdout), _decode(stderr), duration
    )


def _start_failure_code(reason: str) -> int:
    """The exit code `docker run` gives a container whose program did not start."""
    text = reason.lower()
    if "not found" in text or "no such file" in text:
        return 127
    if "permission denied" in text or "not a directory" in text:
        return 126
    return 125


def tail(text: str, n: int = 20) -> str:
    """Return the last ``n`` lines of ``text`` (for error messages).

    Parameters
    ----------
    text : str
        Any text, e.g. a container's stderr.
    n : int, default 20
        How many lines to keep; ``n <= 0`` gives ``""``.

    Returns
    -------
    str
        Those lines joined by newlines, without a trailing newline.
    """
    return "\n".join(text.rstrip("\n").splitlines()[-n:]) if n > 0 else ""
