"""Floor 5: one step, from its spec to its record.

Owns the :class:`~consist.engine.spec.StepSpec` and its one builder, the lifecycle of a
step (:mod:`~consist.engine.step`: identity -> cache lookup -> execute -> record), the
run context a step logs into, how a function's parameters are bound and its outputs
collected, cache hydration and the replay recipe. It works through the
:class:`~consist.engine.host.StepHost` protocol; it never imports the ``Tracker``, the
workflow, the cache-control layer or the executors above it.
"""
