"""The slot's budget of waiting for hosts: granted up to what is left, spent as taken,
earned back with time (a fake clock), never beyond its cap."""

from __future__ import annotations

import pytest

from chronus.plugins.wait_budget import WaitBudget


class _Clock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns


def test_a_full_budget_grants_a_whole_wait_and_no_more_than_asked() -> None:
    budget = WaitBudget(cap_s=0.001, rate=0.1, clock=_Clock())
    assert budget.grant(0.001) == pytest.approx(0.001)
    assert budget.grant(0.0004) == pytest.approx(0.0004)


def test_waits_spent_leave_less_and_a_spent_budget_grants_nothing() -> None:
    clock = _Clock()
    budget = WaitBudget(cap_s=0.001, rate=0.1, clock=clock, least_s=0.00005)
    budget.spend(700_000)
    assert budget.grant(0.001) == pytest.approx(0.0003)
    budget.spend(1_200_000)  # an overshoot: more than was granted
    assert budget.left_ns == 0
    assert budget.grant(0.001) == 0.0
    clock.ns += 400_000  # 40 µs earned: under the least worth a wait
    assert budget.grant(0.001) == 0.0


def test_time_earns_waiting_back_at_the_rate_up_to_the_cap() -> None:
    clock = _Clock()
    budget = WaitBudget(cap_s=0.001, rate=0.1, clock=clock)
    budget.spend(1_000_000)
    clock.ns += 5_000_000  # 5 ms at a tenth: 0.5 ms
    assert budget.grant(0.001) == pytest.approx(0.0005)
    clock.ns += 60_000_000
    assert budget.grant(0.002) == pytest.approx(0.001)
