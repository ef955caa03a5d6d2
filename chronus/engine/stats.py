"""Health counters that the slot and the audio I/O keep in shared memory.

Each process writes only its own block; the supervisor reads them to answer `/engine/status`.
Timings go into a small circular window so percentiles cost the writer one store.
"""

from __future__ import annotations

import time
from enum import IntEnum
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from chronus.dsp.plugin_table import TABLE_SIZE
from chronus.engine.rings import SharedCounters

__all__ = [
    "BURST_BELOW_PERIODS",
    "DECISION_SLOTS",
    "TIMING_WINDOW",
    "UNDERRUN_CAUSES",
    "ControlField",
    "IoField",
    "ProcessState",
    "SlotField",
    "checkpoint_table",
    "decision_table",
    "io_between_callbacks",
    "recent_dsp_timings",
    "recent_timings",
    "record_render",
    "record_timing",
    "settled_io",
    "summary",
    "timing_median",
    "timing_percentiles",
    "underrun_cause",
    "underrun_log",
    "underrun_row",
]

TIMING_WINDOW: Final = 1024
_TIMINGS: Final = 42
"""Where the timing window starts in a slot's and in the I/O's counters (`TIMINGS` in both)."""
DECISION_SLOTS: Final = 1024
"""Commands whose applied sample a slot remembers (see `SlotField.DECISIONS`)."""
UNDERRUN_LOG_ENTRIES: Final = 8
"""Underruns the audio I/O keeps (see `IoField.UNDERRUN_LOG`)."""
UNDERRUN_FIELDS: Final = 5
"""Per underrun: block, gap since the callback before, active seat, each ring's position."""


class ProcessState(IntEnum):
    """Lifecycle of an engine child process, as stored in its `STATE` counter."""

    STARTING = 0
    WARMING = 1
    RUNNING = 2
    STOPPED = 3
    FAILED = 4
    DEAD = 5
    JOINING = 6


class ControlField(IntEnum):
    """Indices of the supervisor's control block, read by every child without a lock."""

    RUN = 0
    ACTIVE = 1
    """Index of the seat (0 = A, 1 = B) whose blocks the audio I/O plays first."""
    XFADE_FROM = 2
    """During a commit: the seat that played before the switch."""
    XFADE_START = 3
    """During a commit: the block at which the crossfade to `ACTIVE` starts."""
    XFADE_BLOCKS = 4
    """During a commit: the crossfade's length in blocks (0: no crossfade)."""
    APART = 5
    """Non-zero while the seats render different sounds (a commit in flight): a block missing
    from one is then not taken from the other, which would play the wrong sound."""
    PLUGINS = 6
    """Bumped when the supervisor sent workers plugin code to import: a slot then reads its
    pipe, in its spare time."""
    PUBLISHED = 7
    """Commands with a sequence number below this are in every ring they go to: a slot pops
    no other (so that both slots hold a command from the same moment; see `decisions`)."""
    SIZE = 8


