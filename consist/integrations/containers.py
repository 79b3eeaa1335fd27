"""Container steps: a command run in a Docker image, as a cached and recorded step.

The public entry point; the executor itself lives in :mod:`consist.executors.containers`.

Examples
--------
>>> from consist.integrations.containers import run_container    # doctest: +SKIP
"""

from consist.executors.container_spec import LOGS_KEY, ContainerSpec, container_version, make_spec
from consist.executors.containers import run_container

__all__ = ["LOGS_KEY", "ContainerSpec", "container_version", "make_spec", "run_container"]
