"""``log_artifact(..., content_hash=)``: a hash you already have, and what happens when it is not one.

A malformed value (not 64 hex digits) is never recorded: it would make every later
``verify`` report the file as modified and every hit on it miss. Like a hash that
contradicts a recorded one, it does not fail the step (which may have run for hours):
the file is hashed instead, with a warning naming the value and the file. A hash in
upper case is the same digest and is recorded in lower case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import consist
from consist import Tracker


def _log(_consist_ctx, supplied):
    path = _consist_ctx.run_dir / "f.txt"
    path.write_text("hello")
    consist.log_artifact(path, key="f", content_hash=supplied)


@pytest.mark.parametrize("supplied", ["xyz", "ab" * 31, "zz" * 32, ""])
def test_a_malformed_content_hash_is_not_recorded_and_the_step_goes_on(tmp_path: Path, supplied: str):
    tracker = Tracker(run_dir=tmp_path / "runs")
    with pytest.warns(UserWarning, match=r"is not a content hash .*f\.txt instead"):
        result = tracker.run(fn=_log, inject_context=True, runtime_kwargs={"supplied": supplied})
    assert result.run.status == "completed"
    assert tracker.verify([result.run.id]) == []
    assert len(result.outputs["f"].hash) == 64 and result.outputs["f"].hash != supplied


def test_an_upper_case_hash_is_the_same_digest(tmp_path: Path):
    tracker = Tracker(run_dir=tmp_path / "runs")
    first = tracker.run(fn=_log, name="first", inject_context=True, runtime_kwargs={"supplied": None})
    digest = first.outputs["f"].hash
    again = tracker.run(fn=_log, name="again", config={"k": 1}, inject_context=True,
                        runtime_kwargs={"supplied": digest.upper()})
    assert again.outputs["f"].hash == digest and tracker.verify([again.run.id]) == []
