"""Floor 7: what makes a cache hit: pure digests of code, config and inputs.

Owns the tagged digest chokepoint and canonical config encoding
(:mod:`~consist.identity.digests`), content hashing with its stat memo
(:mod:`~consist.identity.hashing`, in parallel in :mod:`~consist.identity.parallel_hash`),
code identity recipes (:mod:`~consist.identity.code`), checking recorded code against
the running source (:mod:`~consist.identity.source_check`) and the wording of why a
step missed (:mod:`~consist.identity.reasons`). It touches no catalog and imports only
the leaves.
"""
