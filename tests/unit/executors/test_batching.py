"""Batch sizes of a map: start at one (or where the step's last map left off), grow towards ~0.5 s a task, keep the tail spread out."""

from __future__ import annotations

import uuid

import pytest

from consist import ConfigError
from consist.executors.batching import TARGET_SECONDS, TASKS_PER_SLOT, Sizer, batch_size_of


def test_unknown_slots_mean_one_config_a_task_all_sent_at_once():
    sizer = Sizer(None, lambda: None)
    sizer.observe([0.001] * 10)
    assert (sizer.size(1000), sizer.window()) == (1, None)


def test_batches_start_at_one_and_at_most_double_towards_the_target():
    sizer = Sizer(None, lambda: 2)
    assert sizer.size(1000) == 1  # nothing measured yet
    sizer.observe([0.001])
    assert [sizer.size(10_000) for _ in range(10)] == [2, 4, 8, 16, 32, 64, 128, 256, 500, 500]
    assert 500 == int(TARGET_SECONDS / 0.001) and sizer.window() == 2 * TASKS_PER_SLOT


def test_the_last_configs_leave_two_tasks_a_slot():
    sizer = Sizer(None, lambda: 2)
    sizer.observe([0.001])
    sizer.size(1000)
    assert [sizer.size(queued) for queued in (40, 12, 7, 4, 3)] == [4, 3, 2, 1, 1]


def test_a_later_map_of_the_same_step_starts_where_the_last_one_left_off():
    step, other = uuid.uuid4().hex, uuid.uuid4().hex
    first = Sizer(None, lambda: 2, step)
    assert first.size(1000) == 1  # never measured
    first.observe([0.01])
    assert Sizer(None, lambda: 2, step).size(1000) == int(TARGET_SECONDS / 0.01)  # no ramp from one
    assert Sizer(None, lambda: 2, step).size(12) == 3  # still leaving two tasks a slot
    assert Sizer(None, lambda: 2, other).size(1000) == 1  # another step starts afresh
    assert Sizer(None, lambda: 2).size(1000) == 1  # and so does a sizer that remembers nothing


def test_the_remembered_time_follows_the_latest_measurement():
    step = uuid.uuid4().hex
    Sizer(None, lambda: 2, step).observe([0.01])
    Sizer(None, lambda: 2, step).observe([0.1])  # slower configs count at once
    assert Sizer(None, lambda: 2, step).size(1000) == int(TARGET_SECONDS / 0.1)


def test_slower_configs_shrink_the_batches_at_once_faster_ones_by_half():
    sizer = Sizer(None, lambda: 1)
    sizer.observe([0.01])
    sizer.observe([0.1])
    assert sizer.per_config == 0.1 and sizer.size(1000) == 2
    sizer.observe([0.02])
    assert sizer.per_config == pytest.approx(0.06)


def test_a_fixed_size_is_kept_and_sent_all_at_once():
    sizer = Sizer(7, lambda: 2)
    assert (sizer.size(3), sizer.window()) == (7, None)  # the caller sends what is left


@pytest.mark.parametrize(("value", "expected"), [("auto", None), (1, 1), (64, 64)])
def test_batch_size_values(value, expected):
    assert batch_size_of(value) == expected


@pytest.mark.parametrize("value", [0, -3, 1.5, False, "fast", None])
def test_bad_batch_sizes_name_the_option(value):
    with pytest.raises(ConfigError, match=r"batch_size=.*'auto' or a whole number"):
        batch_size_of(value)
