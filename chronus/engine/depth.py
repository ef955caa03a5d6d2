"""How far ahead a slot renders: its lead, one block deeper while its renders run heavy.

A slot renders `lead` blocks ahead of the device (2 by default: 5.3 ms at 128 frames). A
light patch renders a block in a fraction of that, and the lead is there for the host's
hiccups. A heavy one (64 chains: a block in 1 ms, one in 50 in 2 ms, a period is 2.67 ms)
has little left for them, so the slot then renders one more block ahead: a command takes one
block longer to be heard, the sequencer's timing does not change at all (it runs on the
sample clock), and a stall that would have cost blocks is covered. Rendering further ahead
changes no sample: commands are stamped beyond what any slot has rendered, and a standby
applies each where its active did.

The decision is made from the slot's own render times, once per window of about a second,
with integer counters only (it runs in the render loop).
"""

from __future__ import annotations

__all__ = ["HEAVY_FRACTION", "HEAVY_PER_WINDOW", "HOLD_WINDOWS", "RenderDepth"]

HEAVY_FRACTION = 0.5
"""A render longer than this fraction of a period is a heavy one."""
HEAVY_PER_WINDOW = 4
"""Heavy renders in one window (about a second: ~1 %) that make the slot render deeper."""
HOLD_WINDOWS = 10
"""Windows without enough heavy renders before the slot goes back to its lead."""


class RenderDepth:
    """The slot's lead now: `base`, or `base + 1` while its renders run heavy."""

    def __init__(self, base: int, period_ns: int, window_blocks: int) -> None:
        self.base = base
        self.lead = base
        self._heavy_ns = int(period_ns * HEAVY_FRACTION)
        self._window = max(1, window_blocks)
        self._blocks = 0
        self._heavy = 0
        self._hold = 0

    @property
    def deepest(self) -> int:
        """The most blocks ahead it will ever ask for."""
        return self.base + 1

    def rendered(self, render_ns: int) -> bool:
        """Count one block's render; at the end of a window, decide the lead (True then)."""
        if render_ns > self._heavy_ns:
            self._heavy += 1
        self._blocks += 1
        if self._blocks < self._window:
            return False
        if self._heavy >= HEAVY_PER_WINDOW:
            self._hold = HOLD_WINDOWS
        elif self._hold > 0:
            self._hold -= 1
        self.lead = self.base + 1 if self._hold > 0 else self.base
        self._blocks = self._heavy = 0
        return True
