"""consist: provenance, caching and cross-run queries for scientific pipelines.

The front door only re-exports names; see each module for the behaviour.
"""

from consist._active import current_tracker, use_tracker
from consist.api import (
    diff,
    export_sqlmodel_stub,
    find_run,
    find_runs,
    ingest,
    lineage_graph,
    load,
    log_artifact,
    log_dataframe,
    map,
    output_path,
    pivot_facets,
    run,
    run_query,
    runs_table,
    scan,
    scenario,
    scenario_graph,
    trace,
)
from consist.cache.explain import Explanation
from consist.display.graph import LineageGraph
from consist.engine.context import RunContext
from consist.errors import (
    ArtifactNotFoundError,
    CatalogError,
    ConfigError,
    ConsistError,
    ContainerError,
    ContainerExitError,
    ContainerTimeoutError,
    CouplerAttributeError,
    CouplerKeyError,
    EngineUnavailableError,
    HydrationConflictError,
    IdentityError,
    ImageNotFoundError,
    InputError,
    InputNotFoundError,
    NoActiveTrackerError,
    OutputError,
    OutputMissingError,
    RecoveryError,
    RunNotFoundError,
    ScenarioOutputsMissingError,
    SchemaConflictError,
    SignatureMismatchError,
    StoreError,
    UnhashableInputError,
    UnsafeKeyError,
    UpstreamNameError,
    UpstreamOptionError,
)
from consist.models import Artifact, Run, RunResult
from consist.tracker import Tracker
from consist.workflow.coupler import Coupler, CouplerWarning
from consist.workflow.scenario import Scenario
from consist.workflow.scenario_drawing import ScenarioGraph
from consist.workflow.typed_coupler import coupler_schema

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Upstream Consist's option objects get an ImportError saying what to write instead.
    from consist.upstream import name_error

    raise name_error(name)


__all__ = [
    "Artifact",
    "ArtifactNotFoundError",
    "CatalogError",
    "ConfigError",
    "ConsistError",
    "ContainerError",
    "ContainerExitError",
    "ContainerTimeoutError",
    "Coupler",
    "CouplerAttributeError",
    "CouplerKeyError",
    "CouplerWarning",
    "EngineUnavailableError",
    "Explanation",
    "HydrationConflictError",
    "IdentityError",
    "ImageNotFoundError",
    "InputError",
    "InputNotFoundError",
    "LineageGraph",
    "NoActiveTrackerError",
    "OutputError",
    "OutputMissingError",
    "RecoveryError",
    "Run",
    "RunContext",
    "RunNotFoundError",
    "RunResult",
    "Scenario",
    "ScenarioGraph",
    "ScenarioOutputsMissingError",
    "SchemaConflictError",
    "SignatureMismatchError",
    "StoreError",
    "Tracker",
    "UnhashableInputError",
    "UnsafeKeyError",
    "UpstreamNameError",
    "UpstreamOptionError",
    "coupler_schema",
    "current_tracker",
    "diff",
    "export_sqlmodel_stub",
    "find_run",
    "find_runs",
    "ingest",
    "lineage_graph",
    "load",
    "log_artifact",
    "log_dataframe",
    "map",
    "output_path",
    "pivot_facets",
    "run",
    "run_query",
    "runs_table",
    "scan",
    "scenario",
    "scenario_graph",
    "trace",
    "use_tracker",
]
