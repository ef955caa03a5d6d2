"""The MIDI-out process's last word: All Notes Off goes out before its JACK client closes,
however late the JACK callback runs (a loaded host holds it up now and then)."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace

import pytest

from chronus.midi import sender as sender_module
from chronus.midi.sender import Sender


def _sender(channels: dict[str, set[int]]) -> Sender:
    """A Sender with its state and no JACK client (the callback is played by the test)."""
    sender = Sender.__new__(Sender)
    sender._queue = deque([(96000, "bass", bytes((0x90, 48, 100)))])
    sender._now = deque()
    sender._channels = channels
    sender.client = SimpleNamespace(blocksize=128, samplerate=48000)
    return sender


class _LateCallback:
    """Stands in for `time.sleep` in the sender: JACK's callback takes what waits for the
    next period only at the `late`-th sleep, as when the host held it up."""

    def __init__(self, sender: Sender, late: int) -> None:
        self.sender, self.late, self.sleeps = sender, late, 0
        self.written: list[tuple[str, bytes]] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps == self.late:
            while self.sender._now:
                self.written.append(self.sender._now.popleft())


def test_all_notes_off_waits_for_a_late_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    sender = _sender({"bass": {0, 2}, "": set()})
    callback = _LateCallback(sender, late=40)  # 40 periods: 107 ms
    monkeypatch.setattr(sender_module.time, "sleep", callback)
    sender.let_go()
    assert callback.written == [("bass", bytes((0xB0, 123, 0))), ("bass", bytes((0xB2, 123, 0)))]
    assert callback.sleeps > callback.late, "the cycle that wrote them ends first"
    assert not sender._queue, "nothing else goes out"


def test_a_callback_that_never_runs_is_waited_for_a_bounded_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sender = _sender({"bass": {0}})
    clock = [0.0]
    monkeypatch.setattr(sender_module.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    monkeypatch.setattr(sender_module.time, "monotonic", lambda: clock[0])
    sender.let_go()
    assert sender_module.LET_GO_WAIT_S <= clock[0] < sender_module.LET_GO_WAIT_S + 0.1
