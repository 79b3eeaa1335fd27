"""consist: provenance, caching and cross-run queries for scientific pipelines.

The front door only re-exports names; see each module for the behaviour.
"""

from consist.api import load, log_artifact, log_dataframe, run, scan
from consist.context import RunContext, current_tracker, use_tracker
from consist.errors import (
    ArtifactNotFoundError,
    CatalogError,
    ConfigError,
    ConsistError,
    IdentityError,
    InputError,
    InputNotFoundError,
    NoActiveTrackerError,
    OutputError,
    OutputMissingError,
    RunNotFoundError,
    SchemaVersionError,
    StoreError,
    UnhashableInputError,
    UnsafeKeyError,
)
from consist.models import Artifact, Run, RunResult
from consist.tracker import Tracker

__version__ = "0.1.0"

__all__ = [
    "Artifact",
    "ArtifactNotFoundError",
    "CatalogError",
    "ConfigError",
    "ConsistError",
    "IdentityError",
    "InputError",
    "InputNotFoundError",
    "NoActiveTrackerError",
    "OutputError",
    "OutputMissingError",
    "Run",
    "RunContext",
    "RunNotFoundError",
    "RunResult",
    "SchemaVersionError",
    "StoreError",
    "Tracker",
    "UnhashableInputError",
    "UnsafeKeyError",
    "current_tracker",
    "load",
    "log_artifact",
    "log_dataframe",
    "run",
    "scan",
    "use_tracker",
]
