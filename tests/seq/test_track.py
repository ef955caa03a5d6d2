"""Tracks play their patterns exactly as the notation defines them: checked against an oracle.

The sequencer reads a pattern's tables in place, one action at a time (`chronus.seq.track`).
The oracle here computes what it must play from the definitions alone, as the sequencer did
before it had tables: every cycle evaluated afresh from the syntax tree (`_evaluate`, exact
fractions), every action's beat (swing included) rounded half up to a sample across a tempo
change, note lengths from the gate, each lane's value set before the notes of its step.
Random patterns (every form, and busy ones of a few hundred characters), steps, swings,
gates, tempi, lanes, a pattern change on the bar line or at once, a tempo change, patterns
loaded from bytes rather than parsed, and a hand-over to another sequencer mid-way.
"""

from __future__ import annotations

import doctest
import math
import pickle
from dataclasses import dataclass
from fractions import Fraction

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chronus.seq import notation, pattern, transport
from chronus.seq.lanes import parse_lane
from chronus.seq.notation import Pattern, parse
from chronus.seq.sequencer import HIT_NOTE, NEVER, Sequencer
from chronus.seq.transport import exact
from tests.busy_patterns import busy_patterns, parses
from tests.seq.strategies import PATTERNS
from tests.seq.test_sequencer import Rig

SR = 48000
HALF = Fraction(1, 2)
Action = tuple[object, ...]


class Log:
    """A performer that writes every action down in order, with the sample it came at."""

    def __init__(self) -> None:
        self.now = 0
        self.actions: list[Action] = []

    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        self.actions.append(("n", self.now, midi, velocity, length))

    def release(self, module_id: str) -> None:
        pass

    def set_param(self, module_id: str, param: str, value: float) -> None:
        self.actions.append(("p", self.now, param, value))

    def set_tempo(self, bpm: float) -> None:
        pass


class Drive(Rig):
    """The sequencer driven as the renderer drives it, writing down every action in order;
    at `hand_over` its state goes to a new sequencer, which plays on."""

    def __init__(self, hand_over: int = NEVER) -> None:
        super().__init__()
        self.log = self.played = Log()  # type: ignore[assignment]
        self.hand_over = hand_over

    def run_to(self, sample: int) -> None:
        while (due := min(self.seq.next_sample, self.hand_over)) < sample:
            if due == self.hand_over:
                state = pickle.loads(pickle.dumps(self.seq.state()))
                self.seq = Sequencer(SR)
                self.seq.load_state(state)
                self.hand_over = NEVER
                continue
            self.log.now = due
            self.seq.fire(due, self.log)


@dataclass(frozen=True)
class Part:
    """A pattern and the settings that change with it on the bar line."""

    text: str
    division: int
    swing: float


@dataclass(frozen=True)
class Scenario:
    first: Part
    gate: float
    transpose: int
    bpm: float
    lanes: tuple[tuple[str, str], ...]
    second: Part | None
    second_at: int
    now: bool
    tempo_bar: int  # 0: no tempo change
    bpm2: float
    loaded: bool
    hand_over: int
    horizon: int = 200_000


class Clock:
    """Beats ↔ samples as the transport has them, across one tempo change on a bar line."""

    def __init__(self, bpm: float, tempo_bar: int, bpm2: float) -> None:
        self.per_beat = Fraction(SR * 60) / exact(bpm)
        self.change = Fraction(4 * tempo_bar) if tempo_bar else None
        self.change_sample = NEVER
        self.per_beat2 = Fraction(SR * 60) / exact(bpm2)
        if self.change is not None:
            self.change_sample = math.floor(self.change * self.per_beat + HALF)

    def sample_of(self, beat: Fraction) -> int:
        if self.change is not None and beat >= self.change:
            return self.change_sample + math.floor((beat - self.change) * self.per_beat2 + HALF)
        return math.floor(beat * self.per_beat + HALF)

    def beat_at(self, sample: int) -> Fraction:
        if self.change is not None and sample > self.change_sample:
            return self.change + (sample - self.change_sample) / self.per_beat2
        return sample / self.per_beat

    def per_beat_at(self, sample: int) -> Fraction:
        return self.per_beat2 if sample >= self.change_sample else self.per_beat

    def next_bar(self, sample: int) -> Fraction:
        bar = Fraction(math.ceil(self.beat_at(sample) / 4) * 4)
        return bar - 4 if self.sample_of(bar - 4) >= sample else bar


