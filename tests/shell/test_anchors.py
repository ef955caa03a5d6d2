"""The shell places each track's cycles where the sequencer does: the same commands, sent at
the same beats, fed to the real `Sequencer` and to `Anchors`."""

from __future__ import annotations

from fractions import Fraction

from chronus.lang.music import note_name
from chronus.protocol import Message, validate
from chronus.seq.sequencer import Sequencer
from chronus.shell.anchors import Anchors
from chronus.shell.steps import step_cells, track_view
from tests.shell.performers import Heard

RATE = 48000
PER_BEAT = RATE // 2  # 120 bpm


def _both(
    script: list[tuple[float, list[Message]]], end: float, ears: Heard | None = None
) -> tuple[Sequencer, Anchors]:
    """Play `script` (beat, messages sent together) on a sequencer and follow it with
    anchors; both up to beat `end`."""
    seq, anchors, quiet = Sequencer(RATE), Anchors(), ears or Heard()

    def run_to(sample: int) -> None:
        while seq.next_sample <= sample:
            quiet.sample = seq.next_sample
            seq.fire(seq.next_sample, quiet)

    for beat, messages in script:
        sample = round(beat * PER_BEAT)
        run_to(sample)
        running = seq.transport.running
        anchors.sent(messages, float(seq.transport.beat_at(sample)) if running else None)
        for message in messages:
            if message.address == "/seq/start":
                seq.start(sample)
            elif message.address == "/seq/stop":
                seq.stop(quiet)
            else:
                _, _, module_id, action = message.address.split("/")
                seq.track_message(module_id, action, message.args, sample, quiet)
    run_to(round(end * PER_BEAT))
    return seq, anchors


def _m(address: str, *args: object) -> Message:
    return validate(address, args)  # type: ignore[arg-type]


def _dump(seq: Sequencer) -> dict[str, object]:
    """What the engine's dump says: the latest settings at once, a waiting change included."""
    tracks = {}
    for mid, track in seq.tracks.items():
        config = track.pending or track.config
        text = None if config.pattern is None else config.pattern.text
        tracks[mid] = {"pattern": text, "division": config.division, "running": track.running}
    return {"tracks": tracks, "transport": seq.transport.running}


def test_a_pattern_sent_while_playing_starts_on_the_next_bar() -> None:
    script = [
        (0.0, [_m("/seq/kick/pattern", "x . . .")]),
        (5.3, [_m("/seq/bass/step", 16), _m("/seq/bass/pattern", "<c2 eb2 g2> . .")]),
    ]
    seq, anchors = _both(script, 9.0)
    assert seq.tracks["bass"].anchor == Fraction(8)
    tracks = anchors.placed(_dump(seq), 9.0)["tracks"]
    assert tracks["bass"]["anchor"] == 8.0
    assert "anchor" not in tracks["kick"]  # from beat 0, as a track the shell has not placed


def test_now_starts_on_the_bar_it_comes_in_and_a_restart_resets_every_track() -> None:
    script = [
        (0.0, [_m("/seq/kick/pattern", "x . . .")]),
        (6.5, [_m("/seq/hat/pattern", "x x x", 1)]),
        (7.25, [_m("/seq/kick/step", 8)]),
    ]
    seq, anchors = _both(script, 13.0)
    placed = anchors.placed(_dump(seq), 13.0)["tracks"]
    assert seq.tracks["hat"].anchor == 4 and placed["hat"]["anchor"] == 4.0
    assert seq.tracks["kick"].anchor == 8 and placed["kick"]["anchor"] == 8.0
    script += [(14.0, [_m("/seq/stop")]), (15.0, [_m("/seq/start")])]
    seq, anchors = _both(script, 20.0)
    assert seq.tracks["hat"].anchor == 0 and seq.tracks["kick"].anchor == 0
    placed = anchors.placed(_dump(seq), 20.0)["tracks"]
    assert placed["hat"].get("anchor", 0.0) == 0.0 and placed["kick"].get("anchor", 0.0) == 0.0


def test_until_its_bar_line_the_old_pattern_is_shown_where_it_plays() -> None:
    script = [
        (0.0, [_m("/seq/bass/step", 16), _m("/seq/bass/pattern", "<c2 eb2> . . .")]),
        (9.5, [_m("/seq/bass/step", 8), _m("/seq/bass/pattern", "g2 . . . . .")]),
    ]
    seq, anchors = _both(script, 10.0)  # before beat 12: the old pattern still plays
    dump = _dump(seq)
    assert dump["tracks"]["bass"]["pattern"] == "g2 . . . . ."  # type: ignore[index]
    early = anchors.placed(dump, 10.0)["tracks"]["bass"]
    assert early["pattern"] == "<c2 eb2> . . ." and early["anchor"] == 0.0
    view = track_view("bass", early)
    assert view is not None
    at = view.at(10.0)  # step 40 of 1/16 from 0: cycle 10, even → c2 at step 0
    assert at is not None and step_cells(view.pattern, at.cycle)[at.step] == "c2"
    assert early["division"] == 16
    late = anchors.placed(dump, 12.5)["tracks"]["bass"]
    assert late["pattern"] == "g2 . . . . ." and late["anchor"] == 12.0
    assert late["division"] == 8


def test_every_melodic_note_is_where_the_grid_says_after_a_change_mid_bar() -> None:
    """Against the notes played: the changed pattern, placed by `Anchors`, has each note in
    the highlighted cell (a 3-step alternation starting on bar 3 is out of phase with 0)."""
    script = [
        (0.0, [_m("/seq/k/pattern", "x")]),
        (4.7, [_m("/seq/b/pattern", "<c3 eb3> g3 .")]),
    ]
    ears = Heard()
    seq, anchors = _both(script, 20.0, ears)
    heard = ears.of("b")
    assert len(heard) >= 20
    for sample, midi in heard:
        beat = sample / PER_BEAT + 1e-6
        entry = anchors.placed(_dump(seq), beat)["tracks"]["b"]
        view = track_view("b", entry)
        assert view is not None
        at = view.at(beat)
        assert at is not None
        assert step_cells(view.pattern, at.cycle)[at.step] == note_name(midi), (beat, at)
    unplaced = track_view("b", _dump(seq)["tracks"]["b"])  # type: ignore[index]
    assert unplaced is not None
    wrong = [s for s, m in heard if (p := unplaced.at(s / PER_BEAT + 1e-6)) is not None
             and step_cells(unplaced.pattern, p.cycle)[p.step] != note_name(m)]  # fmt: skip
    assert wrong  # without the anchor the grid would be out of phase: the test can fail
