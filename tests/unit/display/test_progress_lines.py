"""Progress lines in a real terminal (a pseudo-terminal of a set width) and in a notebook."""

from __future__ import annotations

import os
import struct
import sys

import pytest

from consist.display.progress import Progress, notebook_html

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are a Unix feature")


def terminal(columns: int):
    """A writable stream on a pseudo-terminal ``columns`` wide, and a reader of what reached it."""
    import fcntl
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    stream = os.fdopen(slave, "w")

    def read() -> str:
        stream.flush()
        return os.read(master, 1 << 16).decode()

    return stream, read


def lines(output: str) -> list[str]:
    return [part.rstrip() for part in output.replace("\r\n", "\r").replace("\n", "\r").split("\r") if part.strip()]


@pytest.mark.parametrize("columns", [50, 80, 160])
def test_step_bar_fits_the_terminal_and_shows_elapsed_time(columns: int):
    stream, read = terminal(columns)
    bar = Progress("scenario growth_0.02", 14, unit="steps", stream=stream)
    bar._start -= 12  # as if it had run 12 s
    bar.note = "trip_generation"
    bar.advance(5)
    bar._render(final=True)
    shown = lines(read())
    assert shown and all(len(line) < columns for line in shown)
    assert all("5 / 14 steps" in line for line in shown)
    if columns >= 80:
        assert "0:12 elapsed, about 0:21 left" in shown[-1]
    if columns >= 160:
        assert "trip_generation" in shown[-1] and "[" in shown[-1]


def test_notebook_bar_is_one_graphic_with_a_caption_and_no_text_copy():
    bar = Progress("scenario s", 10, unit="steps", stream=open(os.devnull, "w"))
    bar.note = "simulate"
    bar.advance(4)
    html = notebook_html(bar.caption(), bar.done, bar.total, final=False)
    assert html.count("<progress") == 1 and "[#" not in html and "..." not in html
    assert "4 / 10 steps" in html and "elapsed" in html and "simulate" in html


def test_a_scenario_bar_names_the_step_running_now(tmp_path):
    """Once showing, the bar is redrawn when a step starts, naming it; after it, the step last finished."""
    import io

    from consist.display.progress import StepProgress

    out = io.StringIO()
    bar = StepProgress("base", delay=0.0, stream=out)
    bar.enabled = True
    bar.step("prepare")
    bar.starting("simulate")
    assert "running simulate" in out.getvalue().split("\r")[-1]
    bar.step("simulate")
    bar.close()
    assert "simulate" in out.getvalue().split("\r")[-1] and "running" not in out.getvalue().split("\r")[-1]
