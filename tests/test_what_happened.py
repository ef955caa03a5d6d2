"""The post-mortem realtime tests print when they fail: every source, in time order."""

from __future__ import annotations

from typing import Any, cast

import pytest

from tests.stalls import StallMonitor, told_on_failure, what_happened

T0 = 1000.0
"""The test's start, in `time.monotonic()` seconds."""


class _Stalls:
    """What `what_happened` reads of a `StallMonitor`: (cpu, start ns, duration ns)."""

    def __init__(self) -> None:
        self.realtime = True
        self.stalls = [
            (0, int(1e9 * (T0 + 2.0)), 50_000_000),
            (1, int(1e9 * (T0 + 2.06)), 40_000_000),
        ]


STATUS: dict[str, Any] = {
    "engine": {
        "failovers": 1, "respawns": 1, "divergences": 0, "supervisor": {"restarts": 0},
        "timeline": [
            {"t_s": T0 + 1.0, "block": 375, "kind": "failover", "text": "slot A died; B took over"},
            {"t_s": T0 + 3.5, "block": 1300, "kind": "slot", "text": "slot A rejoined"},
        ],
    },
    "io": {
        "underruns": 9, "blocks_played": 2000,
        "underrun_spells": [{
            "seen_s": T0 + 2.1, "first_block": 780, "last_block": 788, "count": 9,
            "unlisted": 1, "active": "B", "behind_max": {"A": 0, "B": 3},
            "causes": {"late": 9},
        }],
    },
    "host": {"watched": True, "stalls": 2},
}  # fmt: skip


def test_every_source_is_told_in_time_order_from_the_tests_start() -> None:
    story = what_happened(STATUS, cast(StallMonitor, _Stalls()), T0, [(T0 + 0.99, "SIGKILL A")])
    lines = story.splitlines()
    assert "underruns 9" in lines[0] and "failovers 1" in lines[0]
    told = [line.split("s  ", 1)[1] for line in lines[1:]]
    assert told[0] == "test: SIGKILL A"
    assert told[1] == "failover @375: slot A died; B took over"
    assert told[2].startswith("host stalls: 2 over 100 ms (cpu0 1, cpu1 1), longest 50.0 ms")
    assert told[3].startswith("UNDERRUNS 9 (blocks 780..788, unlisted 1; active B")
    assert told[4] == "slot @1300: slot A rejoined"
    assert lines[1].split()[0] == "0.990"  # seconds after the test's start


def test_a_failing_assertion_carries_the_story() -> None:
    with pytest.raises(AssertionError) as raised, told_on_failure(lambda: "the story"):
        assert 1 == 2, "one is not two"
    assert "one is not two" in str(raised.value) and "the story" in str(raised.value)
    with told_on_failure(lambda: "never told"):
        pass
