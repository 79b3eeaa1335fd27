"""Public entry points for tools outside Python: container steps (:mod:`.containers`).

Each integration imports its heavy dependency (``docker``) inside the functions that
use it, so importing this package, or ``consist``, never needs it.
"""
