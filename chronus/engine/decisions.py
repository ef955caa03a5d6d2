"""Where a command applies, agreed by the two slots without a lock (and without the supervisor).

The supervisor stamps a command one block beyond what either slot has rendered, then pushes it
to both slots' command rings. If it is held up between the two (this VM stalls whole CPUs for
up to 160 ms), a slot may have rendered past the stamp before it holds the command: the
command is *overtaken*. Each slot then applies it where both can:

    max(stamp, popped_A × block, popped_B × block)

where `popped_X` is the block slot X was about to render when it first held the command (it
notes it in shared memory as it pops it). Both slots compute the same sample from the same
three numbers, so they render the same samples, and neither has to be first.

A slot decides as soon as it knows the answer: its peer has noted its `popped` (or decided
already), or its peer cannot note a later one, because it has not yet begun to drain its ring
for a block at or beyond this slot's bound `max(stamp, popped × block)`. The supervisor makes
a command visible to both rings at once (`ControlField.PUBLISHED`, written after both
pushes), so a peer that begins a drain after this slot held a command holds it too, at that
drain or before. A slot that cannot decide yet renders no block the command could land in
and looks again a moment later; its peer, having begun a drain at or beyond that bound, is
level with it or ahead, and will note its `popped` at its next drain.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from chronus.engine.prepared import PreparedPatterns, load_prepared
from chronus.engine.rings import CommandRing
from chronus.engine.stats import DECISION_SLOTS, ProcessState, SlotField, decision_table
from chronus.protocol import ProtocolError, decode

if TYPE_CHECKING:
    from chronus.dsp.render import Renderer

__all__ = ["UNBOUNDED", "Decisions", "drain"]

UNBOUNDED = 1 << 62
"""The bound `drain` returns when every command it holds is scheduled."""

_PEER_TAKES = (ProcessState.RUNNING, ProcessState.JOINING)
"""The states of a peer that pops commands (a dead one never will)."""


class Decisions:
    """This slot's table of commands (seq, block it first held it in, sample it applies at or
    −1) and its peer's, in their shared counters; and the commands it holds undecided."""

    def __init__(
        self, mine: npt.NDArray[np.int64], peer: npt.NDArray[np.int64], block: int
    ) -> None:
        self.counters = mine
        self.peer_counters = peer
        self.mine = decision_table(mine)
        self.peer = decision_table(peer)
        self.block = block
        self.give_up = False
        """Set by a slot that has waited too long for its peer (stopped between two of its
        steps, or dead and not yet reaped): it then decides with the latest block its peer
        may take the command in, which its peer follows if it comes back."""
        self.waiting: deque[tuple[int, int, bytes, bool, int]] = deque()
        """Commands popped but not yet scheduled: (seq, stamp, payload, solo, popped), in
        order."""

    def begin(self, block: int) -> None:
        """Say that this slot drains its ring for `block` now (before it pops anything)."""
        self.counters[SlotField.DRAINING] = block

    def popped(self, seq: int, block: int) -> int:
        """Note that this slot first holds command `seq` before rendering `block`; returns
        the block noted. A slot that took over the seat of a dead one keeps that one's later
        block, which its peer may have decided with."""
        row = self.mine[seq % DECISION_SLOTS]
        if row[0] == seq:
            row[1] = max(int(row[1]), block)
            return int(row[1])
        row[2] = -1  # written before the seq: a reader that sees the seq sees the rest
        row[1] = block
        row[0] = seq
        return block

    def record(self, seq: int, sample: int) -> None:
        """Say where this slot applies command `seq`."""
        row = self.mine[seq % DECISION_SLOTS]
        if row[0] != seq:  # a solo command, not noted when popped
            row[2] = -1
            row[1] = sample // self.block
            row[0] = seq
        row[2] = sample

    def decide(self, seq: int, stamp: int, popped: int) -> int | None:
        """The sample command `seq` applies at, or None if it cannot be known yet."""
        bound = max(stamp, popped * self.block)
        own = self.mine[seq % DECISION_SLOTS]
        if own[0] == seq and own[2] >= 0:
            return int(own[2])  # decided by the worker that sat here before
        row = self.peer[seq % DECISION_SLOTS]
        if row[0] == seq:
            peer_popped, peer_sample = int(row[1]), int(row[2])
            if row[0] == seq:  # not rewritten for a later command meanwhile
                if peer_sample >= 0:
                    return peer_sample
                return max(bound, peer_popped * self.block)
        peer = self.peer_counters
        if peer[SlotField.STATE] not in _PEER_TAKES:
            return bound
        latest = (int(peer[SlotField.DRAINING]) + 1) * self.block
        if latest <= bound:
            return bound
        return max(bound, latest) if self.give_up else None


def drain(
    commands: CommandRing,
    renderer: Renderer,
    decisions: Decisions,
    published: int,
    prepared: PreparedPatterns | None = None,
    counters: npt.NDArray[np.int64] | None = None,
) -> int:
    """Take the commands published so far (`seq < published`) from the ring and schedule,
    in order, each one whose sample is decided. Returns the first sample at which one still
    undecided may apply (`UNBOUNDED` if none): the slot must not render a block reaching it.

    A new pattern is taken from the supervisor's `prepared` ones; one that is not there
    counts in `counters`.
    """
    block = renderer.position // decisions.block
    decisions.begin(block)
    waiting = decisions.waiting
    while (record := commands.pop(published)) is not None:
        seq, solo = commands.last_seq, commands.last_solo
        popped = block if solo else decisions.popped(seq, block)
        waiting.append((seq, record[0], record[1], solo, popped))
    while waiting:
        seq, stamp, payload, solo, popped = waiting[0]
        sample = max(stamp, renderer.position) if solo else decisions.decide(seq, stamp, popped)
        if sample is None:
            return min(max(w[1], w[4] * decisions.block) for w in waiting)
        waiting.popleft()
        decisions.record(seq, sample)
        if sample > stamp:
            renderer.late_count += 1
        try:
            for message in decode(payload):
                if not load_prepared(prepared, message) and counters is not None:
                    counters[SlotField.PATTERNS_PARSED] += 1
                renderer.schedule(sample, message)
        except ProtocolError:
            renderer.error_count += 1
    return UNBOUNDED
