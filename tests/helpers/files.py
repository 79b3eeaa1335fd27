"""File helpers shared by tests."""

from __future__ import annotations

import os
import time
from pathlib import Path


def age(path: Path, seconds: float = 10.0) -> None:
    """Backdate a file's mtime so its hash may be memoised."""
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))
