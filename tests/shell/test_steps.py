"""The step the grid highlights is the step the sequencer plays: checked against the real
`Sequencer`, note by note, for step sizes, alternations, swing, splits and lanes."""

from __future__ import annotations

from fractions import Fraction

import pytest

from chronus.lang.music import note_name
from chronus.seq.sequencer import Sequencer
from chronus.seq.track import HIT_NOTE
from chronus.shell.steps import REST, lane_cells, step_cells, track_view
from tests.shell.performers import Heard

RATE = 48000


def _play(track: dict[str, object], seconds: float, tempo: float = 120.0) -> Heard:
    """The sequencer playing `track` (a dump's track entry) from beat 0 for `seconds`."""
    heard = Heard()
    seq = Sequencer(RATE)
    seq.tempo(tempo, True, 0, heard)
    seq.track_message("t", "step", (track["division"],), 0, heard)
    seq.track_message("t", "swing", (track.get("swing", 0.0),), 0, heard)
    for name, values in dict(track.get("lanes", {})).items():  # type: ignore[call-overload]
        seq.track_message("t", "lane", (name, values), 0, heard)
    seq.track_message("t", "pattern", (track["pattern"],), 0, heard)
    end = int(seconds * RATE)
    while seq.next_sample < end:
        heard.sample = seq.next_sample
        seq.fire(seq.next_sample, heard)
    return heard


CASES = [
    ("c2 eb2 g2 c3", 16, 0.0),
    ("x . . . x . . .", 16, 0.0),
    ("x x x x", 8, 0.0),
    ("c2 eb2 <g2 bb2> c3", 16, 0.0),
    ("c2 <eb2 [g2 bb2]> <c3 d3 f3>", 8, 0.0),
    ("c3 . eb3", 16, 0.3),  # 3 steps: the swing pairs cross the cycles
    ("x [x x] X x(3,8)", 8, 0.2),
    ("[c3,eb3,g3] . . .", 4, 0.0),
    ("c2 eb2 g2 c3 bb2", 12, 0.0),  # triplet 8ths, 5 steps: cycles end mid-beat
    ("<x .> . x", 32, 0.5),
]


@pytest.mark.parametrize(("text", "division", "swing"), CASES)
def test_every_note_heard_is_in_the_cell_the_grid_highlights(
    text: str, division: int, swing: float
) -> None:
    entry = {"pattern": text, "division": division, "swing": swing, "running": True}
    heard = _play(entry, 6.0)
    view = track_view("t", entry)
    assert view is not None
    assert len(heard.of("t")) >= 8
    per_beat = RATE * 60 / 120
    lowest: dict[int, float] = {}  # a chord's cell names its lowest note
    first: dict[int, int] = {}
    for sample, midi in heard.of("t"):
        lowest[sample] = min(midi, lowest.get(sample, midi))
    for sample, midi in lowest.items():
        beat = sample / per_beat + 1e-6  # just after the onset: the step that sounds
        at = view.at(beat)
        assert at is not None
        cell = step_cells(view.pattern, at.cycle)[at.step]
        word = "x" if midi == HIT_NOTE and "x" in text.lower() else note_name(midi)
        assert word in cell.lower(), (text, sample, at, cell, midi)
        first.setdefault(at.absolute, sample)
    onsets = {
        (cycle, int(event.onset))
        for cycle in range(view.pattern.period)
        for event in view.pattern.events(cycle)
        if event.onset == int(event.onset)
    }
    for absolute, sample in first.items():
        at = view.at(sample / per_beat + 1e-6)
        assert at is not None
        if absolute > 0 and (at.cycle, at.step) in onsets:
            # Just before a step's first note (swung late or not) the step before still sounds.
            before = view.at(sample / per_beat - 1e-6)
            assert before is not None and before.absolute == absolute - 1, (text, sample)


def test_a_lane_of_another_length_drifts_against_the_pattern_as_played() -> None:
    entry = {"pattern": "c2 eb2 g2 c3", "division": 16, "lanes": {"cutoff": "400 800 . 1600 2000"}}
    heard = _play(entry, 4.0)
    view = track_view("t", entry)
    assert view is not None
    name, cells = view.lanes[0]
    assert name == "cutoff" and cells == ("400", "800", REST, "1.6k", "2k")
    assert len(heard.params) >= 10
    for sample, param, value in heard.params:
        at = view.at(sample / 24000 + 1e-6)
        assert at is not None
        assert param == "cutoff"
        assert lane_cells(f"{value:g}")[0] == cells[at.absolute % len(cells)]


def test_a_pattern_anchored_at_a_later_bar_counts_its_cycles_from_there() -> None:
    """A pattern that came in on bar 2 (beat 4) of a playing transport: cycle 0 starts there."""
    heard = Heard()
    seq = Sequencer(RATE)
    seq.track_message("k", "pattern", ("x",), 0, heard)  # starts the transport at beat 0
    seq.track_message("t", "pattern", ("<c3 eb3 g3> . . .",), 1000, heard)  # waits for beat 4
    while seq.next_sample < 10 * RATE:
        heard.sample = seq.next_sample
        seq.fire(seq.next_sample, heard)
    assert seq.tracks["t"].anchor == Fraction(4)
    entry = {"pattern": "<c3 eb3 g3> . . .", "division": 16, "anchor": 4.0}
    view = track_view("t", entry)
    assert view is not None
    melodic = heard.of("t")
    assert len(melodic) >= 10
    for sample, midi in melodic:
        at = view.at(sample / 24000 + 1e-6)
        assert at is not None
        assert step_cells(view.pattern, at.cycle)[at.step] == note_name(midi)
    assert view.at(3.9) is None  # before its bar: not playing yet


def test_stopped_or_unknown_means_no_step() -> None:
    entry = {"pattern": "x . x .", "division": 16, "running": False}
    view = track_view("t", entry)
    assert view is not None and view.at(1.0) is None
    playing = track_view("t", {**entry, "running": True})
    assert playing is not None and playing.at(None) is None
    assert playing.at(1.0) is not None


def test_cells_say_hits_accents_splits_and_chords_short() -> None:
    view = track_view("t", {"pattern": "x X [x x] [c3,eb3,g3] [c2 eb2] . [x x x x x]"})
    assert view is not None
    assert step_cells(view.pattern, 0) == ("x", "X", "xx", "c3+2", "c2 eb2", REST, "5x")


def test_an_entry_without_a_pattern_or_with_a_bad_one_is_no_track() -> None:
    assert track_view("t", {"pattern": None}) is None
    assert track_view("t", {"pattern": "c3 h3"}) is None
    assert track_view("t", "nonsense") is None
