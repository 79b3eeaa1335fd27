"""Floor 3: scenarios, the coupler between their steps, and traced blocks.

Owns :class:`~consist.workflow.scenario.Scenario`, the
:class:`~consist.workflow.coupler.Coupler`, ``sc.trace`` blocks and the planning of a
``run()`` call into a step spec (:mod:`~consist.workflow.steps`). It runs steps through
the engine and never imports the ``Tracker``: it works through the narrow
:class:`~consist.engine.host.StepHost`.
"""