def swung(position: Fraction, swing: Fraction) -> Fraction:
    pair = math.floor(position / 2)
    within = position - 2 * pair
    if within < 1:
        return 2 * pair + within * (1 + swing)
    return 2 * pair + (1 + swing) + (within - 1) * (1 - swing)


def expected(s: Scenario, part: Part, anchor: Fraction, start: int, stop: int) -> list[Action]:
    """What `part` plays from `anchor`, between samples `start` and `stop` (exclusive)."""
    clock = Clock(s.bpm, s.tempo_bar, s.bpm2)
    tree = notation._tree(part.text)
    steps = len(tree.items)
    step = Fraction(4, part.division)
    swing = exact(part.swing)
    lanes = [(name, parse_lane(text)) for name, text in s.lanes]
    cycle = math.floor((clock.beat_at(start) - anchor) / (steps * step))
    out: list[Action] = []
    while clock.sample_of(anchor + cycle * steps * step) < stop:
        items: list[tuple[Fraction, int, int, Action]] = []
        for i in range(steps):
            k = cycle * steps + i
            for name, values in lanes:
                value = values[k % len(values)]
                if value is not None:
                    items.append((Fraction(k), 0, len(items), ("p", name, value)))
        for e in notation._evaluate(tree, cycle):
            items.append((cycle * steps + e.onset, 1, len(items), ("n", e)))
        for position, _, _, what in sorted(items):
            sample = clock.sample_of(anchor + swung(position, swing) * step)
            if not start <= sample < stop:
                continue
            if what[0] == "p":
                out.append(("p", sample, what[1], what[2]))
                continue
            event = what[1]
            assert isinstance(event, notation.Event)
            per_step = step * clock.per_beat_at(sample)
            length = max(1, math.floor(event.length * per_step * exact(s.gate)))
            for note in event.notes or (HIT_NOTE,):
                midi = min(127, max(0, note + s.transpose))
                out.append(("n", sample, midi, float(event.velocity), length))
        cycle += 1
    return out


def oracle(s: Scenario) -> list[Action]:
    clock = Clock(s.bpm, s.tempo_bar, s.bpm2)
    if s.second is None:
        return expected(s, s.first, Fraction(0), 0, s.horizon)
    if s.now:
        switch = s.second_at
        anchor = Fraction(math.floor(clock.beat_at(switch) / 4) * 4)
    else:
        anchor = clock.next_bar(s.second_at)
        switch = clock.sample_of(anchor)
    switch = min(switch, s.horizon)
    return expected(s, s.first, Fraction(0), 0, switch) + expected(
        s, s.second, anchor, switch, s.horizon
    )


def perform(s: Scenario) -> list[Action]:
    drive = Drive(s.hand_over)
    if s.loaded:
        for part in (s.first, s.second):
            if part is not None:
                notation.remember(Pattern.from_bytes(parse(part.text).to_bytes()))
    drive.send(0, "/tempo", s.bpm)
    for name, text in s.lanes:
        drive.send(0, "/seq/t/lane", name, text)
    drive.send(0, "/seq/t/gate", s.gate)
    drive.send(0, "/seq/t/transpose", s.transpose)
    drive.send(0, "/seq/t/step", s.first.division)
    drive.send(0, "/seq/t/swing", s.first.swing)
    drive.send(0, "/seq/t/pattern", s.first.text)
    clock = Clock(s.bpm, s.tempo_bar, s.bpm2)
    sends: list[tuple[int, str, tuple[object, ...]]] = []
    if s.tempo_bar:
        sends.append((clock.sample_of(Fraction(4 * s.tempo_bar - 4)) + 1, "/tempo", (s.bpm2,)))
    if s.second is not None:
        second = s.second
        sends += [
            (s.second_at, "/seq/t/step", (second.division,)),
            (s.second_at, "/seq/t/swing", (second.swing,)),
            (s.second_at, "/seq/t/pattern", (second.text, int(s.now))),
        ]
    for sample, address, args in sorted(sends, key=lambda x: x[0]):
        drive.send(sample, address, *args)
    drive.run_to(s.horizon)
    return drive.log.actions


