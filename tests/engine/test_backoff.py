"""RespawnPolicy: the backoff ladder for young deaths and the restart-intensity window."""

from __future__ import annotations

import pytest

from chronus.engine.backoff import RespawnDecision, RespawnPolicy

OLD = 10.0
"""Seconds served by a worker that is past the default `young_s` of 3 s."""

YOUNG = 0.5


def delays(policy: RespawnPolicy, deaths: list[tuple[float, float]]) -> list[float | str]:
    """Each decision as its delay, or "suspended"."""
    out: list[float | str] = []
    for now, served in deaths:
        decision = policy.on_death(now, served)
        out.append("suspended" if decision.suspended else decision.delay_s)
    return out


def test_old_workers_are_replaced_at_once_every_time() -> None:
    policy = RespawnPolicy()
    # 29 deaths of old workers, one a second: below max_restarts (30) within the window
    decisions = [policy.on_death(float(t), OLD) for t in range(29)]
    assert all(d == RespawnDecision(0.0, False, "") for d in decisions)


def test_young_deaths_climb_the_ladder_then_suspend() -> None:
    policy = RespawnPolicy()
    assert delays(policy, [(0.0, YOUNG), (1.0, YOUNG), (4.0, YOUNG), (15.0, YOUNG)]) == [
        0.0,
        2.0,
        10.0,
        "suspended",
    ]
    # suspended stays suspended while the deaths stay young
    assert policy.on_death(16.0, YOUNG).suspended


def test_the_ladder_step_reasons_name_the_service_time() -> None:
    policy = RespawnPolicy()
    first = policy.on_death(0.0, 0.25)
    second = policy.on_death(1.0, 1.5)
    assert first.reason == "the last worker died after 0.25 s"
    assert second.reason == "the last worker died after 1.50 s"
    policy.on_death(2.0, 0.1)
    last = policy.on_death(3.0, 0.125)
    assert last.suspended and last.delay_s == 0.0
    assert last.reason == "crash loop (the last worker died after 0.12 s)"


def test_young_s_is_the_boundary() -> None:
    policy = RespawnPolicy(young_s=3.0)
    policy.on_death(0.0, YOUNG)  # step 0 → 1
    # served exactly young_s counts as old: no step down, and the ladder resets
    assert policy.on_death(1.0, 3.0).delay_s == 0.0
    assert policy.on_death(2.0, 2.999).delay_s == 0.0
    assert policy.on_death(3.0, 2.999).delay_s == 2.0


def test_a_long_lived_death_resets_the_ladder() -> None:
    policy = RespawnPolicy()
    assert delays(policy, [(0.0, YOUNG), (1.0, YOUNG), (4.0, YOUNG)]) == [0.0, 2.0, 10.0]
    assert policy.on_death(30.0, OLD) == RespawnDecision(0.0, False, "")
    # back at the first rung: the whole ladder again before a suspension
    assert delays(policy, [(31.0, YOUNG), (32.0, YOUNG), (35.0, YOUNG), (46.0, YOUNG)]) == [
        0.0,
        2.0,
        10.0,
        "suspended",
    ]


def test_a_long_lived_death_after_suspension_resumes() -> None:
    policy = RespawnPolicy()
    delays(policy, [(0.0, YOUNG), (1.0, YOUNG), (4.0, YOUNG)])
    assert policy.on_death(15.0, YOUNG).suspended
    assert policy.on_death(20.0, OLD) == RespawnDecision(0.0, False, "")


def test_restart_intensity_suspends_whatever_the_ages() -> None:
    policy = RespawnPolicy(max_restarts=5, window_s=60.0)
    assert delays(policy, [(float(t), OLD) for t in range(5)]) == [0.0] * 5
    decision = policy.on_death(5.0, OLD)
    assert decision == RespawnDecision(0.0, True, "5 restarts within 60 s")
    # a suspended decision is not a restart: the count stays at 5
    assert policy.on_death(6.0, OLD).reason == "5 restarts within 60 s"


def test_default_restart_intensity_is_thirty_a_minute() -> None:
    policy = RespawnPolicy()
    assert all(not policy.on_death(t * 0.5, OLD).suspended for t in range(30))
    assert policy.on_death(15.0, OLD).reason == "30 restarts within 60 s"


def test_the_window_forgets_old_restarts() -> None:
    policy = RespawnPolicy(max_restarts=3, window_s=10.0)
    assert delays(policy, [(0.0, OLD), (1.0, OLD), (2.0, OLD)]) == [0.0, 0.0, 0.0]
    assert policy.on_death(10.0, OLD).suspended  # 0.0 is exactly window_s old: still counted
    # at 10.5 the restart at 0.0 has left the window; one slot is free again
    assert not policy.on_death(10.5, OLD).suspended
    assert policy.on_death(10.9, OLD).suspended  # 1.0, 2.0 and 10.5 are in the window
    # long after, every restart is forgotten
    assert delays(policy, [(100.0, OLD), (100.1, OLD), (100.2, OLD)]) == [0.0, 0.0, 0.0]
    assert policy.on_death(100.3, OLD).suspended


def test_intensity_is_checked_before_the_ladder() -> None:
    policy = RespawnPolicy(max_restarts=2, window_s=60.0)
    policy.on_death(0.0, YOUNG)
    policy.on_death(1.0, YOUNG)
    decision = policy.on_death(2.0, YOUNG)  # the ladder would say 10 s
    assert decision.suspended and decision.reason == "2 restarts within 60 s"


def test_reset_forgets_ladder_and_window() -> None:
    policy = RespawnPolicy(max_restarts=3)
    delays(policy, [(0.0, YOUNG), (1.0, YOUNG), (2.0, YOUNG)])
    assert policy.on_death(3.0, YOUNG).suspended
    policy.reset()
    assert delays(policy, [(4.0, YOUNG), (5.0, YOUNG)]) == [0.0, 2.0]


def test_custom_steps() -> None:
    policy = RespawnPolicy(steps=(0.5,), young_s=1.0)
    assert delays(policy, [(0.0, 0.1), (1.0, 0.1)]) == [0.5, "suspended"]


@pytest.mark.parametrize(
    ("decision", "text"),
    [
        (RespawnDecision(0.0), "respawning now"),
        (RespawnDecision(0.0, False, "ignored when immediate"), "respawning now"),
        (
            RespawnDecision(2.0, False, "the last worker died after 0.50 s"),
            "respawning in 2 s (the last worker died after 0.50 s)",
        ),
        (RespawnDecision(10.0, False, "x"), "respawning in 10 s (x)"),
        (RespawnDecision(0.25, False, "y"), "respawning in 0.25 s (y)"),
        (
            RespawnDecision(0.0, True, "30 restarts within 60 s"),
            "suspended: 30 restarts within 60 s",
        ),
        (RespawnDecision(5.0, True, "crash loop"), "suspended: crash loop"),
    ],
)
def test_describe(decision: RespawnDecision, text: str) -> None:
    assert decision.describe() == text


def test_describe_of_real_decisions() -> None:
    policy = RespawnPolicy()
    texts = [policy.on_death(float(t), 0.5).describe() for t in range(4)]
    assert texts == [
        "respawning now",
        "respawning in 2 s (the last worker died after 0.50 s)",
        "respawning in 10 s (the last worker died after 0.50 s)",
        "suspended: crash loop (the last worker died after 0.50 s)",
    ]