class SlotField(IntEnum):
    """Counter indices of a slot."""

    STATE = 0
    PID = 1
    HELD_UP = 2
    """Times this standby found its active held up (see `peer.PeerWatch`) and rendered the
    blocks the active owed; a stretch of it counts once."""
    HEARTBEAT_NS = 3
    LATE = 4
    ERRORS = 5
    NONFINITE = 6
    STARTED_NS = 7
    JOINED_BLOCK = 8
    TIMING_COUNT = 9
    REALTIME = 10
    MAX_DRAIN_NS = 11
    MAX_CYCLE_NS = 12
    SNAPSHOT_REQUEST = 13
    """The supervisor bumps it to ask the active slot for its state at the next block boundary."""
    SNAPSHOT_DONE = 14
    """The slot copies the request number here once the snapshot is in its handover area."""
    SNAPSHOT_BLOCK = 15
    SNAPSHOT_SEQ = 16
    SNAPSHOT_BYTES = 17
    SNAPSHOT_NS = 18
    AHEAD = 19
    """Blocks a standby rendered before the active had published them (it covered a late one)."""
    PUBLISHED_NS = 20
    CRUMB_MODULE = 21
    """The breadcrumb: `crumb_of` the module this slot is running, 0 between modules."""
    CRUMB_BLOCK = 22
    """The block this slot is rendering (or last rendered)."""
    QUARANTINED = 23
    """The crumb of the last module this slot bypassed because its peer died inside it."""
    QUARANTINE_BLOCK = 24
    HUNG = 25
    """Set by the supervisor just before it kills this slot for missing its heartbeat."""
    DEATH_SIGNAL = 26
    """The signal the slot died of, written by the supervisor before it reaps the process."""
    MAX_WAKE_NS = 27
    """Longest time from the audio I/O's block to this slot waking for it (scheduling delay)."""
    SLOW_WAKES = 28
    """Wakes later than one block period after the audio I/O's block."""
    HEARTBEAT_BLOCK = 29
    """The consumed-block count at the last heartbeat."""
    EXTRA_BLOCKS = 30
    """The most blocks this slot rendered beyond its lead while the device was late."""
    MAX_APPLY_NS = 31
    """The longest one command took to apply in this slot (its checks and its change)."""
    CAPTURE_STALL_NS = 32
    """How long the last state capture held this slot up: all of it when captured in place,
    the fork when a child captured it."""
    CAPTURES_FORKED = 33
    """State captures written by a forked child while the slot rendered on."""
    MAX_GC_NS = 34
    """The longest garbage collection the slot made (in its spare time)."""
    SLOWEST_COMMAND = 35
    """Which kind of command took `MAX_APPLY_NS`: its index in `protocol.ADDRESS_SPACE`
    (-1 for none yet)."""
    PATTERNS_PARSED = 36
    """Pattern commands this slot parsed in the block that applied them: the supervisor had
    not prepared them (see `prepared.py`), or they were written over before the slot came."""
    LEAD = 37
    """Blocks this slot renders ahead of the device now: the lead, one more while its
    renders run heavy (`depth.RenderDepth`)."""
    DRAINING = 38
    """The block this slot drains its command ring for now, or last did (see `decisions`)."""
    DECISION_WAITS = 39
    """Times this slot held back a block to hear where its peer takes an overtaken command."""
    HEAVY_RENDERS = 40
    """Blocks whose render took this slot more than a period of its own CPU time: the
    render itself crossed the period (the patch, or a core that ran slow)."""
    HELD_RENDERS = 41
    """Blocks whose render took more than a period on the wall clock but not in CPU time:
    the slot was kept off its CPU meanwhile (preempted, or the host stalled the VM)."""
    TIMINGS = 42
    DECISIONS = 42 + TIMING_WINDOW
    """`DECISION_SLOTS` rows (sequence number, block this slot first held it in, sample it
    applies at or −1): so that both slots apply an overtaken command at the same sample (see
    `decisions`)."""
    CHECKPOINTS = 42 + TIMING_WINDOW + 3 * DECISION_SLOTS
    """Two checkpoint records (generation, block, first command seq after it, bytes), one per
    checkpoint region of the handover area: see `checkpoint_table`."""
    PLUGINS = 42 + TIMING_WINDOW + 3 * DECISION_SLOTS + 8
    """The guard's table of what each user plugin type did in this slot (see
    `chronus.dsp.plugin_table`): the slot keeps it here, the supervisor reads it."""
    TRANSPORT = 42 + TIMING_WINDOW + 3 * DECISION_SLOTS + 8 + TABLE_SIZE
    """The slot's transport as it last rendered it, for `/engine/now`: see `now.py`."""
    APPLY_TIMINGS = 42 + TIMING_WINDOW + 3 * DECISION_SLOTS + 8 + TABLE_SIZE + 8
    """Beside each render time in `TIMINGS`, the part of it spent applying commands: a
    burst of changes is paced and passes, so what the patch costs leaves it out (see
    `recent_dsp_timings`)."""
    SIZE = 42 + 2 * TIMING_WINDOW + 3 * DECISION_SLOTS + 8 + TABLE_SIZE + 8