BUSY = busy_patterns(12, seed=5)
TEXTS = PATTERNS.filter(parses) | st.sampled_from(BUSY)
PARTS = st.builds(
    Part, TEXTS, st.sampled_from([3, 4, 8, 12, 16, 32]), st.sampled_from([0, 0.1, 0.25, 0.5])
)
SCENARIOS = st.builds(
    Scenario,
    first=PARTS,
    gate=st.sampled_from([0.01, 0.5, 1.0, 0.33]),
    transpose=st.integers(-12, 12),
    bpm=st.sampled_from([60, 97.5, 120, 133, 200]),
    lanes=st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["400 . 1600", ". . 5", "1 2 3"])),
        max_size=2,
        unique_by=lambda lane: lane[0],
    ).map(tuple),
    second=st.none() | PARTS,
    second_at=st.integers(1, 190_000),
    now=st.booleans(),
    tempo_bar=st.integers(0, 2),
    bpm2=st.sampled_from([70, 120, 151]),
    loaded=st.booleans(),
    hand_over=st.sampled_from([NEVER]) | st.integers(1, 199_999),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SCENARIOS)
def test_a_track_plays_what_the_notation_defines(s: Scenario) -> None:
    clock = Clock(s.bpm, s.tempo_bar, s.bpm2)
    assume(s.second_at != clock.change_sample)  # a command on the tempo's own sample: below
    assert perform(s) == oracle(s)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SCENARIOS, st.integers(1, 199_999))
def test_a_hand_over_anywhere_changes_nothing(s: Scenario, at: int) -> None:
    straight = Scenario(**{**vars(s), "hand_over": NEVER})
    handed = Scenario(**{**vars(s), "hand_over": at})
    assert perform(handed) == perform(straight)


def test_a_cycle_with_nothing_in_it_does_not_stop_the_track() -> None:
    drive = Drive()
    drive.send(0, "/seq/t/pattern", "<x . [. .] X>")  # one step: a 16th per cycle
    drive.run_to(48_000)
    played = [(a[1], a[3]) for a in drive.log.actions]
    assert played == [(0, 100.0), (18_000, 127.0), (24_000, 100.0), (42_000, 127.0)]


def test_a_pattern_of_rests_plays_nothing_and_waits_for_nothing() -> None:
    drive = Drive()
    drive.send(0, "/seq/t/lane", "a", ". .")  # a lane of holds has nothing to set either
    drive.send(0, "/seq/t/pattern", ". ~ [. .]")
    assert drive.seq.next_sample == NEVER
    drive.send(30_000, "/seq/t/lane", "b", "1 . . .")  # from now on: step 8, 12, 16, …
    drive.run_to(96_000)
    assert drive.log.actions == [("p", s, "b", 1.0) for s in range(48_000, 96_000, 24_000)]


def test_a_lane_set_mid_cycle_takes_the_steps_not_played_yet_and_replays_nothing() -> None:
    drive = Drive()
    drive.send(0, "/seq/t/pattern", "c3 e3 g3 b3")
    drive.send(13_000, "/seq/t/lane", "cutoff", "100 200 300 400")
    drive.run_to(24_001)
    assert [a[:3] for a in drive.log.actions] == [
        ("n", 0, 48), ("n", 6000, 52), ("n", 12_000, 55),
        ("p", 18_000, "cutoff"), ("n", 18_000, 59), ("p", 24_000, "cutoff"), ("n", 24_000, 48),
    ]  # fmt: skip


class Refuses(Log):
    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        super().note(module_id, midi, velocity, length)
        raise RuntimeError("no")


def test_a_module_that_refuses_the_last_note_of_a_cycle_does_not_stop_the_track() -> None:
    seq = Sequencer(SR)
    log = Refuses()
    seq.track_message("t", "pattern", ("x x",), 0, log)
    for _ in range(4):
        log.now = seq.next_sample
        try:
            seq.fire(seq.next_sample, log)
        except RuntimeError:
            seq.replan()
    assert [a[1] for a in log.actions] == [0, 6000, 12_000, 18_000]


def test_a_loaded_pattern_shares_the_bytes_it_was_loaded_from() -> None:
    data = parse(BUSY[0]).to_bytes()
    loaded = Pattern.from_bytes(data)
    assert loaded.onsets.obj is data and loaded.notes.obj is data  # nothing copied
    assert [loaded.timed(c) for c in range(loaded.period)] == [
        parse(BUSY[0]).timed(c) for c in range(loaded.period)
    ]


def test_doctests() -> None:
    for module in (pattern, transport):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0
