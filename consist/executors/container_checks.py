"""What a container run left behind: output checks, links through mounts, failure messages.

Used by :mod:`consist.executors.containers` on a miss only (a hit never touches the
host outputs). The checks turn a black-box tool's silent mistakes (an output written
under another name or nowhere, a misspelt volume folder, a string command that needed a
shell) into one error naming the thing and the fix.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consist.artifacts.placement import copy_file
from consist.errors import (
    ConfigError,
    ContainerExitError,
    ContainerTimeoutError,
    OutputMissingError,
)
from consist.executors.container_spec import ContainerSpec
from consist.identity.hashing import stat_fingerprint

if TYPE_CHECKING:
    from consist.executors.container_spec import _Job

_TAIL_LINES = 20


def stamp(path: Path, spec: ContainerSpec | None = None) -> Any:
    """A token that changes when ``path`` is (re)written; None when it does not exist."""
    if spec is not None and (target := link_on_host(spec, path)) is not None:
        link = path.lstat()  # a link made again by this run is new even if its target is not
        return ("link", link.st_ino, link.st_ctime_ns, stamp(target))
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if path.is_dir():
        # The folder's own times too: links made again (same text) change only those.
        return ("dir", stat_fingerprint(path), st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
    # ctime too: a rewrite within one coarse mtime tick still moves it.
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def create_missing_mounts(spec: ContainerSpec) -> list[str]:
    """Create missing host folders of ``volumes`` (as the engine would, but owned by the user).

    Returned so that a failure can say which mounts were empty: a misspelt input folder
    otherwise shows up only as "file not found" inside the container.
    """
    created = []
    for host in spec.volumes:
        if not os.path.lexists(host):
            Path(host).mkdir(parents=True, exist_ok=True)
            created.append(host)
    return created


def _mount_hint(spec: ContainerSpec, created: Sequence[str]) -> str:
    if not created:
        return ""
    shown = ", ".join(f"{host} (at {spec.volumes[host]})" for host in created)
    return f" Note: volume folder(s) {shown} did not exist on the host and were mounted empty; check volumes=."


def _shell_hint(spec: ContainerSpec) -> str:
    """A string command is split into words, not run by a shell: say so when it looks like shell."""
    if isinstance(spec.command, str) and any(token in spec.command for token in (">", "|", ";", "&&", "$")):
        return (
            " The command is a string, which docker splits into words without a shell, so "
            "redirections, pipes and $VARIABLES do not work: use ['sh', '-c', '...']."
        )
    return ""


def listing(folder: Path) -> dict[str, Any]:
    """``{name: stat token}`` of a folder's entries ({} when it does not exist)."""
    try:
        with os.scandir(folder) as entries:
            return {e.name: _entry_token(e) for e in entries}
    except OSError:
        return {}


def _entry_token(entry: os.DirEntry[str]) -> Any:
    try:
        st = entry.stat(follow_symlinks=False)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def link_on_host(spec: ContainerSpec, path: str | os.PathLike[str]) -> Path | None:
    """Where a link the container made to an absolute container path points on the host.

    A tool that links an output to ``/inputs/...`` leaves a link that dangles on the host;
    its target is found through the mounts. None for anything else (files, working links).
    """
    if not os.path.islink(path) or os.path.exists(path):
        return None
    target = os.readlink(path)
    if not target.startswith("/"):
        return None
    # The deepest mount first: volumes may nest (/data and /data/out).
    for mounted, inside in sorted(spec.volumes.items(), key=lambda item: -len(item[1])):
        rel = posixpath.relpath(posixpath.normpath(target), inside)
        if rel == "." or not rel.startswith(".."):
            host = Path(mounted) if rel == "." else Path(mounted, rel)
            return host if host.exists() else None
    return None


def copier(spec: ContainerSpec) -> Any:
    """A copy function that follows the container's absolute links through the mounts."""

    def copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Any:
        target = link_on_host(spec, src)
        if target is not None and target.is_dir():
            return shutil.copytree(target, dst, copy_function=copy)
        return copy_file(target or src, dst)

    return copy


def container_path_of(spec: ContainerSpec, host: Path) -> str | None:
    """Where ``host`` appears inside the container, if it lies under a mounted folder."""
    for mounted, target in spec.volumes.items():
        try:
            rel = host.relative_to(mounted)
        except ValueError:
            continue
        return posixpath.join(target, rel.as_posix()) if rel.parts else target
    return None


