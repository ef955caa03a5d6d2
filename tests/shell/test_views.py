"""The health view tells the last underrun and what its numbers say about the cause."""

from __future__ import annotations

from typing import Any

from chronus.engine.stats import underrun_cause
from chronus.shell.views import format_health


def _status(after_ms: float, behind: dict[str, int]) -> dict[str, Any]:
    row = {
        "block": 812,
        "after_ms": after_ms,
        "period_ms": 2.667,
        "active": "A",
        "behind": behind,
        "cause": underrun_cause(after_ms, 2.667),
    }
    return {
        "engine": {"block": 128, "rate": 48000},
        "io": {"underruns": 1, "xruns": 0, "recent_underruns": [row]},
        "slots": [],
    }


def test_a_late_callback_is_told_as_the_device_held_up() -> None:
    text = format_health(_status(41.2, {"A": 1, "B": 1}))
    assert "last underrun: block 812" in text
    assert "41.2 ms" in text and "device itself was held up" in text


def test_an_on_time_callback_with_both_slots_short_blames_the_slots() -> None:
    text = format_health(_status(2.7, {"A": 1, "B": 2}))
    assert "slot A 1, slot B 2 block(s) short" in text
    assert "neither slot had it in time" in text


def test_no_underrun_no_line() -> None:
    status = _status(2.7, {"A": 1, "B": 1})
    status["io"]["recent_underruns"] = []
    assert "last underrun" not in format_health(status)


def test_a_callback_right_after_the_last_is_told_as_the_device_losing_time() -> None:
    text = format_health(_status(0.06, {"A": 1, "B": 1}))
    assert "two blocks at once" in text


def test_host_stalls_and_the_xruns_after_them_are_shown_when_watched() -> None:
    status = _status(2.7, {"A": 1, "B": 1})
    status["io"].update(xruns=46, xruns_in_host_stalls=45)
    status["host"] = {"watched": True, "stalls": 514, "longest_stall_ms": 98.5}
    text = format_health(status)
    assert "host: 514 stalls of a CPU by the host (longest 98.5 ms)" in text
    assert "45 of the 46 xruns came right after one" in text
    assert "callbacks longer than a period" not in text and "bursts:" not in text
    status["io"].update(long_callbacks=2, long_callbacks_in_host_stalls=1)
    status["io"].update(burst_waits=4, burst_saves=3)
    text = format_health(status)
    assert "callbacks longer than a period: 2 (1 during a host stall)" in text
    assert "caught up 4× on a block not yet there; 3× a slot finished it in time" in text
    status["host"]["watched"] = False
    text = format_health(status)
    assert "host:" not in text and "came right after" not in text


def test_replies_not_sent_and_dropped_tcp_clients_are_shown_when_there_are_some() -> None:
    status = _status(2.7, {"A": 1, "B": 1})
    status["engine"]["osc"] = {"received": 9, "commands": 3, "errors": 0, "reply_errors": 0}
    assert "not sent" not in format_health(status) and "dropped" not in format_health(status)
    status["engine"]["osc"].update(reply_errors=2, tcp={"dropped": 1})
    text = format_health(status)
    line = "OSC: 9 received, 3 commands, 0 errors, 2 replies not sent, 1 TCP clients dropped"
    assert line in text
