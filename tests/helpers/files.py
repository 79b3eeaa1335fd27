"""File helpers shared by tests."""

from __future__ import annotations

import os
import time
from pathlib import Path


def age(path: Path, seconds: float = 10.0) -> None:
    """Backdate a file's mtime so its hash may be memoised."""
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def settled(path: Path, monkeypatch) -> None:
    """Make ``path`` count as settled for the hash memo: backdate its mtime and shorten the racy window.

    A file's ctime cannot be set back, and the memo waits until it is older than
    ``consist.identity.hashing._RACY_SECONDS``; the window is shortened to 50 ms here
    and waited out, instead of the two seconds a real file waits.
    """
    from consist.identity import hashing

    age(path)
    monkeypatch.setattr(hashing, "_RACY_SECONDS", 0.05)
    time.sleep(0.06)
