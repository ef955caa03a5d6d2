"""Blue/green commits: build a staged change in the standby, test it, crossfade to it.

`/patch/begin` opens a staging area: `/patch/*`, `/mod/*`, `/seq/*` and `/tempo` commands are
checked against a copy of the patch and held. `/patch/commit` sends them to the standby slot
only, stamped at the next safe block, so the standby renders the new sound in step with the
active, which keeps playing the old one. After `WARM_BLOCKS` blocks the standby's output is
tested: no non-finite samples, no module errors or quarantines, render time within
`CPU_BUDGET` of the block period, and not silent where the active is sounding. If it passes,
the audio I/O crossfades from the active to the standby with equal power at a block boundary;
the standby becomes active, and the old active, which still holds the old patch, is replaced
by a worker copied from the new one. If it fails, the standby is replaced the same way and
the old sound never changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chronus.dsp.patch import Patch
from chronus.engine.keeper import SlotKeeper
from chronus.engine.rings import SharedCounters
from chronus.engine.seats import Seat, SeatState
from chronus.engine.stats import ControlField, IoField, SlotField, recent_dsp_timings
from chronus.protocol import Message, encode

__all__ = [
    "CPU_BUDGET",
    "DEFAULT_CROSSFADE_MS",
    "IN_PROGRESS",
    "NO_STANDBY",
    "STANDBY_DIED",
    "WARM_BLOCKS",
    "CommitError",
    "CommitFlow",
    "CommitResult",
]

WARM_BLOCKS = 32
"""Blocks the standby renders the change before it is tested (85 ms at 48 kHz / 128)."""

CPU_BUDGET = 0.5
"""The 90th percentile of the standby's render time must stay under this share of a block."""

DEFAULT_CROSSFADE_MS = 50.0
IN_PROGRESS = "a commit is already in progress"
NO_STANDBY = "no standby slot in step to build on (one is being replaced)"
STANDBY_DIED = "the standby slot died while building the change"
"""Why a commit cannot start yet: the staged change stays staged, and can be committed again
in a moment (after a commit, the slot that held the old patch is replaced)."""
_TIMEOUT_S = 3.0


class CommitError(RuntimeError):
    """A commit request that cannot start; nothing changed."""


@dataclass
class _Staging:
    pending: Patch
    messages: list[Message] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CommitResult:
    """How a commit ended: the requester, success, why, and what to apply to the patch."""

    addr: Any
    ok: bool
    text: str
    messages: list[Message]
    stamp: int
    """The sample at which the standby applied the change."""
    switch: int = 0
    """The sample at which the crossfade to it began (or the switch, without one)."""
    crossfade: int = 0
    """The crossfade's length in samples."""


@dataclass
class _Commit:
    staged: _Staging
    green: Seat
    blue: Seat
    addr: Any
    crossfade_blocks: int
    first_block: int
    started: float
    nonfinite: int
    errors: int
    quarantined: int
    switch_block: int = -1
    silence_ok: bool = False
    """Skip the test that the change is not silent where the sound before was not."""
    seqs: list[int] = field(default_factory=list)
    """The change's commands as pushed to the standby."""
    applied: dict[int, int] = field(default_factory=dict)
    """Where the standby applied each, by sequence number, once known (read every tick: the
    slots' table of decisions is a ring, and a burst after the commit would overwrite it)."""


