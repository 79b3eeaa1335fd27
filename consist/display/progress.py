"""Progress bars for long work: hashing large inputs, running many steps.

Shown on stderr in a terminal (one line, fitted to the terminal's width at each update,
with the elapsed time, an estimate of the time left and the step last finished) and as
one updating HTML bar in a notebook; quiet when
neither is interactive (scripts under a scheduler, CI). ``Tracker(progress=True/False)``
or the ``CONSIST_PROGRESS=1/0`` environment variable switches it explicitly.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from consist.display.html import esc, human_size

_MIN_INTERVAL = 0.1


def in_notebook() -> bool:
    """Whether we run inside a Jupyter kernel."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def wanted(setting: bool | None) -> bool:
    """Resolve a progress setting: explicit, else the environment, else interactivity."""
    if setting is not None:
        return setting
    env = os.environ.get("CONSIST_PROGRESS")
    if env is not None:
        return env.strip().lower() not in ("0", "false", "no", "off", "")
    try:
        return sys.stderr.isatty() or in_notebook()
    except (AttributeError, ValueError):
        return False


def clock(seconds: float) -> str:
    """``75`` -> ``1:15``; ``3725`` -> ``1:02:05``."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def terminal_columns(stream: Any) -> int | None:
    """The width of the terminal ``stream`` writes to (read at each call: windows get resized), or None."""
    try:
        if not stream.isatty():
            return None
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return None


class Progress:
    """A bar over ``total`` units (``"B"`` for bytes, ``"steps"``...).

    Use as a context manager; call :meth:`advance` as work completes. A disabled bar
    does nothing, so callers need no conditionals. The line shows the fraction done,
    the amount, the elapsed time and an estimate of the time left, the speed, and
    :attr:`note` (the step last finished); in a terminal it is fitted to the width.
    """

    def __init__(self, label: str, total: int | None, *, unit: str = "B", enabled: bool = True, stream: Any = None) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.enabled = enabled
        self.done = 0
        self.note = ""
        self.stream = stream if stream is not None else sys.stderr
        self._start = time.perf_counter()
        self._last = 0.0
        self._handle: Any = None
        self._width = 0
        self._notebook = enabled and stream is None and in_notebook()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.enabled:
            now = time.perf_counter()
            if now - self._last >= _MIN_INTERVAL or (self.total is not None and self.done >= self.total):
                self._last = now
                self._render(final=False)

    def close(self) -> None:
        if self.enabled:
            self._render(final=True)

    def _pieces(self) -> tuple[float | None, list[str]]:
        """The fraction done (None without a total) and the parts after the bar, most important first."""
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        rate = self.done / elapsed
        if self.unit == "B":
            amount = human_size(self.done) + (f" / {human_size(self.total)}" if self.total else "")
            speed = f"{human_size(int(rate))}/s"
        else:
            amount = f"{self.done}" + (f" / {self.total}" if self.total else "") + f" {self.unit}"
            speed = f"{rate:.1f} {self.unit}/s"
        frac = min(1.0, self.done / self.total) if self.total else None
        times = f"{clock(elapsed)} elapsed"
        if frac is not None and 0 < self.done < self.total and rate > 0:
            times += f", about {clock((self.total - self.done) / rate)} left"
        head = f"{frac:4.0%} {amount}" if frac is not None else amount
        return frac, [head, times, *([self.note] if self.note else []), speed]

    def text(self, width: int | None = None) -> str:
        """The bar as one line of text, fitted to ``width`` characters when given."""
        frac, parts = self._pieces()
        # Narrower: first a shorter bar, then fewer parts (the speed first), then clipped.
        for keep in range(len(parts), 0, -1):
            for bar in (24, 16, 10, 0) if frac is not None else (0,):
                line = _line(self.label, frac, bar, parts[:keep])
                if width is None or len(line) <= width:
                    return line
        return line[: max(0, width - 1)] + "…"

    def caption(self) -> str:
        """The line without a text bar (the notebook shows a graphic bar above it)."""
        return _line(self.label, None, 0, self._pieces()[1])

    def _render(self, final: bool) -> None:
        if self._notebook:
            from IPython.display import HTML, display

            body = HTML(notebook_html(self.caption(), self.done, self.total, final))
            if self._handle is None:
                self._handle = display(body, display_id=True)
            else:
                self._handle.update(body)
            return
        columns = terminal_columns(self.stream)
        # One column spare: a line that fills the last column wraps on some terminals.
        line = self.text() if columns is None else self.text(columns - 1)
        # Padded to the last line's width: a shorter line must not leave the old one's tail.
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write("\r" + line + pad + ("\n" if final else ""))
        self.stream.flush()


def _line(label: str, frac: float | None, bar: int, parts: list[str]) -> str:
    filled = int((frac or 0.0) * bar)
    graphic = f" [{'#' * filled}{'.' * (bar - filled)}]" if bar else ""
    return f"{label}{graphic} " + " · ".join(parts)


def notebook_html(line: str, done: int, total: int | None, final: bool) -> str:
    """The notebook form of a bar: one HTML ``<progress>`` element with the caption beside it, escaped."""
    if total:
        value = f" value='{min(1.0, done / total):.3f}'"
    else:
        # No total: an indeterminate (animated) bar while running, a full one when done.
        value = " value='1'" if final else ""
    return (
        f"<div style='display:flex;gap:8px;align-items:center;max-width:100%'>"
        f"<progress{value} max='1' style='width:200px;flex:none'></progress>"
        f"<span style='font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis'>{esc(line)}</span></div>"
    )


# A scenario's bar appears only once it has run this long: short scenarios (most
# notebook cells) print nothing.
SCENARIO_DELAY_S = 2.0


class StepProgress:
    """The step bar of a running scenario: steps done, of how many, and steps per second.

    The total is a guess, asked of ``expected`` only once the bar shows (the caller
    answers from the scenario's first recorded run: none on a first run; dropped once
    exceeded). The bar shows only when progress is wanted (``setting``, see
    :func:`wanted`) and the scenario has run for ``delay`` seconds.
    """

    def __init__(
        self,
        name: str,
        *,
        setting: bool | None = None,
        expected: Callable[[], int | None] = lambda: None,
        delay: float = SCENARIO_DELAY_S,
        stream: Any = None,
    ) -> None:
        self.enabled = wanted(setting)
        self.delay = delay
        self.started = time.perf_counter()
        self._expected = expected
        self.bar = Progress(f"scenario {name}", None, unit="steps", enabled=False, stream=stream)
        self._default_stream = stream is None

    def starting(self, name: str) -> None:
        """Show ``name`` as the step running now (redrawn at once if the bar is showing)."""
        self.bar.note = f"running {name}"
        if self.bar.enabled:
            self.bar._render(final=False)

    def step(self, name: str | None = None) -> None:
        """Count one finished (or failed) step; ``name`` is shown as the step last finished."""
        bar = self.bar
        if name:
            bar.note = name
        if self.enabled and not bar.enabled and time.perf_counter() - self.started >= self.delay:
            # Only a scenario long enough to show a bar pays for the guess of its total.
            bar.total = self._expected()
            bar.enabled = True
            bar._notebook = self._default_stream and in_notebook()
            bar._start = self.started  # the rate covers the whole scenario so far
            bar._last = 0.0
        if bar.total is not None and bar.done >= bar.total:
            bar.total = None  # more steps than last time: count without a total
        bar.advance(1)

    def close(self) -> None:
        """End the bar (a final line, if it was showing)."""
        self.bar.close()
