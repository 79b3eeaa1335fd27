"""Floor 1: the ``consist`` command (``consist.cli:main``) over the same catalog a Tracker writes.

Owns argument parsing and exit codes (:mod:`~consist.cli.app`), opening a run folder from the command
line (:mod:`~consist.cli.catalog`), the subcommands (:mod:`~consist.cli.commands`,
:mod:`~consist.cli.maintain`) and their plain-text output (:mod:`~consist.cli.text`).
It goes through the ``Tracker`` like any user; nothing below imports it.
"""

from consist.cli.app import main

__all__ = ["main"]
