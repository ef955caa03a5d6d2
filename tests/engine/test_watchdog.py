"""The watchdog's verdict on a silent slot: hung, stuck, stopped, starved, or left alone."""

from __future__ import annotations

import pytest

from chronus.engine.keeper import HANG_S, STARVED_S, judge_silence

SILENT = int(HANG_S * 1e9) + 10_000_000
LONG = int(STARVED_S * 1e9) + 10_000_000


@pytest.mark.parametrize(
    ("silent", "stopped", "ran", "crumb", "verdict"),
    [
        (SILENT, False, SILENT, 1234, "hung"),  # busy in a module: blame it
        (SILENT, False, SILENT // 2 + 1, 1234, "hung"),
        (SILENT, False, SILENT, 0, "stuck"),  # busy outside any module: nobody to blame
        (SILENT, False, -1, 1234, "hung"),  # its CPU time unknown: the old rule
        (SILENT, True, 0, 1234, "stopped"),
        (SILENT, False, SILENT // 4, 1234, None),  # kept off the CPU: not its fault, yet
        (LONG, False, LONG // 4, 1234, "starved"),  # too long: replaced, without blame
    ],
)
def test_judge_silence(
    silent: int, stopped: bool, ran: int, crumb: int, verdict: str | None
) -> None:
    assert judge_silence(silent, stopped, ran, crumb) == verdict
