"""Typed coupler schemas: a class whose annotated attributes are coupler keys.

``@coupler_schema`` marks such a class; ``sc.coupler_schema(cls)`` gives a view where
``view.zarr_skims`` reads (and assigning sets) that key of the scenario's
:class:`~consist.workflow.coupler.Coupler`, with IDE completion.
"""

from __future__ import annotations

from typing import Any, TypeVar

from consist.artifacts.files import check_key
from consist.errors import ConfigError, CouplerAttributeError
from consist.models import Artifact

T = TypeVar("T")

_SCHEMA_KEYS = "__consist_coupler_keys__"


def coupler_schema(cls: type[T]) -> type[T]:
    """Mark ``cls`` as a coupler schema: its annotated attributes are coupler keys.

    ``sc.coupler_schema(cls)`` then returns a view where ``view.key`` is
    ``sc.coupler.require("key")`` (with IDE completion), and assigning sets the key.

    Examples
    --------
    >>> @coupler_schema                                               # doctest: +SKIP
    ... class WorkflowCoupler:
    ...     zarr_skims: Artifact
    ...     synthetic_population: Artifact
    >>> typed = sc.coupler_schema(WorkflowCoupler)                    # doctest: +SKIP
    >>> typed.zarr_skims                                              # doctest: +SKIP
    Artifact(...)
    """
    if not isinstance(cls, type):
        raise ConfigError(f"@coupler_schema decorates a class; got {cls!r}.")
    keys: list[str] = []
    for klass in reversed(cls.__mro__):
        for name in getattr(klass, "__annotations__", {}):
            if not name.startswith("_") and name not in keys:
                keys.append(check_key(name, "coupler key"))
    if not keys:
        raise ConfigError(
            f"{cls.__qualname__} has no annotated attributes; declare one per coupler key, "
            "e.g. `zarr_skims: Artifact`."
        )
    setattr(cls, _SCHEMA_KEYS, tuple(keys))
    return cls


def schema_keys(schema: type) -> tuple[str, ...]:
    """The coupler keys of a schema class (decorated or not)."""
    keys = schema.__dict__.get(_SCHEMA_KEYS)
    if keys is None:
        keys = getattr(coupler_schema(schema), _SCHEMA_KEYS)
    return keys


class TypedCoupler:
    """Attribute access to a coupler through a schema class."""

    __slots__ = ("_coupler", "_keys", "_schema")

    def __init__(self, coupler: Any, schema: type, keys: tuple[str, ...]) -> None:
        object.__setattr__(self, "_coupler", coupler)
        object.__setattr__(self, "_schema", schema)
        object.__setattr__(self, "_keys", keys)

    def __getattr__(self, name: str) -> Artifact:
        if name not in self._keys:
            raise AttributeError(
                f"{self._schema.__qualname__} has no key {name!r}; its keys are {list(self._keys)}."
            )
        artifact = self._coupler.get(name)
        if artifact is None:
            raise CouplerAttributeError(
                f"{self._schema.__qualname__}.{name} is not set yet: no step has produced {name!r}. "
                + self._coupler.unknown_key_message(name)
            )
        return artifact

    def __setattr__(self, name: str, value: Artifact) -> None:
        if name not in self._keys:
            raise AttributeError(
                f"{self._schema.__qualname__} has no key {name!r}; its keys are {list(self._keys)}."
            )
        self._coupler.set(name, value)

    def __dir__(self) -> list[str]:
        return list(self._keys)

    def __repr__(self) -> str:
        shown = {k: ("set" if k in self._coupler else "unset") for k in self._keys}
        return f"{self._schema.__qualname__}({shown})"
