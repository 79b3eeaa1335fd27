"""Tracker methods for cache control: explain, would_hit, verify, recover.

Each delegates to the module that owns the concept; see :class:`consist.Tracker`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from consist.cache.explain import Explanation
    from consist.cache.recover import Recovery
    from consist.cache.verify import OutputProblem
    from consist.engine.spec import StepSpec
    from consist.models import Artifact


def _signature(function: Any) -> inspect.Signature:
    """``inspect.signature`` of ``function`` (a class's ``run``), taken once per function object."""
    known = _SIGNATURES.get(function)
    if known is None:
        known = _SIGNATURES[function] = inspect.signature(function)
    return known


_SIGNATURES: dict[Any, inspect.Signature] = {}


class CacheControlMethods:
    """Mixed into :class:`consist.Tracker`."""

    run: Any
    _plan: Any

    # -- cache control (see consist.cache.explain, consist.cache.verify, consist.cache.recover) ----------

    def explain(self, *args: Any, **kwargs: Any) -> Explanation:
        """Whether :meth:`run` with these arguments would hit the cache, and exactly why not.

        Takes the same arguments as :meth:`run`; nothing executes and nothing is copied.
        On a miss the call is compared with the closest earlier run of the step: the
        code that changed, config leaves (old -> new), inputs (path, old -> new hash), or
        that no earlier run exists; changed inputs are followed upstream to why their
        producers ran.

        Returns
        -------
        Explanation
            ``.would_hit``, ``.reason`` and per-component fields; ``str()`` reads well.

        Examples
        --------
        >>> print(tracker.explain(fn=clean_data, inputs={"raw": Path("raw.csv")},  # doctest: +SKIP
        ...                       config={"threshold": 0.7}, outputs=["cleaned"]))
        step 'clean_data' would MISS (execute): config threshold differs from run clean_data-... (the closest ...)
          - config threshold: 0.5 -> 0.7
        """
        from consist.cache.explain import explain

        return explain(self, self._planned(args, kwargs))

    def would_hit(self, *args: Any, **kwargs: Any) -> bool:
        """True when :meth:`run` with these arguments would be served from the cache."""
        from consist.cache.explain import would_hit

        return would_hit(self, self._planned(args, kwargs))

    def verify(self, run_ids: str | Sequence[str] | None = None) -> list[OutputProblem]:
        """Re-hash the outputs of ``run_ids`` (all runs when None) and list what is wrong.

        Each problem names the path, the output key and the run that produced it:
        ``"missing"``, or ``"modified"`` (bytes no longer match the recorded hash).
        """
        from consist.cache.verify import verify

        return verify(self, run_ids)

    def recover(
        self,
        artifact: Artifact,
        *,
        runtime_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
        overwrite: bool = False,
    ) -> Recovery:
        """Bring back a missing artifact's bytes at its recorded path.

        Copies them from another recorded file with the same content, or re-executes
        the producing chain (only the steps whose outputs are missing, upstream first)
        when its functions are importable in this process, and checks the regenerated
        bytes against the recorded hash before putting them in place.

        Parameters
        ----------
        artifact
            The artifact to recover (e.g. from ``result.outputs``, the catalog, or the
            ``ArtifactNotFoundError`` raised by ``consist.load``).
        runtime_kwargs
            ``{step name: {argument: value}}`` for steps that were called with
            ``runtime_kwargs`` (their values are not recorded, except plain paths).
        overwrite
            Replace a file at the path that holds different bytes.

        Raises
        ------
        RecoveryError
            The bytes can be neither copied nor regenerated; the message says why.
        """
        from consist.cache.recover import recover

        return recover(self, artifact, runtime_kwargs=runtime_kwargs, overwrite=overwrite)

    def _planned(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> StepSpec:
        # Bound to run()'s own signature: the same defaults; the planner refuses unknown options.
        bound = _signature(type(self).run).bind(self, *args, **kwargs)  # a map plans every config
        bound.apply_defaults()
        options = dict(bound.arguments)
        del options["self"]
        options.update(options.pop("unknown", {}))
        return self._plan(options.pop("step"), options.pop("name"), options)
