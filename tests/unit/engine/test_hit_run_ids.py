"""A cache hit's generated run id is unclaimed, so no two processes may draw the same one."""

from __future__ import annotations

import os
import random

from consist.engine.run_ids import hit_run_id


def _draw_in_child(seed_user_random: bool) -> str:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        if seed_user_random:
            random.seed(0)
        os.write(write_end, hit_run_id(None, "step", None).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as fh:
        return fh.read().decode()


def test_forked_children_draw_other_ids_than_their_parent() -> None:
    children = {_draw_in_child(False) for _ in range(8)}
    mine = {hit_run_id(None, "step", None) for _ in range(8)}
    assert len(children) == 8 and not children & mine


def test_a_step_seeding_pythons_random_does_not_repeat_ids() -> None:
    random.seed(0)
    mine = hit_run_id(None, "step", None)
    assert len({_draw_in_child(True) for _ in range(8)} | {mine}) == 9


def test_one_process_never_draws_an_id_twice() -> None:
    ids = [hit_run_id(None, "step", None) for _ in range(5_000)]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("step-") and len(i.rsplit("-", 1)[1]) == 8 for i in ids)
