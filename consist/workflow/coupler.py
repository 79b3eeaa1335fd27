"""The coupler: named artifacts handed from one step of a scenario to the next.

A :class:`Coupler` maps a key (``"population"``) to the latest :class:`Artifact`
under that key. Every step of a scenario syncs its outputs into it; a later step names
what it reads (``inputs=["population"]``) and the coupler resolves the name to the
artifact, whose content hash becomes part of that step's identity.

It also keeps the scenario's output declarations (which keys must be set before the
scenario ends, what each means) and offers typed attribute access through
:func:`~consist.workflow.typed_coupler.coupler_schema` classes. It holds artifacts only: it never logs, loads or hashes
anything, and knows nothing of runs beyond the ids it is told.
"""

from __future__ import annotations

import difflib
import os
import typing
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from consist.artifacts.files import check_key
from consist.errors import ConfigError, CouplerKeyError, ScenarioOutputsMissingError
from consist.models import Artifact
from consist.user_warnings import user_stacklevel

T = TypeVar("T")

class CouplerWarning(UserWarning):
    """A coupler key set without being documented, or silently replaced by another step."""


class Coupler:
    """Named artifacts shared between the steps of one scenario.

    Examples
    --------
    >>> with consist.scenario("baseline") as sc:                      # doctest: +SKIP
    ...     sc.run(name="prepare", fn=prepare, outputs=["population"])
    ...     df = consist.load(sc.coupler.require("population"))
    """

    def __init__(self) -> None:
        self._artifacts: dict[str, Artifact] = {}
        # key -> (run id, step name) of the last step that wrote it; (None, None) when set by hand.
        self._writers: dict[str, tuple[str | None, str | None, str | None]] = {}
        self._required: dict[str, bool] = {}
        self._descriptions: dict[str, str] = {}
        self._warn_undocumented = False
        self._warned: set[str] = set()
        # (key, the two steps) already warned about: a loop over years alternating two
        # steps on one key warns once, not once per year.
        self._warned_replacements: set[tuple[str, frozenset[str | None]]] = set()
        self.replaced: dict[str, list[str]] = {}

    # -- reading ---------------------------------------------------------------------

    def require(self, key: str) -> Artifact:
        """The artifact under ``key``.

        Raises
        ------
        CouplerKeyError
            When no step produced ``key``; the message lists the available keys and
            the closest match.
        """
        if not isinstance(key, str):
            raise CouplerKeyError(f"coupler keys are strings; got {key!r} ({type(key).__name__}). Use the key's name.")
        artifact = self._artifacts.get(key)
        if artifact is None:
            raise CouplerKeyError(self.unknown_key_message(key))
        return artifact

    def get(self, key: str, default: Any = None) -> Artifact | Any:
        """The artifact under ``key``, or ``default`` when it is not set."""
        return self._artifacts.get(key, default)

    def keys(self) -> list[str]:
        """The keys set so far, in the order they were first set."""
        return list(self._artifacts)

    def items(self) -> list[tuple[str, Artifact]]:
        """(key, artifact) pairs."""
        return list(self._artifacts.items())

    def values(self) -> list[Artifact]:
        """The artifacts."""
        return list(self._artifacts.values())

    def writer(self, key: str) -> str | None:
        """The id of the run that last set ``key`` (None when set by hand or unset)."""
        return self._writers.get(key, (None, None, None))[0]

    def __contains__(self, key: object) -> bool:
        return key in self._artifacts

    def __getitem__(self, key: str) -> Artifact:
        return self.require(key)

    def __setitem__(self, key: str, artifact: Artifact) -> None:
        self.set(key, artifact)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._artifacts))

    def __len__(self) -> int:
        return len(self._artifacts)

    def __repr__(self) -> str:
        return f"Coupler(keys={self.keys()})"

    def unknown_key_message(self, key: str) -> str:
        """The message for a missing ``key``: available keys and the closest match."""
        available = sorted(self._artifacts)
        listing = ", ".join(repr(k) for k in available) if available else "none yet"
        message = f"coupler has no key {key!r}; available keys: {listing}."
        close = closest(key, available)
        if close:
            message += f" Did you mean {close!r}?"
        return (
            message + " Produce it in an earlier step (outputs=[...] or consist.log_dataframe(..., key=...)) "
            "or set it with coupler.set(key, artifact)."
        )

    # -- writing ---------------------------------------------------------------------

    def set(self, key: str, artifact: Artifact) -> Artifact:
        """Put ``artifact`` under ``key`` on purpose (replacing any earlier one silently)."""
        self._put(check_key(key, "coupler key"), _checked(key, artifact), None, None)
        return artifact

    def update(self, mapping: Mapping[str, Artifact] | Any = None, /, **artifacts: Artifact) -> None:
        """Set several keys at once: a mapping such as ``result.outputs``, or keywords.

        A :class:`~consist.models.RunResult` is accepted too (its outputs are used).
        """
        if mapping is not None and not isinstance(mapping, Mapping):
            mapping = getattr(mapping, "outputs", mapping)
        if mapping is not None and not isinstance(mapping, Mapping):
            raise ConfigError(
                f"coupler.update() takes a mapping of key -> Artifact (such as result.outputs); "
                f"got a {type(mapping).__name__}."
            )
        # Check every entry first: a bad value leaves the coupler as it was, not half-updated.
        checked = {check_key(k, "coupler key"): _checked(k, a) for k, a in {**dict(mapping or {}), **artifacts}.items()}
        for key, artifact in checked.items():
            self.set(key, artifact)

    def sync(
        self,
        outputs: Mapping[str, Artifact],
        *,
        run_id: str,
        step: str,
        declared: frozenset[str] | set[str] = frozenset(),
        code: str | None = None,
        consumed: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        """Take a step's outputs (called for every step, hit or miss).

        A key last written by a *different* step (another name and other code) is
        replaced with a :class:`CouplerWarning` naming both runs (once per key and pair
        of steps): the later artifact wins and both runs keep their records. Silent, because the replacement is evidently
        intended: the same step writing its key again (a loop over years or parameters,
        one function under per-year names); a step that read the key's current artifact
        and writes a new one (``consumed``: a state advanced step by step); an explicit
        :meth:`set` or :meth:`update`. ``declared`` (the step's ``outputs=``) is kept for
        the record.
        """
        for key, artifact in outputs.items():
            previous = self._writers.get(key)
            other_step = previous is not None and previous[1] not in (None, step)
            if other_step and (code is None or previous[2] != code) and key not in consumed:
                self.replaced.setdefault(key, [previous[0] or "?"]).append(run_id)
                pair = (key, frozenset((previous[1], step)))
                if pair not in self._warned_replacements:
                    self._warned_replacements.add(pair)
                    warnings.warn(
                        f"coupler key {key!r} was produced by run {previous[0]!r} (step {previous[1]!r}) and is "
                        f"now replaced by run {run_id!r} (step {step!r}); later steps read run {run_id!r}'s. "
                        f"If that is intended, set it explicitly with sc.coupler.set({key!r}, ...); otherwise use "
                        f"another key. Further replacements of {key!r} between these steps are not reported "
                        "(all are listed in sc.coupler.replaced).",
                        CouplerWarning,
                        stacklevel=user_stacklevel(),
                    )
            self._put(key, artifact, run_id, step, code)

    def _put(self, key: str, artifact: Artifact, run_id: str | None, step: str | None, code: str | None = None) -> None:
        if self._warn_undocumented and key not in self._required and key not in self._warned:
            self._warned.add(key)
            hint = closest(key, list(self._required))
            warnings.warn(
                f"Setting undocumented coupler key {key!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
                + f"; documented keys: {sorted(self._required)}. Add it to require_outputs/declare_outputs "
                "if it is intended.",
                CouplerWarning,
                stacklevel=user_stacklevel(),
            )
        self._artifacts[key] = artifact
        self._writers[key] = (run_id, step, code)

    def resolve(self, inputs: Mapping[str, Any] | Sequence[Any] | str | None) -> Any:
        """A step's ``inputs`` with coupler keys replaced by their artifacts.

        In a mapping, a string value that is a coupler key (``{"df": "population"}``)
        gives its artifact; other values are kept. A list becomes a name -> value mapping:
        a key set in the coupler gives its artifact; another string naming an existing
        path, a ``Path`` or an ``Artifact`` is kept (named like the engine names list inputs).

        Raises
        ------
        CouplerKeyError
            A string that is neither a coupler key nor an existing path.
        """
        if inputs is None:
            return inputs
        if isinstance(inputs, Mapping):
            # Same rule as a list: a string set as a coupler key means that key's artifact.
            for name, value in inputs.items():
                if isinstance(value, str) and self._misspelt_key(value):
                    raise CouplerKeyError(f"input {name!r}: " + self.unknown_key_message(value))
            return {k: self._artifacts.get(v, v) if isinstance(v, str) else v for k, v in inputs.items()}
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        resolved: dict[str, Any] = {}
        for i, item in enumerate(inputs):
            if isinstance(item, str) and item in self._artifacts:
                name, value = item, self._artifacts[item]
            elif isinstance(item, Artifact):
                name, value = item.key, item
            elif isinstance(item, os.PathLike) or (isinstance(item, str) and os.path.exists(item)):
                path = Path(item)
                name, value = path.name.split(".")[0] or path.name, path
            elif isinstance(item, str):
                raise CouplerKeyError(f"input {item!r}: " + self.unknown_key_message(item))
            else:
                raise ConfigError(
                    f"inputs entry {item!r} is a {type(item).__name__}; expected a coupler key, a path or an Artifact."
                )
            # Same-named entries (files sharing a stem) all stay inputs, as in the engine.
            resolved[f"{name}#{i}" if name in resolved else name] = value
        return resolved

    def _misspelt_key(self, value: str) -> bool:
        # A bare name (no folder, no extension) that is no key and no file, but close to a
        # key: a typo of that key, not a path (a missing path would be reported as one).
        if value in self._artifacts or any(c in value for c in "./\\") or os.path.exists(value):
            return False
        return closest(value, list(self._artifacts)) is not None

    def collect_by_keys(self, outputs: Mapping[str, Artifact] | Any, *keys: str) -> dict[str, Artifact]:
        """Set the named entries of ``outputs`` (``result.outputs`` or a result); all of them if none are named."""
        mapping = getattr(outputs, "outputs", outputs)
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"collect_by_keys() takes result.outputs (a mapping); got a {type(mapping).__name__}.")
        if len(keys) == 1 and isinstance(keys[0], (list, tuple, set, frozenset)):
            keys = tuple(keys[0])  # collect_by_keys(outputs, ["a", "b"])
        missing = [k for k in keys if k not in mapping]
        if missing:
            raise ConfigError(
                f"collect_by_keys(): {missing} not among the outputs {sorted(mapping)}; "
                "check the key names or the step's outputs=."
            )
        picked = {k: mapping[k] for k in (keys or tuple(mapping))}
        self.update(picked)
        return picked

    # -- declarations ----------------------------------------------------------------

    def declare_outputs(
        self,
        *keys: str,
        required: bool | Mapping[str, bool] = False,
        description: Mapping[str, str] | None = None,
        warn_undocumented: bool = False,
    ) -> None:
        """Document keys this scenario produces, and which of them must be set by its end.

        ``required`` is one flag for all ``keys`` or a per-key mapping (keys it does not
        name are optional). Once required, a key stays required. The keys may also be
        given as one list (``declare_outputs(["a", "b"])``).
        """
        if len(keys) == 1 and isinstance(keys[0], (list, tuple, set, frozenset)):
            keys = tuple(keys[0])
        flags = required if isinstance(required, Mapping) else {}
        unknown = sorted(set(flags) - set(keys))
        if unknown:
            raise ConfigError(
                f"required= names {unknown}, which are not among the declared keys {list(keys)}; "
                "declare them too, or fix the spelling."
            )
        for key in keys:
            check_key(key, "coupler key")
            flag = bool(flags.get(key, False)) if isinstance(required, Mapping) else bool(required)
            self._required[key] = self._required.get(key, False) or flag
        for key, text in (description or {}).items():
            self._descriptions[check_key(key, "coupler key")] = str(text)
            self._required.setdefault(key, False)
        if warn_undocumented:
            self._warn_undocumented = True

    def missing_declared_outputs(self) -> list[str]:
        """Required declared keys that are not set yet, sorted."""
        return sorted(k for k, req in self._required.items() if req and k not in self._artifacts)

    def missing_outputs_error(self, scenario: str) -> ScenarioOutputsMissingError | None:
        """The error ending scenario ``scenario`` now would raise: required keys unset (None if all set)."""
        missing = self.missing_declared_outputs()
        if not missing:
            return None
        # A key set under a near spelling is the usual cause: name it.
        undeclared = [k for k in self.keys() if k not in self._required]
        near = {k: c for k in missing if (c := closest(k, undeclared))}
        hint = "".join(f" {c!r} is set: was it meant to be {k!r}?" for k, c in near.items())
        return ScenarioOutputsMissingError(
            f"scenario {scenario!r} ended without the required coupler outputs {missing} "
            f"(set: {self.keys() or 'nothing'}).{hint} Produce them in a step "
            "(outputs=[...]) or set them with sc.coupler.set(key, artifact), "
            "or declare them with required=False."
        )

    @property
    def declared_outputs(self) -> dict[str, bool]:
        """Declared keys and whether each is required."""
        return dict(self._required)

    @property
    def descriptions(self) -> dict[str, str]:
        """What each documented key holds, as declared."""
        return dict(self._descriptions)

    def typed(self, schema: type[T]) -> T:
        """A view of this coupler with one attribute per key of ``schema`` (see :func:`coupler_schema`)."""
        from consist.workflow.typed_coupler import TypedCoupler, schema_keys

        keys = schema_keys(schema)
        self.declare_outputs(*keys)
        return typing.cast(T, TypedCoupler(self, schema, keys))


def closest(key: str, candidates: list[str]) -> str | None:
    """The candidate nearest to ``key`` (by spelling, or one containing the other), if any."""
    if not isinstance(key, str) or not key:
        return None  # '' is inside every key: no suggestion beats a wrong one
    # A difference of case only ('Population' for 'population') is the likeliest typo, and
    # difflib misses it for short keys.
    folded = [c for c in candidates if c.casefold() == key.casefold()]
    if folded:
        return folded[0]
    found = difflib.get_close_matches(key, candidates, n=1, cutoff=0.5)
    if found:
        return found[0]
    # Containment only for a substantial part ('skims' in 'zarr_skims'): a letter or two
    # is inside most keys and would suggest nonsense.
    inside = [c for c in candidates if (c in key and len(c) >= 3) or (key in c and len(key) >= 3)]
    return inside[0] if inside else None


def _checked(key: str, artifact: Any) -> Artifact:
    if not isinstance(artifact, Artifact):
        raise ConfigError(
            f"coupler key {key!r} must hold an Artifact; got a {type(artifact).__name__}. "
            "Log the data in a step (or with sc.log_artifacts({key: path})) and store what that returns."
        )
    return artifact
