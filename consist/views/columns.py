"""A warning for a view whose declared columns no artifact has (a view of all-null rows).

A schema registered under a key whose files have other column names (a typo, a renamed
column, the wrong key) would give a view with the right number of rows and every data
column null. :func:`warn_unmatched` names the declared columns and those the files have.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Mapping


class ViewColumnsWarning(UserWarning):
    """A view's declared columns match no column of its artifacts."""


def warn_unmatched(view: str, declared: Iterable[str], layouts: Iterable[Mapping[str, str]], artifacts: int) -> bool:
    """Warn when ``artifacts`` > 0 and none of ``declared`` is a column of any layout; True if warned."""
    wanted = list(declared)
    have = sorted({name for layout in layouts for name in layout})
    if not artifacts or not wanted or set(wanted) & set(have):
        return False
    close = {w: difflib.get_close_matches(w, have, n=1) for w in wanted}
    hints = "".join(f" ({w!r}: did you mean {c[0]!r}?)" for w, c in close.items() if c)
    warnings.warn(
        f"view {view!r}: none of its columns ({', '.join(wanted)}) is in any of its {artifacts} artifact(s), so "
        f"every data column is null.{hints} The artifacts have: {', '.join(have) or '(no columns)'}. Rename the "
        "schema's fields to match, or register it under the right key (__consist_key__).",
        ViewColumnsWarning,
        stacklevel=2,
    )
    return True
