"""Pacing: a burst of commands is spread over blocks so that no block gets too much to apply.

A slot applies every command at the sample it is stamped with, inside the render loop, with
the device waiting. A line or two costs a slot well under a millisecond; a snapshot of a
thousand modules, or a script that builds a big patch at once, would cost it tens of
milliseconds in one block and play as a dropout. So the supervisor stamps commands in order,
each at the first block that has room in its budget of work for it: when commands come
slowly nothing changes (each goes to the next block, as before), and a burst is applied a
budget's worth per block. The stamps are what the session log records, so an offline render
applies the burst exactly where the engine did.

The cost of a command is estimated from what it is (measured on the development machine:
`benchmarks/commands.py`), not measured, so that the stamps do not depend on timing.
"""

from __future__ import annotations

from chronus.dsp.specs import PROCESSOR_TYPES
from chronus.protocol import Message

__all__ = ["BLOCK_BUDGET_US", "MAX_BACKLOG_S", "Pacer", "cost_us"]

BLOCK_BUDGET_US = 500.0
"""The estimated work of commands one block may apply: a fifth of a 128-frame period at
48 kHz, so that with the render itself a block stays well within the slots' lead."""

MAX_BACKLOG_S = 4.0
"""A command that would apply further than this beyond the next block is refused (the
supervisor answers "engine busy" and changes nothing)."""

_CREATE_US = {"reverb": 150.0, "lfo": 20.0}
_SYNTH_CREATE_US = 150.0
_MODULE_CREATE_US = 50.0
_ROUTE_US = 40.0
_PATTERN_US = 40.0
_OTHER_US = 15.0


def cost_us(message: Message) -> float:
    """The estimated time a slot takes to apply `message`, in microseconds."""
    address = message.address
    if address == "/patch/create":
        kind = str(message.args[1])
        if kind in _CREATE_US:
            return _CREATE_US[kind]
        return _MODULE_CREATE_US if kind in PROCESSOR_TYPES else _SYNTH_CREATE_US
    if address.startswith("/patch/"):
        return _ROUTE_US
    if address.endswith("/pattern") or address.endswith("/lane"):
        return _PATTERN_US
    return _OTHER_US


class Pacer:
    """Chooses the block each command applies at: the first with room, in order."""

    def __init__(self, block: int, rate: int, budget_us: float = BLOCK_BUDGET_US) -> None:
        self.block = block
        self.budget_us = budget_us
        self._max_backlog_blocks = round(MAX_BACKLOG_S * rate / block)
        self._cursor = 0
        """The block the last command was stamped in."""
        self._spent_us = 0.0
        """Estimated work already stamped in `_cursor`."""

    def has_room(self, earliest: int, cost: float) -> bool:
        """Whether a command of `cost` µs would apply within `MAX_BACKLOG_S` of `earliest`."""
        first = earliest // self.block
        return self._block_for(first, cost) - first <= self._max_backlog_blocks

    def stamp(self, earliest: int, cost: float, force: bool = False) -> int:
        """The sample a command of `cost` µs applies at: no earlier than sample `earliest` (a
        block boundary) nor than the command before it, in the first block with room.

        Raises `OverflowError` if that is beyond `MAX_BACKLOG_S` (check `has_room` first),
        unless `force`.
        """
        first = earliest // self.block
        block = self._block_for(first, cost)
        if not force and block - first > self._max_backlog_blocks:
            raise OverflowError("too much work is queued")
        if block != self._cursor:
            self._cursor, self._spent_us = block, 0.0
        self._spent_us += cost
        return block * self.block

    def _block_for(self, first: int, cost: float) -> int:
        if first > self._cursor:
            return first
        if self._spent_us > 0.0 and self._spent_us + cost > self.budget_us:
            return self._cursor + 1
        return self._cursor

    def continue_after(self, stamp: int) -> None:
        """Stamp nothing before sample `stamp` from now on: the last command a supervisor
        before this one stamped (a burst it was spreading goes on in order). Its block is
        taken as full, since what else was stamped in it is not known."""
        if stamp // self.block >= self._cursor:
            self._cursor, self._spent_us = stamp // self.block, self.budget_us

    def backlog(self, earliest: int) -> int:
        """The last sample stamped so far, or `earliest` if that is later: where a command
        sent now would apply at the soonest."""
        return max(earliest, self._cursor * self.block)
