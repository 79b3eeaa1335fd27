"""Progress bars for long work: hashing large inputs, running many steps.

Shown on stderr in a terminal and as an updating HTML bar in a notebook; quiet when
neither is interactive (scripts under a scheduler, CI). ``Tracker(progress=True/False)``
or the ``CONSIST_PROGRESS=1/0`` environment variable switches it explicitly.
"""

from __future__ import annotations

import os
import sys
import time
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


class Progress:
    """A bar over ``total`` units (``"B"`` for bytes, ``"steps"``...).

    Use as a context manager; call :meth:`advance` as work completes. A disabled bar
    does nothing, so callers need no conditionals.
    """

    def __init__(self, label: str, total: int | None, *, unit: str = "B", enabled: bool = True, stream: Any = None) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.enabled = enabled
        self.done = 0
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

    def text(self) -> str:
        """The bar as one line of text."""
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        rate = self.done / elapsed
        if self.unit == "B":
            amount = human_size(self.done) + (f" / {human_size(self.total)}" if self.total else "")
            speed = f"{human_size(int(rate))}/s"
        else:
            amount = f"{self.done}" + (f" / {self.total}" if self.total else "") + f" {self.unit}"
            speed = f"{rate:.1f} {self.unit}/s"
        if self.total:
            frac = min(1.0, self.done / self.total)
            filled = int(frac * 24)
            return f"{self.label} [{'#' * filled}{'.' * (24 - filled)}] {frac:4.0%} {amount} {speed}"
        return f"{self.label} {amount} {speed}"

    def _render(self, final: bool) -> None:
        line = self.text()
        if self._notebook:
            from IPython.display import HTML, display

            body = HTML(notebook_html(line, self.done, self.total, final))
            if self._handle is None:
                self._handle = display(body, display_id=True)
            else:
                self._handle.update(body)
            return
        # Padded to the last line's width: a shorter line must not leave the old one's tail.
        pad = " " * max(0, self._width - len(line))
        self._width = len(line)
        self.stream.write("\r" + line + pad + ("\n" if final else ""))
        self.stream.flush()


def notebook_html(line: str, done: int, total: int | None, final: bool) -> str:
    """The notebook form of a bar: an HTML ``<progress>`` element and the text line, escaped."""
    if total:
        value = f" value='{min(1.0, done / total):.3f}'"
    else:
        # No total: an indeterminate (animated) bar while running, a full one when done.
        value = " value='1'" if final else ""
    return f"<progress{value} max='1' style='width:240px'></progress> <code>{esc(line)}</code>"


# A scenario's bar appears only once it has run this long: short scenarios (most
# notebook cells) print nothing.
SCENARIO_DELAY_S = 2.0


class StepProgress:
    """The step bar of a running scenario: steps done, of how many, and steps per second.

    The total is a guess: the number of steps the scenario's first recorded run had
    (none on a first run; dropped once exceeded). The bar shows only when progress is
    wanted (see :func:`wanted`) and the scenario has run for ``delay`` seconds.
    """

    def __init__(self, tracker: Any, name: str, *, delay: float = SCENARIO_DELAY_S, stream: Any = None) -> None:
        self.enabled = wanted(getattr(tracker, "progress", None))
        self.delay = delay
        self.started = time.perf_counter()
        self._tracker, self._name = tracker, name
        self.bar = Progress(f"scenario {name}", None, unit="steps", enabled=False, stream=stream)
        self._default_stream = stream is None

    @staticmethod
    def _expected(tracker: Any, name: str) -> int | None:
        try:
            earlier = tracker.records.get(name)
        except Exception:  # noqa: BLE001 - a guess must never break a scenario
            return None
        steps = earlier.meta.get("steps") if earlier is not None else None
        return len(steps) if isinstance(steps, list) and steps else None

    def step(self) -> None:
        """Count one finished (or failed) step."""
        bar = self.bar
        if self.enabled and not bar.enabled and time.perf_counter() - self.started >= self.delay:
            # Only a scenario long enough to show a bar pays for the guess of its total.
            bar.total = self._expected(self._tracker, self._name)
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
