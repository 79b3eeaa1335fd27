"""Every error consist raises on purpose.

The tree::

    ConsistError
    ├── ConfigError(ValueError)          a bad argument: wrong kind, bad key, bad option
    │   └── UnsafeKeyError               a key or id that would escape its directory
    ├── IdentityError
    │   └── UnhashableInputError(TypeError)  a config value with no canonical form
    ├── InputError
    │   └── InputNotFoundError(FileNotFoundError)  an input path that does not exist
    ├── OutputError
    │   └── OutputMissingError           a declared output the step did not produce
    │       └── ScenarioOutputsMissingError  a scenario ended without a required coupler output
    ├── CouplerKeyError(KeyError)        a coupler key nobody set (lists the keys and close matches)
    │   └── CouplerAttributeError(AttributeError)  the same, through a typed coupler schema
    ├── StoreError
    │   └── ArtifactNotFoundError(LookupError)  an artifact's bytes are gone
    ├── RunNotFoundError(LookupError)    no run matches an id or query
    ├── CatalogError
    │   └── SchemaVersionError           records written by a newer consist
    └── NoActiveTrackerError(RuntimeError)  a module-level call with no tracker in use

Errors from the user's own step functions are never wrapped: they propagate unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


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


class UnhashableInputError(IdentityError, TypeError):
    """A config value has no canonical encoding."""


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


class RunNotFoundError(ConsistError, LookupError):
    """No run matches the id or query."""


class CatalogError(ConsistError):
    """The catalog of run records is unusable."""


class SchemaVersionError(CatalogError):
    """A record was written by a newer version of consist."""


class NoActiveTrackerError(ConsistError, RuntimeError):
    """A module-level function was called with no tracker in use."""


@contextmanager
def error_context(*, run_id: str | None = None, step: str | None = None) -> Iterator[None]:
    """Attach ``run_id`` and ``step`` to any ConsistError raised inside the block."""
    try:
        yield
    except ConsistError as exc:
        if exc.run_id is None:
            exc.run_id = run_id
        if exc.step is None:
            exc.step = step
        raise
