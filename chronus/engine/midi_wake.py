"""The supervisor wakes for a MIDI event at once: while MIDI in reads a port, its serve loop
waits for packets at a real-time priority below every audio process's, and does the rest
of its work at its normal one.

A MIDI event must be stamped before the slots render the block it falls in: about one JACK
period after it came (1.33 ms at 64 frames). Measured at 64 frames (`benchmarks/midi_in.py`,
the `midi64` section of `docs/PERFORMANCE.md`), the MIDI process sends in 0.1 ms and the
supervisor parses and stamps in 0.2 ms; the rest of the hop, and its whole tail, is the
supervisor waiting for a CPU after the datagram woke it (a normal-priority process on a
machine whose cores the slots, the audio I/O and JACK wake 750 times a second each, and
other processes load). At `WAIT_PRIORITY` it is given one as it wakes.

Only the wait is real-time: the loop drops back to normal priority once the packets that
woke it are handled (the rest of its work, ticks and status, must never hold a CPU from
the shell or the sandbox), and processes it starts meanwhile begin at normal priority
(`SCHED_RESET_ON_FORK`). Where the system refuses real-time priority, nothing changes.
"""

from __future__ import annotations

import os
from typing import Final

__all__ = ["WAIT_PRIORITY", "MidiWake"]

WAIT_PRIORITY: Final = 1
"""SCHED_FIFO priority of the supervisor's wait: the lowest, below the slots (60), the
plugin hosts (59) and the audio I/O; above every normal process."""


class MidiWake:
    """Switches the calling thread between real-time waits and normal-priority work."""

    def __init__(self) -> None:
        self.refused = False
        """The system refused real-time priority (then it is not asked for again)."""
        self.waits = 0
        """Waits begun at real-time priority."""
        self._raised = False

    def wait(self, wanted: bool) -> None:
        """Before the loop waits: at real-time priority if `wanted` (a port is read)."""
        if not wanted or self._raised or self.refused:
            return
        policy = os.SCHED_FIFO | os.SCHED_RESET_ON_FORK
        try:
            os.sched_setscheduler(0, policy, os.sched_param(WAIT_PRIORITY))
        except OSError:
            self.refused = True
            return
        self._raised = True
        self.waits += 1

    def work(self) -> None:
        """After the packets that woke the loop are handled: back to normal priority."""
        if not self._raised:
            return
        self._raised = False
        try:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except OSError:
            self.refused = True

    @property
    def status(self) -> dict[str, object]:
        """For `/engine/status` (under `midi`)."""
        return {"realtime_wait": not self.refused, "waits": self.waits}