def record_render(values: npt.NDArray[np.int64], nanoseconds: int, applying_ns: int) -> None:
    """Store one block's render time in a slot's timing window, and beside it the part of it
    spent applying commands (`SlotField.APPLY_TIMINGS`)."""
    values[SlotField.APPLY_TIMINGS + values[SlotField.TIMING_COUNT] % TIMING_WINDOW] = applying_ns
    record_timing(values, SlotField.TIMING_COUNT, nanoseconds)


def recent_dsp_timings(values: npt.NDArray[np.int64], n: int) -> list[int]:
    """A slot's last `n` render times (ns, newest first) less the time each spent applying
    commands: what the patch itself costs a block, for the create limit and a commit's
    warm-up test."""
    return [
        int(values[_TIMINGS + k] - values[SlotField.APPLY_TIMINGS + k])
        for k in _newest_first(int(values[SlotField.TIMING_COUNT]), n)
    ]


def decision_table(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A slot's `SlotField.DECISIONS` as a view of `DECISION_SLOTS` rows (seq, block first
    held in, sample or −1); command `seq` sits in row `seq % DECISION_SLOTS`, and a row whose
    seq is −1 is empty."""
    end = SlotField.DECISIONS + 3 * DECISION_SLOTS
    return values[SlotField.DECISIONS : end].reshape(DECISION_SLOTS, 3)


class IoField(IntEnum):
    """Counter indices of the audio I/O."""

    STATE = 0
    PID = 1
    DEVICE = 2
    CONSUMED = 3
    UNDERRUNS = 4
    XRUNS = 5
    LAST_ONSET_NS = 6
    COVERED = 7
    """Blocks taken from the standby because the active's was missing."""
    DEVICE_LATENCY_US = 8
    STARTED_NS = 9
    WRONG_SIZE = 10
    LAST_BLOCK_NS = 11
    TIMING_COUNT = 12
    REALTIME = 13
    LAST_UNDERRUN_BLOCK = 14
    SOUNDING_BLOCKS = 15
    XRUNS_IN_HOST_STALLS = 16
    """xruns the device reported right after a host stall (see `cpu_watch.XrunTagger`)."""
    LONG_CALLBACKS = 17
    """Callbacks that took longer than a period: the one way the I/O itself misses a cycle."""
    LONG_CALLBACKS_IN_HOST_STALLS = 18
    """Of those, the ones during which the host stalled a CPU."""
    BURST_WAITS = 19
    """Callbacks in a burst that found block *k* in neither ring and waited for it."""
    BURST_SAVES = 20
    """Of those, the ones where a slot published it in time: underruns avoided."""
    CLOCK_HELD = 21
    """Non-zero while the supervisor's stand-in clock moves `CONSUMED` (no audio I/O plays:
    it died, or its successor is opening the device); an I/O then writes silence and leaves
    the clock alone. See `io_clock`."""
    WAITING_CALLBACKS = 22
    """Callbacks an I/O gave silence to because the stand-in held the clock: the first one
    tells the supervisor that the device runs and the clock can be handed over."""
    BLOCKS_MISSED = 23
    """Blocks the clock passed with no I/O to play them (rendered by the slots, not played)."""
    RESUMED_NS = 24
    """When a restarted I/O played its first block from a ring (CLOCK_MONOTONIC)."""
    RESUMED_BLOCK = 25
    """Which block that was."""
    HANDING = 26
    """The block the I/O hands the device in its current callback and when that began, in
    one word (one store, so a reader in another process never sees half of it):
    `block << HANDING_US_BITS | (start µs mod 2**HANDING_US_BITS)`. MIDI out reads it in
    its own JACK cycle to know which block leaves in that cycle (`chronus.midi.frames`)."""
    ONE_SIDED_FADES = 27
    """Blocks of a commit's crossfade that one slot had not published when the device
    needed them: played from the other slot alone, not faded (the offline render fades
    them). Counted, unlike an underrun, with no gap in the sound."""
    TIMINGS = 42
    UNDERRUN_LOG = 42 + TIMING_WINDOW
    """The last `UNDERRUN_LOG_ENTRIES` underruns, as the I/O saw them: see `underrun_log`."""
    SIZE = 42 + TIMING_WINDOW + UNDERRUN_LOG_ENTRIES * UNDERRUN_FIELDS


