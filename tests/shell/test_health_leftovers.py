"""The health view says what dead engines left in /dev/shm, and what removes it."""

from __future__ import annotations

from chronus.shell.views import format_health


def test_health_tells_of_dead_engines_leftovers_and_the_doctor() -> None:
    left = {"segments": 14, "semaphores": 3, "bytes": 4_500_000, "engines": 1}
    text = format_health({"engine": {"leftovers": left}, "io": {}, "slots": []})
    assert "leftovers: 14 segments and 3 semaphores (4.5 MB) of 1 dead engine(s)" in text
    assert "(`chronus doctor` removes them)" in text


def test_health_says_nothing_of_leftovers_when_there_are_none() -> None:
    none = {"segments": 0, "semaphores": 0, "bytes": 0, "engines": 0}
    assert "leftovers" not in format_health({"engine": {"leftovers": none}, "io": {}})
    assert "leftovers" not in format_health({"engine": {}, "io": {}})  # an older engine
