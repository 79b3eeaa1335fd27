"""Warnings pointed at the user's line, not at consist's internals."""

from __future__ import annotations

import contextlib
import sys
import warnings
from pathlib import Path

# contextlib too: consist's context managers sit between a warning and the user.
_INTERNAL = (str(Path(__file__).resolve().parent) + "/", contextlib.__file__)


def user_stacklevel(depth: int = 1) -> int:
    """The ``stacklevel`` that attributes a warning raised ``depth`` frames up to the user's code.

    ``warnings.warn(..., stacklevel=user_stacklevel())`` in a consist function points at
    the first caller outside the consist package.
    """
    frame, level = sys._getframe(depth), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    return level


def warn(message: str) -> None:
    """``warnings.warn(message)`` attributed to the first caller outside the consist package."""
    warnings.warn(message, UserWarning, stacklevel=user_stacklevel(2) + 1)
