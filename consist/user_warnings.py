"""Warnings pointed at the user's line, not at consist's internals."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent) + "/"


def warn(message: str) -> None:
    """``warnings.warn(message)`` attributed to the first caller outside the consist package."""
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level + 1)
