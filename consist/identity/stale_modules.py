"""Modules of a git repository whose file no longer holds the code the process runs.

``repo_git`` identifies a step by the repository's working tree, which describes the
running code only while every module imported from the repository still matches its
file. A helper module edited on disk after it was imported (the notebook case) keeps
running its old code; such a module must be identified by its code objects instead, or
the old code would share the working tree's identity with the new one.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

from consist.identity import source_check
from consist.user_warnings import warn

# Module file -> ((module id, mtime_ns, size), stale?): each file is compiled once per change.
_seen: dict[str, tuple[tuple[Any, ...], bool]] = {}


def stale_modules(root: str) -> list[types.ModuleType]:
    """The loaded modules under ``root`` whose file no longer describes their code (warned once each)."""
    prefix = root.rstrip("/") + "/"
    stale = []
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not (isinstance(path, str) and path.startswith(prefix) and path.endswith(".py")):
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        key = (id(module), st.st_mtime_ns, st.st_size)
        memo = _seen.get(path)
        if memo is None or memo[0] != key:
            memo = (key, not matches(module))
            _seen[path] = memo
            if memo[1]:
                warn(
                    f"`{module.__name__}`: the module file `{Path(path).name}` changed on disk since it was "
                    "imported; identifying the imported code"
                )
        if memo[1]:
            stale.append(module)
    return stale


def matches(module: types.ModuleType) -> bool:
    """Whether ``module``'s file holds the text it was imported from."""
    path = module.__file__ or ""
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return source_check.module_describes(source, path, module, [])
