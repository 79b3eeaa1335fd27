"""The scenario's coupler conveniences: declaring outputs, typed views, collecting and logging into it.

Mixed into :class:`~consist.workflow.scenario.Scenario`; each method works on the
scenario's :class:`~consist.workflow.coupler.Coupler` and delegates to it (or, for
``log_artifacts``, to :mod:`consist.workflow.logged_files`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from consist.models import Artifact, RunResult
from consist.workflow.logged_files import log_files

if TYPE_CHECKING:
    from consist.engine.host import StepHost
    from consist.workflow.coupler import Coupler

T = TypeVar("T")


class CouplerMethods:
    """Mixed into :class:`consist.Scenario`."""

    coupler: Coupler
    tracker: StepHost
    run_id: str | None
    _outputs: dict[str, Artifact]
    check_open: Any

    def require_outputs(
        self, *keys: str, warn_undocumented: bool = False, description: Mapping[str, str] | None = None
    ) -> None:
        """Declare coupler keys that must be set before the scenario ends.

        Leaving the scenario without one fails it (recorded as failed) with
        :class:`~consist.errors.ScenarioOutputsMissingError`. ``warn_undocumented=True``
        warns whenever a key that was not declared is set (catching typos);
        ``description`` documents what each key holds.
        """
        self.coupler.declare_outputs(*keys, required=True, description=description, warn_undocumented=warn_undocumented)

    def declare_outputs(
        self,
        *keys: str,
        required: bool | Mapping[str, bool] = False,
        description: Mapping[str, str] | None = None,
        warn_undocumented: bool = False,
    ) -> None:
        """Declare coupler keys, each required or optional (``required={"debug": False}``)."""
        self.coupler.declare_outputs(
            *keys, required=required, description=description, warn_undocumented=warn_undocumented
        )

    def coupler_schema(self, schema: type[T]) -> T:
        """A typed view of the coupler: ``view.zarr_skims`` is the artifact under that key.

        ``schema`` is a class whose annotated attributes are the keys (see
        :func:`consist.coupler_schema`); they become documented outputs of the scenario.
        Reading a key nobody set raises :class:`~consist.errors.CouplerAttributeError`.
        """
        return self.coupler.typed(schema)

    def collect_by_keys(self, outputs: Mapping[str, Artifact] | RunResult, *keys: str) -> dict[str, Artifact]:
        """Put the named entries of ``outputs`` (e.g. ``result.outputs``) into the coupler; returns them."""
        return self.coupler.collect_by_keys(outputs, *keys)

    def log_artifacts(
        self,
        paths: Mapping[str, str | os.PathLike[str]],
        *,
        metadata_by_key: Mapping[str, Mapping[str, Any]] | None = None,
        **shared_metadata: Any,
    ) -> dict[str, Artifact]:
        """Log several existing files at once, each under its key, and set them in the coupler.

        Every artifact gets ``shared_metadata``; ``metadata_by_key[key]`` adds to (and
        overrides) it for one key. Inside a running step they are that step's outputs;
        elsewhere they are outputs of the scenario's own record.

        Raises
        ------
        ConfigError
            ``metadata_by_key`` names a key that is not in ``paths``.
        InputNotFoundError
            A path does not exist (nothing is logged).
        """
        self.check_open()
        logged = log_files(
            paths, metadata_by_key, shared_metadata, run_id=self.run_id, hasher=self.tracker.hasher,
            mounts=self.tracker.mounts, sink=self._outputs,
        )
        self.coupler.update(logged)
        return logged
