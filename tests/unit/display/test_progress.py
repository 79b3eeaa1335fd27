"""Progress: bars show sizes and speed, and stay quiet unless wanted."""

from __future__ import annotations

import io
import os

import blake3

from consist.identity import hashing
from consist.display import progress
from consist.identity.hashing import Hasher
from consist.display.progress import Progress


def test_bar_shows_sizes_percent_and_speed():
    """A byte bar prints the fraction done, the sizes and a rate."""
    out = io.StringIO()
    with progress.Progress("hashing big.bin", 4 * 2**20, stream=out) as bar:
        bar.advance(2**20)
        bar.advance(3 * 2**20)
    text = out.getvalue()
    assert "100%" in text and "4.0 MiB / 4.0 MiB" in text and "/s" in text and text.endswith("\n")


def test_step_bar_counts_steps():
    """A step bar counts steps."""
    bar = progress.Progress("scenario", 10, unit="steps", stream=io.StringIO())
    bar.advance(3)
    assert "3 / 10 steps" in bar.text()


def test_quiet_when_not_interactive(monkeypatch):
    """Without a terminal or notebook, progress is off unless switched on."""
    monkeypatch.delenv("CONSIST_PROGRESS", raising=False)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert progress.wanted(None) is False
    assert progress.wanted(True) is True
    monkeypatch.setenv("CONSIST_PROGRESS", "1")
    assert progress.wanted(None) is True


def test_progress_hashing_gives_the_same_digest(tmp_path, monkeypatch, capsys):
    """Hashing in slices for the progress bar gives the plain blake3 digest and prints a bar."""
    monkeypatch.setattr(hashing, "_PROGRESS_THRESHOLD", 1024)
    monkeypatch.setattr(hashing, "_PROGRESS_CHUNK", 4096)
    data = os.urandom(50_000)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    assert Hasher(None, progress=True).hash_file(path) == blake3.blake3(data).hexdigest()
    assert "hashing big.bin" in capsys.readouterr().err


def test_terminal_bar_clears_a_longer_previous_line():
    """A progress line shorter than the one before it is padded, so no stale characters remain."""
    stream = io.StringIO()
    bar = Progress("scenario s", None, unit="steps", stream=stream)
    bar.text = lambda: "x" * 30  # type: ignore[method-assign]
    bar._render(final=False)
    bar.text = lambda: "y" * 10  # type: ignore[method-assign]
    bar._render(final=True)
    assert stream.getvalue() == "\r" + "x" * 30 + "\r" + "y" * 10 + " " * 20 + "\n"