def check_reachable(spec: ContainerSpec, outputs: Mapping[str, Path]) -> None:
    """Refuse, before anything runs, a declared output no mounted folder leads to.

    The container can only write host paths under its ``volumes``; catching this now
    saves running a long model only to fail on its missing output. Links are followed
    before giving up (a folder mounted through its real path is fine).
    """
    unreachable = [
        f"{key!r} at {host}"
        for key, host in outputs.items()
        if container_path_of(spec, host) is None and container_path_of(_real_volumes(spec), Path(os.path.realpath(host))) is None
    ]
    if unreachable:
        mounted = ", ".join(f"{h} -> {c}" for h, c in spec.volumes.items()) or "none"
        raise ConfigError(
            f"declared output(s) {', '.join(unreachable)} are not under any mounted folder, so the "
            f"container cannot write them (volumes: {mounted}). Mount the output folder, e.g. "
            "volumes={str(host_outputs): '/outputs'}, and have the command write there."
        )


def _real_volumes(spec: ContainerSpec) -> ContainerSpec:
    return ContainerSpec(spec.image, spec.command, {os.path.realpath(h): c for h, c in spec.volumes.items()}, {})


def check_written(
    step: str,
    job: _Job,
    before: Mapping[str, Any],
    listings: Mapping[Path, Mapping[str, Any]] | None = None,
    created: Sequence[str] = (),
) -> None:
    """Raise OutputMissingError naming each declared output the run did not (re)write, and what it wrote instead."""
    problems = []
    for key, host in job.outputs.items():
        now = stamp(host, job.spec)
        inside = container_path_of(job.spec, host)
        where = f"{host}" + (f" ({inside} in the container)" if inside else " (not under any mounted folder)")
        if now is None:
            problems.append(f"{key!r} at {where} does not exist")
        elif now == before[key]:
            problems.append(f"{key!r} at {where} is unchanged since before the run")
        else:
            continue
        if listings is not None and host.parent in listings:
            old = listings[host.parent]
            others = sorted(n for n, token in listing(host.parent).items() if old.get(n) != token)
            if others:
                shown = ", ".join(others[:10]) + (f" and {len(others) - 10} more" if len(others) > 10 else "")
                problems[-1] += f" (the run wrote {shown} in that folder)"
    if problems:
        raise OutputMissingError(
            f"container step {step!r} exited 0 but did not write its declared output(s): "
            + "; ".join(problems)
            + ". Make the command write there (through a mounted folder), or fix outputs=."
            + _shell_hint(job.spec)
            + _mount_hint(job.spec, created)
        )


def timeout_error(step: str, job: _Job, exc: ContainerTimeoutError, logs: Path) -> ContainerTimeoutError:
    """The step-level error for a container killed at its timeout: step, image, last output, logs."""
    from consist.executors._docker_engine import tail

    output = (getattr(exc, "stdout", "") + getattr(exc, "stderr", "")).strip()
    error = ContainerTimeoutError(
        f"container step {step!r} still ran after timeout_s={job.spec.timeout_s} and was killed "
        f"(image {job.spec.image!r}, command: {job.spec.command_text}).\n"
        + (f"--- last output ---\n{tail(output, _TAIL_LINES)}" if output else "(the container printed nothing)")
        + f"\nFull logs: {logs}. No cache entry was written; raise timeout_s= or make the command finish sooner."
    )
    return error


def exit_error(step: str, job: _Job, outcome: Any, logs: Path, created: Sequence[str] = ()) -> ContainerExitError:
    """The error for a non-zero exit: the code, the last log lines and the hints that apply."""
    from consist.executors._docker_engine import tail

    shown = []
    for stream, text in (("stderr", outcome.stderr), ("stdout", outcome.stdout)):
        if text.strip():
            shown.append(f"--- {stream} (last lines) ---\n{tail(text, _TAIL_LINES)}")
    error = ContainerExitError(
        f"container step {step!r} exited with code {outcome.exit_code} "
        f"(image {job.spec.image!r} = {job.image_id[:19]}, command: {job.spec.command_text}).\n"
        + ("\n".join(shown) if shown else "(the container printed nothing)")
        + f"\nFull logs: {logs}. No cache entry was written; fix the command or its inputs and run again."
        + _shell_hint(job.spec)
        + _mount_hint(job.spec, created)
    )
    error.exit_code = outcome.exit_code
    return error
