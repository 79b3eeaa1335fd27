"""Importable step functions for the map tests: workers in other processes import them by name.

Each execution appends its config number to the file named by ``log`` (a runtime
argument: not part of the identity), so tests count executions across processes.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

import consist


def _note(log: str, i: int) -> None:
    with open(log, "a", encoding="utf-8") as fh:  # one short O_APPEND write: atomic across processes
        fh.write(f"{i}\n")


def executions(log: Path) -> list[int]:
    """Config numbers in the order they executed (one line per execution)."""
    return [int(x) for x in log.read_text().split()] if log.exists() else []


def simulate(config: dict, log: str) -> pl.DataFrame:
    """One config's table: its number and its square."""
    _note(log, config["i"])
    return pl.DataFrame({"i": [config["i"]], "sq": [config["i"] ** 2], "pid": [os.getpid()]})


def flaky(config: dict, log: str, marks: str) -> pl.DataFrame:
    """Raises on the first attempt of configs with ``fail``; succeeds on the next."""
    _note(log, config["i"])
    if config.get("fail") and _first(Path(marks) / f"fail-{config['i']}"):
        raise RuntimeError(f"transient failure of config {config['i']}")
    return pl.DataFrame({"i": [config["i"]]})


def always_fails(config: dict, log: str) -> pl.DataFrame:
    _note(log, config["i"])
    raise ValueError(f"config {config['i']} is invalid")


def dies_once(config: dict, log: str, marks: str) -> pl.DataFrame:
    """Kills its own worker process on the first attempt of configs with ``die``."""
    if config.get("die") and _first(Path(marks) / f"die-{config['i']}"):
        os._exit(17)
    _note(log, config["i"])
    return pl.DataFrame({"i": [config["i"]]})


def chain(config: dict, log: str) -> dict:
    """A multi-year chain inside one task: each year is its own consist.run step."""
    _note(log, config["i"])
    previous = None
    for year in (2020, 2030, 2040):
        result = consist.run(
            grow, config={"rate": config["rate"], "year": year}, year=year,
            inputs={"base": previous} if previous is not None else None, outputs=["pop"],
        )
        previous = result.outputs["pop"]
    return {"final": consist.load(previous, "polars")}


def grow(config: dict, base: pl.DataFrame | None = None) -> pl.DataFrame:
    pop = base["pop"][0] if base is not None else 100.0
    return pl.DataFrame({"year": [config["year"]], "pop": [pop * (1 + config["rate"])]})


def _first(marker: Path) -> bool:
    """True once per marker file, across processes."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
