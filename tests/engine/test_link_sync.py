"""The Link follower on a fake clock: the timeline mapped onto samples with the device's
latency, a start on the session's bar line, drift made up by small nudges (never a jump),
a session's tempo followed at once, a typed tempo given to the session; with start/stop sync,
the session's start and stop followed on its bar line and chronus's given to the session."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from chronus.engine.dated import RELEASE_AHEAD_S
from chronus.engine.link_phase import (
    MAX_NUDGE,
    LinkReading,
    follow_tempo,
    heard_ns,
    next_downbeat,
    phase_error,
)
from chronus.engine.link_sync import MIN_GAP_S, REJOIN_S, LinkSync
from chronus.engine.manifest import LinkKept
from chronus.engine.now import TransportView

RATE = 48000
BLOCK = 128
LEAD = 2


class FakePeer:
    """A Link session on the fake clock: a tempo change keeps the beat where it is."""

    def __init__(self, now: list[int], bpm: float = 120.0, beat: float = 0.0) -> None:
        self._now = now
        self._origin = (now[0], beat)
        self._bpm = bpm
        self.quantum = 4
        self.joined = False
        self.peers = 1
        self.typed: list[float] = []
        self.start_stop = False
        self.playing = False

    @property
    def bpm(self) -> float:
        return self._bpm

    def beat_at(self, ns: float) -> float:
        t0, b0 = self._origin
        return b0 + (ns - t0) * self._bpm / 60e9

    def open(self, bpm: float, quantum: int | None = None) -> None:
        self.joined = True

    def close(self) -> None:
        self.joined = False

    def set_quantum(self, beats: int) -> None:
        self.quantum = beats

    def set_bpm(self, bpm: float) -> None:
        self.typed.append(bpm)
        self.change_tempo(bpm)

    def change_tempo(self, bpm: float) -> None:
        self._origin = (self._now[0], self.beat_at(self._now[0]))
        self._bpm = bpm

    def reading(self) -> LinkReading:
        return LinkReading(self._now[0], self.beat_at(self._now[0]), self._bpm)

    def set_start_stop(self, on: bool) -> None:
        self.start_stop = on

    def set_playing(self, playing: bool) -> None:
        self.playing = playing


@dataclass
class FakeEngine:
    """The device's sample clock (its crystal `drift` off the host's), the transport's
    tempo segments as the slots apply the stamped tempi, and the sample clock's estimate."""

    now: list[int]
    latency_ns: float = 4e6
    drift: float = 0.0
    started_ns: int = 1_000_000_000
    segments: list[tuple[int, float, float]] = field(default_factory=list)
    """(sample, beat, bpm) from the sample on."""
    starts: list[tuple[int, bool]] = field(default_factory=list)
    """(sample, started) for each `/seq/start` (True) or `/seq/stop` played."""

    def sample_at(self, ns: float) -> float:
        return (ns - self.started_ns) * RATE * (1 + self.drift) / 1e9

    def offset_ns(self) -> float | None:
        """As the `SampleClock` reads it: the local offset, from the latest blocks."""
        played = int(self.sample_at(self.now[0]) // BLOCK) * BLOCK
        at = self.started_ns + played * 1e9 / (RATE * (1 + self.drift))
        return at - played * 1e9 / RATE

    def earliest(self) -> int:
        return (int(self.sample_at(self.now[0]) // BLOCK) + 2 * LEAD) * BLOCK

    def beat_at(self, sample: float) -> float:
        s0, b0, bpm = max((s for s in self.segments if s[0] <= sample), default=self.segments[0])
        return b0 + (sample - s0) * bpm / (60 * RATE)

    def play_tempo(self, bpm: float, stamp: int) -> bool:
        assert stamp >= self.earliest() - BLOCK, "stamped where the slots rendered already"
        self.segments.append((stamp, self.beat_at(stamp), bpm))
        return True

    def play_transport(self, start: bool, stamp: int) -> bool:
        assert stamp >= self.earliest() - BLOCK, "stamped where the slots rendered already"
        self.starts.append((stamp, start))
        return True

    def view(self) -> TransportView:
        rendered = self.sample_at(self.now[0]) + LEAD * BLOCK
        applied = [s for s in self.segments if s[0] <= rendered]
        changes = [start for sample, start in self.starts if sample <= rendered]
        if not applied or (changes and not changes[-1]):
            return TransportView(False, 0, 0.0, 24000.0)
        s0, b0, bpm = max(applied)
        return TransportView(True, s0, b0, 60 * RATE / bpm)

    def heard_error_ms(self, peer: FakePeer) -> float:
        """The true phase error: chronus's beat heard now against the session's beat now."""
        heard = self.sample_at(self.now[0] - self.latency_ns)
        beat = self.beat_at(heard)
        return phase_error(beat, peer.beat_at(self.now[0]), 4) * 60e3 / peer.bpm


def _rig(
    bpm: float = 120.0, drift: float = 0.0, error_ms: float = 0.0
) -> tuple[list[int], FakePeer, FakeEngine, LinkSync]:
    now = [2_000_000_000]
    peer = FakePeer(now, bpm)
    engine = FakeEngine(now, drift=drift)
    sync = LinkSync(
        peer, engine, RATE, lambda: engine.latency_ns, engine.play_tempo, lambda: now[0],
        play_transport=engine.play_transport,
    )  # fmt: skip
    sync.enable(bpm)
    stamp = sync.start_stamp(engine.earliest(), running=False)
    assert stamp is not None
    engine.segments.append((stamp - round(error_ms * RATE / 1e3), 0.0, bpm))
    while engine.sample_at(now[0]) < stamp:
        now[0] += 10_000_000
    return now, peer, engine, sync


def _run(now: list[int], engine: FakeEngine, sync: LinkSync, seconds: float) -> list[float]:
    """Tick every 10 ms for `seconds`; the tempi chronus played meanwhile."""
    played = []
    for _ in range(int(seconds * 100)):
        now[0] += 10_000_000
        sync.tick(engine.view(), engine.earliest(), engine.segments[-1][2])
        played.append(engine.segments[-1][2])
    return played


def test_a_sample_is_heard_the_device_latency_after_it_is_handed_over() -> None:
    assert heard_ns(0, 1e9, RATE, 5e6) == 1.005e9
    assert heard_ns(RATE // 2, 1e9, RATE, 0) == 1.5e9


def test_phase_errors_wrap_to_the_nearest_bar_line_of_the_quantum() -> None:
    assert phase_error(0.25, 3.75, 4) == pytest.approx(0.5)
    assert phase_error(3.75, 0.25, 4) == pytest.approx(-0.5)
    assert phase_error(9.0, 1.0, 8) == pytest.approx(0.0)
    assert phase_error(4.0, 0.0, 8) == pytest.approx(-4.0)


def test_a_nudge_is_small_bounded_and_a_decimal() -> None:
    assert follow_tempo(120.0, 0.004) == 119.76  # 2 ms ahead at 120 bpm: 0.2 % slower
    assert follow_tempo(120.0, 0.00008) == 120.0  # 40 µs: within the dead band
    assert follow_tempo(120.0, -3.0) == pytest.approx(120.0 * (1 + MAX_NUDGE))
    assert follow_tempo(132.9999468, 0.0) == 133.0


def test_the_transport_starts_on_the_sessions_bar_line_as_it_is_heard() -> None:
    _, peer, engine, sync = _rig(bpm=133.0)
    peer.change_tempo(133.0)
    stamp = sync.start_stamp(engine.earliest() + 7, running=False)
    assert stamp is not None and stamp >= engine.earliest()
    offset = engine.offset_ns()
    assert offset is not None
    heard = heard_ns(stamp, offset, RATE, engine.latency_ns)
    beat = peer.beat_at(heard)
    assert beat % 4 == pytest.approx(0.0, abs=0.6 * 133 / 60 / RATE) or beat % 4 == pytest.approx(
        4.0, abs=0.6 * 133 / 60 / RATE
    )
    # a second start while the first waits goes with it; a running transport waits for none
    assert sync.start_stamp(engine.earliest(), running=False) == stamp
    sync.disable()
    sync.enable(133.0)
    assert sync.start_stamp(engine.earliest(), running=True) is None


def test_next_downbeat_keeps_to_the_quantum() -> None:
    reading = LinkReading(monotonic_ns=0, beat=5.0, bpm=120.0)
    assert next_downbeat(reading, 0, 8) == pytest.approx(1.5e9)
    assert next_downbeat(reading, 2e9, 4) == pytest.approx(3.5e9)  # beat 9 → 12


def test_a_phase_error_is_made_up_by_small_nudges_over_a_bar_or_two() -> None:
    now, peer, engine, sync = _rig(error_ms=5.0)
    assert engine.heard_error_ms(peer) == pytest.approx(5.0, abs=0.05)
    played = _run(now, engine, sync, 4.0)  # two bars
    assert abs(engine.heard_error_ms(peer)) < 0.2
    played += _run(now, engine, sync, 4.0)
    assert abs(engine.heard_error_ms(peer)) < 0.1
    assert all(abs(bpm / 120.0 - 1) <= 0.01 for bpm in played)  # tiny: within 1 %
    assert sync.nudges <= 8.0 / MIN_GAP_S + 1


def test_a_device_clock_that_drifts_is_followed_within_a_fraction_of_a_millisecond() -> None:
    now, peer, engine, sync = _rig(drift=100e-6)  # a crystal 100 ppm fast
    worst = 0.0
    for _ in range(30):
        _run(now, engine, sync, 1.0)
        worst = max(worst, abs(engine.heard_error_ms(peer)))
    # the steady error of a proportional follower: the drift times the horizon (0.1 ms)
    assert worst < 0.25, worst
    assert engine.segments[-1][2] == pytest.approx(120.0 / (1 + 100e-6), abs=0.003)


def test_a_tempo_the_session_moves_to_is_followed_at_once() -> None:
    now, peer, engine, sync = _rig(bpm=120.0)
    _run(now, engine, sync, 1.0)
    peer.change_tempo(133.0)
    _run(now, engine, sync, 0.03)
    assert engine.segments[-1][2] == pytest.approx(133.0, rel=0.01)
    _run(now, engine, sync, 6.0)
    assert engine.segments[-1][2] == pytest.approx(133.0, abs=0.003)
    assert abs(engine.heard_error_ms(peer)) < 0.1


def test_a_typed_tempo_goes_to_the_session_and_chronus_follows_it() -> None:
    now, peer, engine, sync = _rig(bpm=120.0)
    sync.typed_tempo(100.0)
    assert peer.typed == [100.0]
    _run(now, engine, sync, 0.03)
    assert engine.segments[-1][2] == pytest.approx(100.0, rel=0.01)


def test_no_tempo_is_sent_before_the_last_one_is_applied() -> None:
    now, peer, engine, sync = _rig(error_ms=3.0)
    sent: list[tuple[float, int]] = []
    sync._play_tempo = lambda bpm, stamp: sent.append((bpm, stamp)) is None
    for _ in range(40):  # the clock holds still for 0.4 s: a phase is measured
        now[0] += 20_000_000
        sync.tick(engine.view(), engine.earliest(), 120.0)
    # a nudge went at a stamp the view has not reached: a new session tempo waits for it
    view = engine.view()
    sync.tick(view, engine.earliest(), 120.0)
    assert len(sent) == 1
    peer.change_tempo(90.0)
    now[0] += 50_000_000
    sync.tick(view, engine.earliest(), sent[0][0])
    assert len(sent) == 1


def test_with_the_transport_stopped_only_the_tempo_is_followed() -> None:
    now = [0]
    peer = FakePeer(now, 133.0)
    engine = FakeEngine(now)
    sent: list[tuple[float, int]] = []
    sync = LinkSync(
        peer, engine, RATE, lambda: 0.0, lambda b, s: sent.append((b, s)) is None, lambda: now[0]
    )
    sync.enable(120.0)
    now[0] += 100_000_000
    sync.tick(TransportView(False, 0, 0.0, 24000.0), 4096, 120.0)
    assert sent == [(133.0, 4096)] and sync.phase_error_beats is None
    assert sync.status(133.0)["phase_error_ms"] is None
    sync.disable()
    assert sync.status(133.0) == {"enabled": False}


def test_a_sample_clock_that_just_moved_is_not_chased() -> None:
    now, peer, engine, sync = _rig()
    _run(now, engine, sync, 2.0)
    before = sync.nudges
    moved = [30e6]
    read = engine.offset_ns
    engine.offset_ns = lambda: None if (o := read()) is None else o + moved[0]  # type: ignore[method-assign]
    _run(now, engine, sync, 0.4)  # a device that lost time, or one that has just started
    assert sync.nudges == before and sync.phase_error_beats is None
    moved[0] = 0.0
    _run(now, engine, sync, 2.0)
    assert sync.phase_error_beats is not None
    assert abs(engine.heard_error_ms(peer)) < 0.1


def test_a_tempo_the_slots_had_no_room_for_is_tried_again() -> None:
    now = [0]
    peer = FakePeer(now, 133.0)
    engine = FakeEngine(now)
    tries: list[float] = []

    def refuse(bpm: float, stamp: int) -> bool:
        tries.append(bpm)
        return False

    sync = LinkSync(peer, engine, RATE, lambda: 0.0, refuse, lambda: now[0])
    sync.enable(120.0)
    for _ in range(3):
        now[0] += 100_000_000
        sync.tick(TransportView(False, 0, 0.0, 24000.0), 4096, 120.0)
    assert tries == [133.0, 133.0, 133.0] and sync.nudges == 0


def _on_the_bar_line(engine: FakeEngine, peer: FakePeer, stamp: int) -> bool:
    """Whether `stamp` is heard on one of the session's bar lines (within a sample)."""
    offset = engine.offset_ns()
    assert offset is not None
    beat = peer.beat_at(heard_ns(stamp, offset, RATE, engine.latency_ns))
    return min(beat % 4, 4 - beat % 4) < 1.5 * peer.bpm / 60 / RATE


def test_the_sessions_stop_and_start_reach_the_transport_on_its_bar_lines() -> None:
    now, peer, engine, sync = _rig(bpm=120.0)
    sync.set_start_stop(True)
    peer.playing = True  # the session started while chronus ran: nothing to do
    _run(now, engine, sync, 1.0)
    assert engine.starts == []
    peer.playing = False
    released = []
    for _ in range(300):
        _run(now, engine, sync, 0.01)
        if engine.starts and not released:
            released.append(engine.earliest())
    ((stamp, start),) = engine.starts
    assert not start and _on_the_bar_line(engine, peer, stamp)
    assert 0 <= stamp - released[0] <= RELEASE_AHEAD_S * RATE + BLOCK  # handed over just ahead
    assert not engine.view().running
    peer.playing = True
    _run(now, engine, sync, 3.0)
    assert [start for _, start in engine.starts] == [False, True]
    assert _on_the_bar_line(engine, peer, engine.starts[1][0])
    assert sync.transport_changes == 2 and sync.status(120.0)["start_stop_sync"]


def test_a_start_and_stop_before_the_bar_line_cancel_out() -> None:
    now, peer, engine, sync = _rig(bpm=120.0)
    sync.set_start_stop(True)
    peer.playing = True
    _run(now, engine, sync, 0.1)
    peer.playing = False  # a stop waits for the bar line…
    _run(now, engine, sync, 0.1)
    peer.playing = True  # …and a start came before it: nothing plays
    _run(now, engine, sync, 3.0)
    assert engine.starts == [] and engine.view().running


def test_without_start_stop_sync_the_sessions_start_and_stop_are_ignored() -> None:
    now, peer, engine, sync = _rig(bpm=120.0)
    peer.playing = True
    _run(now, engine, sync, 0.1)
    peer.playing = False
    _run(now, engine, sync, 3.0)
    assert engine.starts == []
    sync.typed_transport(True)
    assert not peer.playing  # and chronus's own are not shared


def test_chronus_start_and_stop_go_to_the_session_with_start_stop_sync() -> None:
    now, peer, engine, sync = _rig(bpm=120.0)
    sync.set_start_stop(True)
    sync.typed_transport(False)
    assert not peer.playing
    sync.typed_transport(True)
    assert peer.playing
    _run(now, engine, sync, 3.0)
    assert engine.starts == []  # chronus started it: the session's change is not played again


def test_the_link_settings_are_kept_for_a_supervisor_that_takes_over() -> None:
    now, _, engine, sync = _rig(bpm=120.0)
    sync.set_quantum(8)
    sync.set_start_stop(True)
    kept = sync.kept()
    assert kept == LinkKept(enabled=True, quantum=8, start_stop=True)
    heir_peer = FakePeer(now, 120.0)
    heir = LinkSync(heir_peer, engine, RATE, lambda: 0.0, engine.play_tempo, lambda: now[0])
    heir.resume(kept, 120.0)
    assert heir.enabled and heir_peer.quantum == 8 and heir_peer.start_stop
    heir.disable()
    off = heir.kept()
    assert off == LinkKept(enabled=False, quantum=8, start_stop=True)
    again = LinkSync(FakePeer(now), engine, RATE, lambda: 0.0, engine.play_tempo)
    again.resume(off, 120.0)
    assert not again.enabled and again.peer.quantum == 8


def test_a_supervisor_that_took_over_follows_no_session_of_its_own_until_it_finds_the_peers() -> (
    None
):
    now, peer, engine, sync = _rig(bpm=120.0)
    _run(now, engine, sync, 2.0)
    assert abs(engine.heard_error_ms(peer)) < 0.1
    kept, tempi = sync.kept(), len(engine.segments)
    alone = FakePeer(now, 120.0, beat=peer.beat_at(now[0]) + 1.3)  # its own timeline, not found
    alone.peers = 0
    heir = LinkSync(
        alone, engine, RATE, lambda: engine.latency_ns, engine.play_tempo, lambda: now[0]
    )
    heir.resume(kept, 120.0)
    _run(now, engine, heir, 1.0)
    assert len(engine.segments) == tempi and heir.phase_error_beats is None
    alone.peers, alone._origin = 1, (now[0], peer.beat_at(now[0]))  # the session is found
    played = _run(now, engine, heir, 2.0)
    assert heir.phase_error_beats is not None and abs(engine.heard_error_ms(peer)) < 0.1
    assert all(abs(bpm / 120.0 - 1) <= 0.001 for bpm in played)


def test_alone_after_a_takeover_a_supervisor_follows_its_own_session_in_the_end() -> None:
    now, peer, engine, sync = _rig(bpm=120.0)
    kept = sync.kept()
    peer.peers = 0
    heir = LinkSync(
        peer, engine, RATE, lambda: engine.latency_ns, engine.play_tempo, lambda: now[0]
    )
    heir.resume(kept, 120.0)
    _run(now, engine, heir, REJOIN_S - 0.1)
    assert heir.phase_error_beats is None
    _run(now, engine, heir, 1.0)
    assert heir.phase_error_beats is not None