HANDING_US_BITS: Final = 20
"""The low bits of `IoField.HANDING`: the callback's start in µs, modulo about a second."""
SETTLE_WAIT_NS: Final = 5_000_000
"""How long `settled_io` waits for the I/O to end a callback: a callback takes ~50 µs, up
to `audio_io.BURST_WAIT_NS` more in a burst; one that never ends died inside it."""


def io_between_callbacks(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64] | None:
    """A copy of the audio I/O's counters `values` as they stood between two callbacks, or
    None if a callback was under way while it was taken.

    A callback writes `HANDING` (its block *k*) first and `CONSUMED` (*k* + 1) after its
    counts of block *k* (sounding, underrun, covered), so counters read one by one may count
    a block the clock has not passed yet (416 blocks played, 417 sounding). The copy is
    whole when `CONSUMED` stood still while it was taken and no callback had begun since
    (`HANDING`'s block is below `CONSUMED`; `HANDING` 0: none has begun yet).
    """
    consumed = int(values[IoField.CONSUMED])
    copy = values.copy()
    handing = int(values[IoField.HANDING])
    if int(values[IoField.CONSUMED]) != consumed:
        return None
    if handing and handing >> HANDING_US_BITS >= consumed:
        return None
    return copy


def settled_io(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """`io_between_callbacks`, waiting for the callback under way to end (at most
    `SETTLE_WAIT_NS`; then the counters as they are)."""
    deadline = time.monotonic_ns() + SETTLE_WAIT_NS
    while (copy := io_between_callbacks(values)) is None:
        if time.monotonic_ns() > deadline:
            return values.copy()
    return copy


def record_timing(values: npt.NDArray[np.int64], count_index: int, nanoseconds: int) -> None:
    """Store one duration in the circular window that follows `count_index`."""
    n = values[count_index]
    values[_TIMINGS + n % TIMING_WINDOW] = nanoseconds
    values[count_index] = n + 1


def recent_timings(values: npt.NDArray[np.int64], count_index: int, n: int) -> list[int]:
    """The last `n` durations (ns) stored after `count_index`, newest first (fewer if fewer)."""
    return [int(values[_TIMINGS + k]) for k in _newest_first(int(values[count_index]), n)]


def _newest_first(count: int, n: int) -> list[int]:
    """The window offsets of the last `n` of `count` durations stored, newest first."""
    return [(count - 1 - i) % TIMING_WINDOW for i in range(min(n, count, TIMING_WINDOW))]


def timing_median(values: npt.NDArray[np.int64], count_index: int) -> float:
    """The median duration (ns) over the timing window (0 when empty): a partition, for
    readers that ask often (`/engine/now`); `timing_percentiles` costs 20 times more."""
    filled = min(int(values[count_index]), TIMING_WINDOW)
    if filled == 0:
        return 0.0
    middle = filled // 2
    return float(np.partition(values[_TIMINGS : _TIMINGS + filled], middle)[middle])


def timing_percentiles(values: npt.NDArray[np.int64], count_index: int) -> dict[str, float]:
    """p50, p99 and max in microseconds over the timing window (empty → zeros)."""
    n = int(values[count_index])
    filled = min(n, TIMING_WINDOW)
    if filled == 0:
        return {"p50_us": 0.0, "p99_us": 0.0, "max_us": 0.0}
    window = values[_TIMINGS : _TIMINGS + filled].astype(np.float64) / 1000.0
    p50, p99 = np.percentile(window, [50, 99])
    return {
        "p50_us": round(float(p50), 1),
        "p99_us": round(float(p99), 1),
        "max_us": round(float(window.max()), 1),
    }


def summary(counters: SharedCounters, fields: type[SlotField] | type[IoField]) -> dict[str, Any]:
    """The common part of a process's health: state, pid, uptime."""
    v = counters.values
    started = int(v[fields.STARTED_NS])
    return {
        "state": ProcessState(int(v[fields.STATE])).name.lower(),
        "pid": int(v[fields.PID]),
        "uptime_s": round((time.monotonic_ns() - started) / 1e9, 3) if started else 0.0,
    }


def checkpoint_table(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A slot's two checkpoint records, a (2, 4) view: generation (0 while being written),
    the block the state is at, the first command seq not in it, and its size in bytes.

    The standby writes a checkpoint of its whole state about once a second, into the
    region of the older record, and sets the generation last; so the newest record always
    describes a whole checkpoint, even if the slot dies while writing the next one.
    """
    return values[SlotField.CHECKPOINTS : SlotField.CHECKPOINTS + 8].reshape(2, 4)


def underrun_row(n: int) -> int:
    """Where the audio I/O's `n`-th underrun (1-based) starts in its `IoField.UNDERRUN_LOG`:
    `UNDERRUN_FIELDS` values, the block, ns since the previous callback began, the active
    seat, and each seat's ring write position when the block was due."""
    return IoField.UNDERRUN_LOG + ((n - 1) % UNDERRUN_LOG_ENTRIES) * UNDERRUN_FIELDS


def underrun_log(values: npt.NDArray[np.int64], block: int, rate: int) -> list[dict[str, Any]]:
    """The recent underruns, oldest first, each with what was missing when it was due.

    `behind` is how many blocks each seat still had to render to have the one due (1: only
    that block); `after_ms` is how long after the previous callback the device asked for it;
    `cause` is what those say (`UNDERRUN_CAUSES`).
    """
    count = int(values[IoField.UNDERRUNS])
    period_ms = 1000 * block / rate
    rows = []
    for n in range(max(1, count - UNDERRUN_LOG_ENTRIES + 1), count + 1):
        row = underrun_row(n)
        k, gap_ns, active, written_a, written_b = map(int, values[row : row + UNDERRUN_FIELDS])
        rows.append({
            "block": k,
            "after_ms": round(gap_ns / 1e6, 3),
            "period_ms": round(period_ms, 3),
            "active": "AB"[active],
            "behind": {"A": k + 1 - written_a, "B": k + 1 - written_b},
            "cause": underrun_cause(gap_ns / 1e6, period_ms),
        })  # fmt: skip
    return rows


UNDERRUN_CAUSES: Final = {
    "burst": "the device asked for two blocks at once (it had lost time: an xrun)",
    "late": "the device itself was held up",
    "slots": "neither slot had it in time (held up, or the patch is too heavy)",
}
"""What an underrun's callback gap says: under half a period, the device is catching up on
cycles it missed; over 1.5 periods, it was late itself; else the slots were."""


BURST_BELOW_PERIODS: Final = 0.5
"""A callback sooner than this many periods after the one before is a burst: the device
catching up on cycles it missed (the audio I/O waits for a block then; see `audio_io`)."""


def underrun_cause(after_ms: float, period_ms: float) -> str:
    """The key in `UNDERRUN_CAUSES` for a callback `after_ms` after the one before."""
    if after_ms < BURST_BELOW_PERIODS * period_ms:
        return "burst"
    return "late" if after_ms > 1.5 * period_ms else "slots"
