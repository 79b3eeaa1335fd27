"""``python -m consist ...``: the same command as the installed ``consist`` script.

Useful where the script is not on ``PATH`` (a virtual environment that is not
activated, a job scheduler's bare interpreter): ``python -m consist runs``.
"""

from __future__ import annotations

import sys

from consist.cli import main

if __name__ == "__main__":
    sys.exit(main())