class CommitFlow:
    """The staging area and at most one commit in flight, driven by the serve loop's ticks."""

    def __init__(
        self,
        keeper: SlotKeeper,
        control: SharedCounters,
        io: SharedCounters,
        block: int,
        rate: int,
        next_stamp: Callable[[], int] | None = None,
    ) -> None:
        self._keeper = keeper
        self._next_stamp = next_stamp or keeper.next_stamp
        """Where a staged change may apply at the soonest: after what is already paced."""
        self._control = control.values
        self._io = io.values
        self._block = block
        self._rate = rate
        self._staging: _Staging | None = None
        self._commit: _Commit | None = None
        self.commits = 0
        self.failed = 0
        self.split_commits = 0
        """Commits whose commands the standby applied at different samples (the log holds
        them at the last: not exact for those before it)."""

    @property
    def staging(self) -> bool:
        """Whether `/patch/*`, `/mod/*`, `/seq/*` and `/tempo` commands are being held."""
        return self._staging is not None

    @property
    def staged(self) -> tuple[Message, ...]:
        """The commands held by the open staging area (none if it is closed)."""
        return () if self._staging is None else tuple(self._staging.messages)

    @property
    def busy(self) -> bool:
        """Whether a commit is being built, tested or crossfaded."""
        return self._commit is not None

    def begin(self, patch: Patch) -> None:
        """Open the staging area on a copy of `patch`."""
        if self._staging is not None:
            raise CommitError("a change is already staged: /patch/commit or /patch/abort it")
        self._staging = _Staging(patch.copy())

    def stage(self, message: Message) -> list[str]:
        """Check a command against the staged patch and hold it (`PatchError` if invalid)."""
        assert self._staging is not None
        warnings = self._staging.pending.apply(message)
        self._staging.messages.append(message)
        return warnings

    def abort(self) -> int:
        """Drop the staged change; how many commands it held."""
        if self._staging is None:
            raise CommitError("nothing is staged")
        held = len(self._staging.messages)
        self._staging = None
        return held

    def commit(self, crossfade_ms: float, addr: Any, silence_ok: bool = False) -> None:
        """Start building the staged change in the standby (`CommitError` if it cannot).

        `silence_ok`: the change may be silent at first (a snapshot whose patterns have not
        yet played); every other test still applies.
        """
        if self._staging is None:
            raise CommitError("nothing is staged: send /patch/begin first")
        self._start(self._staging, crossfade_ms, addr)
        assert self._commit is not None
        self._commit.silence_ok = silence_ok
        self._staging = None

    def commit_now(self, messages: list[Message], crossfade_ms: float, addr: Any) -> None:
        """Build `messages` in the standby and crossfade to them, as a staged change is
        (a plugin's reload: `/plugins/use` of its new version); `CommitError` if it cannot
        start now. The staging area, open or not, is left as it is."""
        self._start(_Staging(Patch(), list(messages)), crossfade_ms, addr)

    def _start(self, staged: _Staging, crossfade_ms: float, addr: Any) -> None:
        if self._commit is not None:
            raise CommitError(IN_PROGRESS)
        keeper = self._keeper
        blue = keeper.active
        green = keeper.seats[1 - blue.index]
        if not (green.in_step and blue.in_step):
            raise CommitError(NO_STANDBY)
        keeper.diverging = True
        stamp = self._next_stamp()
        seqs = [keeper.push_to(green, stamp, encode(message)) for message in staged.messages]
        v = green.counters.values
        blocks = max(1, round(crossfade_ms * 1e-3 * self._rate / self._block))
        self._commit = _Commit(
            staged, green, blue, addr, blocks, stamp // self._block, time.monotonic(),
            int(v[SlotField.NONFINITE]), int(v[SlotField.ERRORS]), int(v[SlotField.QUARANTINED]),
            seqs=seqs,
        )  # fmt: skip

    def tick(self) -> CommitResult | None:
        """Advance the commit in flight; its result once it has ended."""
        c = self._commit
        if c is None:
            return None
        if c.green.worker is None or c.green.state is not SeatState.RUNNING:
            return self._end(c, False, STANDBY_DIED)
        self._note_applied(c)
        if self._keeper.active is c.green and c.switch_block < 0:
            # The active died mid-commit and the standby, which holds the change, took over.
            c.switch_block, c.crossfade_blocks = self._keeper.last_failover_block, 0
            return self._end(c, True, "switched at once: the active slot died during the commit")
        if c.switch_block < 0:
            return self._test(c)
        consumed = int(self._io[IoField.CONSUMED])
        if consumed < c.switch_block + c.crossfade_blocks:
            return None
        self._control[ControlField.XFADE_BLOCKS] = 0
        self._keeper.retire(c.blue, "it held the patch from before the commit")
        return self._end(c, True, f"switched at block {c.switch_block}")

    def _test(self, c: _Commit) -> CommitResult | None:
        ready = c.first_block + WARM_BLOCKS
        if min(c.green.ring.write_pos, c.blue.ring.write_pos) < ready:
            if time.monotonic() - c.started > _TIMEOUT_S:
                self._keeper.retire(c.green, "the commit timed out")
                return self._end(c, False, "the standby did not render the change in time")
            return None
        problem = self._problem(c)
        if problem:
            self._keeper.retire(c.green, "it held a change that failed its test")
            return self._end(c, False, problem)
        c.switch_block = self._keeper.next_stamp() // self._block
        control = self._control
        control[ControlField.XFADE_FROM] = c.blue.index
        control[ControlField.XFADE_START] = c.switch_block
        control[ControlField.XFADE_BLOCKS] = c.crossfade_blocks
        control[ControlField.ACTIVE] = c.green.index
        return None

    def _problem(self, c: _Commit) -> str:
        v = c.green.counters.values
        if int(v[SlotField.NONFINITE]) != c.nonfinite:
            return f"it produced {int(v[SlotField.NONFINITE]) - c.nonfinite} non-finite samples"
        if int(v[SlotField.QUARANTINED]) != c.quarantined:
            return "a module of it had to be quarantined"
        if int(v[SlotField.ERRORS]) != c.errors:
            return f"{int(v[SlotField.ERRORS]) - c.errors} errors while rendering it"
        recent = recent_dsp_timings(v, WARM_BLOCKS)

        period_ns = 1e9 * self._block / self._rate
        load = float(np.percentile(recent, 90)) / period_ns
        if load > CPU_BUDGET:
            return (
                f"it needs {100 * load:.0f} % of a block's time (budget {100 * CPU_BUDGET:.0f} %)"
            )
        if c.silence_ok:
            return ""
        green, blue = c.green.ring, c.blue.ring
        end = min(green.write_pos, blue.write_pos)
        span = range(max(c.first_block, end - green.capacity + 1), end)
        old_sounds = any(blue.sounding[k % blue.capacity] for k in span)
        if old_sounds and not any(green.sounding[k % green.capacity] for k in span):
            return "it is silent where the sound before it was not"
        return ""

    def _end(self, c: _Commit, ok: bool, text: str) -> CommitResult:
        self._commit = None
        self._keeper.diverging = False
        if ok:
            self.commits += 1
        else:
            self.failed += 1
        messages = c.staged.messages if ok else []
        stamp = self._applied(c)
        switch = max(max(c.first_block, c.switch_block) * self._block, stamp)
        return CommitResult(
            c.addr, ok, text, messages, stamp, switch, c.crossfade_blocks * self._block
        )

    def _note_applied(self, c: _Commit) -> None:
        for seq in c.seqs:
            if seq not in c.applied and (sample := self._keeper.applied_at(seq)) is not None:
                c.applied[seq] = sample

    def _applied(self, c: _Commit) -> int:
        """Where the standby applied the change: its stamp, or later if the standby had
        rendered past the stamp when the change reached it (the supervisor held up under
        load between stamping and pushing). The session log must say the same sample."""
        self._note_applied(c)
        known = set(c.applied.values())
        if len(known) > 1:
            self.split_commits += 1  # the standby drained the change across two blocks
        return max([c.first_block * self._block, *known])
