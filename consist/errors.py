"""Every error consist raises on purpose.

The tree::

    ConsistError
    ├── ConfigError(ValueError)          a bad argument: wrong kind, bad key, bad option
    │   ├── UnsafeKeyError               a key or id that would escape its directory
    │   └── UpstreamOptionError(TypeError)  an option spelt the upstream Consist way (names ours)
    ├── IdentityError
    │   ├── UnhashableInputError(ConfigError, TypeError)  a config value with no canonical form,
    │   │                                or one a run record cannot hold (named by where it sits)
    │   └── SignatureMismatchError       a map worker computes another signature than its client
    ├── InputError
    │   └── InputNotFoundError(FileNotFoundError)  an input path that does not exist
    ├── OutputError
    │   └── OutputMissingError           a declared output the step did not produce
    │       └── ScenarioOutputsMissingError  a scenario ended without a required coupler output
    ├── CouplerKeyError(KeyError)        a coupler key nobody set (lists the keys and close matches)
    │   └── CouplerAttributeError(AttributeError)  the same, through a typed coupler schema
    ├── StoreError
    │   ├── ArtifactNotFoundError(LookupError)  an artifact's bytes are gone
    │   ├── HydrationConflictError(FileExistsError)  a hydration destination holds different bytes
    │   └── RecoveryError               a missing artifact cannot be regenerated or restored
    ├── RunNotFoundError(LookupError)    no run matches an id or query
    ├── RunDirNotFoundError(FileNotFoundError)  a folder that is not a tracker's run_dir (the CLI)
    ├── CatalogError                     the run records or the catalog file are unreadable
    ├── DiskWriteError(OSError)          a file could not be written (full disk): names it and the fix
    ├── SchemaConflictError(TypeError)  files under one view/scan disagree on a column's type
    ├── ContainerError                   a container step could not run, or failed
    │   ├── EngineUnavailableError(RuntimeError)  no Docker engine answered (says how to start one)
    │   ├── ImageNotFoundError(LookupError)  the engine has no image of that name
    │   └── ContainerExitError           the container exited non-zero (its last log lines)
    │       └── ContainerTimeoutError(TimeoutError)  it ran past timeout_s and was killed
    ├── NoActiveTrackerError(RuntimeError)  a module-level call with no tracker in use
    └── UpstreamNameError(ImportError)   an upstream Consist name we do not have (names ours)

Errors from the user's own step functions are never wrapped: they propagate unchanged.
"""

from __future__ import annotations

from typing import Any


class ConsistError(Exception):
    """Base class of every error consist raises on purpose."""

    run_id: str | None = None
    step: str | None = None


class ConfigError(ConsistError, ValueError):
    """An argument has the wrong kind or value."""


class UnsafeKeyError(ConfigError):
    """A key, name or id would reach the file system unsafely."""


class IdentityError(ConsistError):
    """Something that must be hashed cannot be."""


class UnhashableInputError(IdentityError, ConfigError, TypeError):
    """A config value has no canonical encoding, or one a run record cannot hold.

    A ConfigError too: it is bad input, refused before any work is done.
    """


class SignatureMismatchError(IdentityError):
    """A map worker computes a different step signature than the client planned (stale code on the worker)."""


class InputError(ConsistError):
    """A step input is unusable."""


class InputNotFoundError(InputError, FileNotFoundError):
    """A step input path does not exist."""


class OutputError(ConsistError):
    """A step's outputs do not match what it declared."""


class OutputMissingError(OutputError):
    """A declared output was not produced."""


class ScenarioOutputsMissingError(OutputMissingError):
    """A scenario ended without setting a coupler output it declared required."""


class CouplerKeyError(ConsistError, KeyError):
    """A coupler key that no step produced and nobody set."""

    def __str__(self) -> str:
        # KeyError would show the repr of the message; show the message itself.
        return str(self.args[0]) if self.args else ""


class CouplerAttributeError(CouplerKeyError, AttributeError):
    """A typed coupler schema attribute whose key is not set yet."""


class StoreError(ConsistError):
    """Artifact bytes cannot be read or written."""


class ArtifactNotFoundError(StoreError, LookupError):
    """An artifact's file is missing."""


class HydrationConflictError(StoreError, FileExistsError):
    """A cache-hydration destination already holds different bytes (and overwrite was not asked)."""


class RecoveryError(StoreError):
    """A missing artifact can be neither copied from a verified source nor regenerated."""


class RunNotFoundError(ConsistError, LookupError):
    """No run matches the id or query."""


class RunDirNotFoundError(ConsistError, FileNotFoundError):
    """A folder given as a run folder is missing or holds no consist catalog."""


class CatalogError(ConsistError):
    """The catalog of run records is unusable."""


class DiskWriteError(ConsistError, OSError):
    """A file could not be written (a full disk, a quota, a read-only folder).

    Still an ``OSError`` with ``errno`` and ``filename`` set, so code catching disk
    errors keeps working; its message names the file and the fix.
    """

    def __init__(self, message: str, *, filename: str, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno, self.filename = errno, filename  # type: ignore[misc]

    def __str__(self) -> str:
        return str(self.args[0])



class SchemaConflictError(ConsistError, TypeError):
    """Files combined in one cross-run view or scan give a column incompatible types."""


class ContainerError(ConsistError):
    """A container step could not run, or its container failed."""


class EngineUnavailableError(ContainerError, RuntimeError):
    """No Docker engine answered."""


class ImageNotFoundError(ContainerError, LookupError):
    """The engine has no image of that name."""


class ContainerExitError(ContainerError):
    """A step's container exited with a non-zero code (no cache entry was written)."""

    exit_code: int | None = None


class ContainerTimeoutError(ContainerExitError, TimeoutError):
    """A step's container still ran after its ``timeout_s`` and was killed (no cache entry)."""


class NoActiveTrackerError(ConsistError, RuntimeError):
    """A module-level function was called with no tracker in use."""


class UpstreamOptionError(ConfigError, TypeError):
    """An option spelt as upstream Consist spells it; the message gives this library's spelling."""


class UpstreamNameError(ConsistError, ImportError):
    """A name upstream Consist exports that this library does not have (the message says what to use)."""


class error_context:  # noqa: N801  (used as a function: ``with error_context(step=...)``)
    """Attach ``run_id`` and ``step`` to any ConsistError raised inside the block.

    A class rather than a generator context manager: every step enters one.
    """

    __slots__ = ("run_id", "step")

    def __init__(self, *, run_id: str | None = None, step: str | None = None) -> None:
        self.run_id = run_id
        self.step = step

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, ConsistError):
            if exc.run_id is None:
                exc.run_id = self.run_id
            if exc.step is None:
                exc.step = self.step
        return False
