"""The sequencer on the sample clock: exact onsets, bar-quantised changes, swing, tempo, state."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from chronus.protocol import validate
from chronus.seq.sequencer import NEVER, Sequencer

SR = 48000


def round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


class Played:
    """A performer that writes down what the sequencer asked for, with the sample it was at."""

    def __init__(self) -> None:
        self.now = 0
        self.notes: list[tuple[int, str, float, float, int]] = []
        self.params: list[tuple[int, str, str, float]] = []
        self.released: list[tuple[int, str]] = []
        self.tempi: list[tuple[int, float]] = []
        self.order: list[str] = []

    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        self.notes.append((self.now, module_id, midi, velocity, length))
        self.order.append("note")

    def release(self, module_id: str) -> None:
        self.released.append((self.now, module_id))

    def set_param(self, module_id: str, param: str, value: float) -> None:
        self.params.append((self.now, module_id, param, value))
        self.order.append("param")

    def set_tempo(self, bpm: float) -> None:
        self.tempi.append((self.now, bpm))


class Rig:
    """A sequencer driven the way the renderer drives it: commands at samples, fire when due."""

    def __init__(self) -> None:
        self.seq = Sequencer(SR)
        self.played = Played()
        self.position = 0

    def send(self, sample: int, address: str, *args: object) -> None:
        self.run_to(sample)
        message = validate(address, args)
        self.played.now = sample
        if message.address == "/tempo":
            now = len(message.args) > 1 and message.args[1] == 1
            self.seq.tempo(float(message.args[0]), now, sample, self.played)
        elif message.address == "/seq/start":
            self.seq.start(sample)
        elif message.address == "/seq/stop":
            self.seq.stop(self.played)
        else:
            _, _, module_id, action = message.address.split("/")
            self.seq.track_message(module_id, action, message.args, sample, self.played)

    def run_to(self, sample: int) -> None:
        while self.seq.next_sample < sample:
            self.played.now = self.seq.next_sample
            self.seq.fire(self.seq.next_sample, self.played)
        self.position = sample

    def onsets(self, module_id: str = "bass") -> list[int]:
        return [n[0] for n in self.played.notes if n[1] == module_id]


def test_sixteenths_at_120_bpm_land_every_6000_samples_for_ten_minutes() -> None:
    rig = Rig()
    rig.send(1000, "/seq/bass/pattern", "c2 eb2 g2 c3")
    rig.run_to(1000 + 10 * 60 * SR)
    onsets = rig.onsets()
    assert len(onsets) == 10 * 60 * 2 * 4
    assert onsets == [1000 + 6000 * k for k in range(len(onsets))]
    midis = [n[2] for n in rig.played.notes[:8]]
    assert midis == [36, 39, 43, 48, 36, 39, 43, 48]
    assert {n[4] for n in rig.played.notes} == {3000}  # gate ½ of a 16th


def test_a_tempo_with_no_whole_sample_step_does_not_drift() -> None:
    rig = Rig()
    rig.send(0, "/tempo", 133)
    rig.send(0, "/seq/bass/pattern", "x x x x")
    minutes = 10
    rig.run_to(minutes * 60 * SR)
    onsets = rig.onsets()
    step = Fraction(SR * 60, 133) / 4
    assert onsets == [math.floor(k * step + Fraction(1, 2)) for k in range(len(onsets))]
    assert len(onsets) == math.ceil((minutes * 60 * SR - Fraction(1, 2)) / step)


def test_a_change_sent_on_a_bar_line_sample_takes_that_bar_line() -> None:
    rig = Rig()
    rig.send(0, "/tempo", 126)  # a beat is 22857.14… samples
    rig.send(0, "/seq/bass/pattern", "c2")
    for bar in range(1, 40):
        at = round_half_up(Fraction(4 * bar * SR * 60, 126))  # where a script's wait lands
        rig.send(at, "/seq/bass/transpose", bar)  # (acts at once: marks the bar)
        rig.send(at, "/seq/bass/pattern", "c3" if bar % 2 else "c2")
        rig.run_to(at + 1)
        sample, _, midi, _, _ = rig.played.notes[-1]
        assert sample == at and midi == 36 + 12 * (bar % 2) + bar


def test_a_new_pattern_waits_for_the_next_bar_unless_sent_now() -> None:
    rig = Rig()
    rig.send(0, "/seq/bass/pattern", "c2")  # a quarter-bar cycle: every 16th
    rig.send(50_000, "/seq/bass/pattern", "c3 . . .")
    rig.run_to(200_000)
    bar = 4 * 24000
    old = [n for n in rig.played.notes if n[2] == 36]
    new = [n for n in rig.played.notes if n[2] == 48]
    assert old[-1][0] == bar - 6000
    assert [n[0] for n in new] == [bar, bar + 24000, bar + 48000, bar + 72000, 2 * bar]
    rig.send(200_000, "/seq/bass/pattern", "d3", 1)
    rig.run_to(220_000)
    assert [n[0] for n in rig.played.notes if n[2] == 50] == [204_000, 210_000, 216_000]


def test_tempo_changes_on_the_bar_line_and_at_once_when_asked() -> None:
    rig = Rig()
    rig.send(0, "/seq/bass/pattern", "x")
    rig.send(10, "/tempo", 60)
    rig.run_to(2 * 96000)
    onsets = rig.onsets()
    bar = 96000
    assert [o for o in onsets if o <= bar] == list(range(0, bar + 1, 6000))
    assert [o for o in onsets if o > bar][:2] == [bar + 12000, bar + 24000]
    assert rig.played.tempi == [(bar, 60.0)]
    rig.send(2 * bar + 100, "/tempo", 120, 1)
    assert rig.played.tempi[-1] == (2 * bar + 100, 120.0)


def test_swing_delays_off_beat_steps_and_keeps_every_pair_in_place() -> None:
    rig = Rig()
    rig.send(0, "/seq/bass/swing", 0.5)
    rig.send(0, "/seq/bass/pattern", "x x x x x x x x")
    rig.run_to(96000)
    assert rig.onsets() == [0, 9000, 12000, 21000, 24000, 33000, 36000, 45000, 48000,
                            57000, 60000, 69000, 72000, 81000, 84000, 93000]  # fmt: skip


def test_step_division_triplets_are_exact() -> None:
    rig = Rig()
    rig.send(0, "/seq/bass/step", 12)
    rig.send(0, "/seq/bass/pattern", "x x x")
    rig.run_to(48000)
    assert rig.onsets() == [0, 8000, 16000, 24000, 32000, 40000]


def test_track_stop_waits_for_the_bar_and_releases_its_notes() -> None:
    rig = Rig()
    rig.send(0, "/seq/bass/pattern", "x")
    rig.send(30_000, "/seq/bass/stop")
    rig.run_to(300_000)
    assert rig.onsets()[-1] == 90_000
    assert rig.played.released == [(96_000, "bass")]
    rig.send(300_000, "/seq/bass/start")
    rig.run_to(400_000)
    assert min(o for o in rig.onsets() if o > 90_000) == 384_000


def test_lanes_cycle_on_their_own_length_and_set_before_the_note_of_the_step() -> None:
    rig = Rig()
    rig.send(0, "/seq/bass/lane", "cutoff", "400 . 1600")
    rig.send(0, "/seq/bass/pattern", "x x x x")
    rig.run_to(24001)
    assert rig.played.params == [
        (0, "bass", "cutoff", 400.0),
        (12000, "bass", "cutoff", 1600.0),
        (18000, "bass", "cutoff", 400.0),
    ]
    assert rig.onsets() == [0, 6000, 12000, 18000, 24000]
    assert rig.played.order[:3] == ["param", "note", "note"]


def test_stop_silences_the_transport_and_start_begins_at_beat_zero() -> None:
    rig = Rig()
    rig.send(0, "/seq/bass/pattern", "x")
    rig.send(10_000, "/seq/stop")
    assert rig.seq.next_sample == NEVER
    rig.run_to(50_000)
    assert rig.onsets() == [0, 6000]
    rig.send(50_001, "/seq/start")
    rig.run_to(62_002)
    assert rig.onsets() == [0, 6000, 50_001, 56_001, 62_001]


def _busy(rig: Rig) -> Rig:
    rig.send(0, "/seq/bass/pattern", "<c2 [c3 d3]> x(3,8)")
    rig.send(0, "/seq/kick/pattern", "x . X .")
    rig.send(70_000, "/tempo", 97)
    rig.send(70_000, "/seq/kick/swing", 0.3)
    return rig


def test_state_continues_on_the_same_sample_in_another_sequencer() -> None:
    straight = _busy(Rig())
    straight.run_to(400_000)
    first = _busy(Rig())
    first.run_to(80_000)  # the tempo and the swing still wait for the bar line at 96000
    second = Rig()
    second.seq.load_state(first.seq.state())
    second.played.notes = list(first.played.notes)
    second.run_to(400_000)
    assert second.played.notes == straight.played.notes


def test_a_waiting_change_taken_when_the_transport_restarts_is_timed_anew() -> None:
    rig = Rig()
    rig.send(0, "/seq/bass/pattern", "x x")
    rig.send(10_000, "/seq/bass/swing", 0.5)  # waits for the bar line
    rig.send(20_000, "/seq/stop")  # ... which never comes: the change is taken now
    rig.send(30_000, "/seq/start")
    rig.run_to(30_000 + 24_000)
    assert rig.onsets() == [0, 6000, 12000, 18000, 30_000, 39_000, 42_000, 51_000]


@pytest.mark.parametrize("bpm", [20, 61.5, 120, 127, 400])
def test_every_onset_is_its_exact_time_rounded_half_up(bpm: float) -> None:
    rig = Rig()
    rig.send(0, "/tempo", bpm)
    rig.send(0, "/seq/bass/pattern", "x [x x] x*3 .")
    rig.run_to(20 * SR)
    step = Fraction(SR * 60) / Fraction(repr(float(bpm))) / 4
    times = [Fraction(0), Fraction(1), Fraction(3, 2), Fraction(2), Fraction(7, 3), Fraction(8, 3)]
    expected = sorted(
        round_half_up((4 * cycle + t) * step)
        for cycle in range(400)
        for t in times
        if round_half_up((4 * cycle + t) * step) < 20 * SR
    )
    assert rig.onsets() == expected
