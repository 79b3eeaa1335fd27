"""What a map returns: one result per config, in order, the failures, and how each ended."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from consist.models import RunResult

_SHOWN_FAILURES = 10


class MapResult:
    """The batch result of ``sc.map`` / ``tracker.map`` / ``consist.map``.

    Attributes
    ----------
    results
        One :class:`~consist.models.RunResult` per config, in the order given; ``None``
        for a config that failed.
    failed
        ``(config, error)`` pairs of the configs that failed, in order.
    statuses
        ``"hit"``, ``"executed"`` or ``"failed"`` per config.
    hits, executed
        How many configs were served from the cache (in the client, or folded into a
        duplicate's task) and how many executed.
    shipped
        Configs sent to the executor, retries included (0 for a fully cached map);
        several may travel in one task (see :mod:`consist.executors.batching`).

    Examples
    --------
    >>> batch = sc.map(simulate, configs=[{"rate": r} for r in rates], executor=client)  # doctest: +SKIP
    >>> batch.hits, batch.executed, len(batch.failed)
    >>> batch = batch.retry()  # only the failed configs run again
    """

    def __init__(
        self,
        configs: list[Any],
        results: list[RunResult | None],
        errors: list[BaseException | None],
        statuses: list[str],
        shipped: int,
        rerun: Callable[[list[Any]], MapResult],
    ) -> None:
        self.configs = configs
        self.results = results
        self.errors = errors
        self.statuses = statuses
        self.shipped = shipped
        self._rerun = rerun

    @property
    def failed(self) -> list[tuple[Any, BaseException]]:
        """``(config, error)`` for each config that failed."""
        return [(c, e) for c, e in zip(self.configs, self.errors) if e is not None]

    @property
    def hits(self) -> int:
        return self.statuses.count("hit")

    @property
    def executed(self) -> int:
        return self.statuses.count("executed")

    @property
    def counts(self) -> dict[str, int]:
        """``{"hits", "executed", "failed", "shipped"}`` as numbers."""
        return {"hits": self.hits, "executed": self.executed, "failed": self.statuses.count("failed"),
                "shipped": self.shipped}

    @property
    def ok(self) -> bool:
        """Whether every config has a result."""
        return "failed" not in self.statuses

    def retry(self) -> MapResult:
        """Run the failed configs again (same options); the others keep their results.

        Returns a new :class:`MapResult` over all the configs.
        """
        wanted = [i for i, status in enumerate(self.statuses) if status == "failed"]
        if not wanted:
            return self
        again = self._rerun([self.configs[i] for i in wanted])
        results, errors, statuses = list(self.results), list(self.errors), list(self.statuses)
        for i, result, error, status in zip(wanted, again.results, again.errors, again.statuses):
            results[i], errors[i], statuses[i] = result, error, status
        return MapResult(self.configs, results, errors, statuses, self.shipped + again.shipped, self._rerun)

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[RunResult | None]:
        return iter(self.results)

    def __getitem__(self, index: int) -> RunResult | None:
        return self.results[index]

    def __repr__(self) -> str:
        c = self.counts
        return (
            f"MapResult({len(self)} configs: {c['hits']} hits, {c['executed']} executed, "
            f"{c['failed']} failed, {c['shipped']} shipped)"
        )

    def _repr_html_(self) -> str:
        from consist.display.html import esc, table

        c = self.counts
        head = table(("configs", "hits", "executed", "failed", "configs shipped"),
                     [(len(self), c["hits"], c["executed"], c["failed"], c["shipped"])], title="Map")
        rows = [
            (i, _short(config), status, result.run_id if result is not None else "",
             _short(error) if error is not None else "")
            for i, (config, result, error, status) in enumerate(zip(self.configs, self.results, self.errors, self.statuses))
            if status == "failed"
        ][:_SHOWN_FAILURES]
        if not rows:
            return head
        more = c["failed"] - len(rows)
        note = f"<div>... and {esc(more)} more failures (see .failed)</div>" if more > 0 else ""
        return head + table(("#", "config", "status", "run", "error"), rows, title="Failed configs") + note


def _short(value: Any) -> str:
    text = f"{type(value).__name__}: {value}" if isinstance(value, BaseException) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
