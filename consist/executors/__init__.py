"""Floor 4: where a step's work runs other than in this Python process.

Owns the container executor (:mod:`~consist.executors.containers`, its spec and
identity in :mod:`~consist.executors.container_spec`, the checks around a run in
:mod:`~consist.executors.container_checks`, the Docker Engine calls in
:mod:`~consist.executors._docker_engine`). An executor builds a step spec and hands it
to the engine; it never writes records or cache entries itself, and imports ``docker``
only inside functions. :mod:`consist.integrations.containers` is the public shim.
"""
