"""``python -m consist.cli ...``: the ``consist`` command (as ``python -m consist``)."""

import sys

from consist.cli.app import main

sys.exit(main())
