"""Floor 4: cache control beside the step path: explain, recover, verify, collect.

Owns answering "would this hit, and why not" (:mod:`~consist.cache.explain`), bringing
missing bytes back (:mod:`~consist.cache.recover`), re-hashing recorded outputs
(:mod:`~consist.cache.verify`) and deleting old run folders
(:mod:`~consist.cache.cleanup`). It uses the engine and the catalog below it, receives
a :class:`~consist.engine.host.StepHost` or catalog host, and never imports the front.
"""
