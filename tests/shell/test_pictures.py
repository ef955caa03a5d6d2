"""The pictures, printed to a recording rich console: the patch tree's chains in route order,
the grid's highlighted cell at a beat, the bars' lengths."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console, RenderableType

from chronus.lang.interpreter import Interpreter
from chronus.lang.modules import find_param
from chronus.shell.pictures import (
    BAR_WIDTH,
    PAGE,
    bar_cells,
    module_bars,
    patch_tree,
    pattern_grid,
    value_text,
)


def _text(renderable: RenderableType, width: int = 120) -> str:
    console = Console(record=True, width=width, color_system=None, file=open("/dev/null", "w"))
    console.print(renderable)
    return console.export_text()


def _dump(*lines: str) -> dict[str, Any]:
    interpreter = Interpreter()
    for line in lines:
        result = interpreter.interpret(line)
        assert result.ok, result.error and result.error.render()
    return interpreter.context.to_dump()


GROOVE = (
    "add a saw called bass through an acid filter then delay",
    "play c2 eb2 <g2 bb2> c3 every 16th on bass",
    "add a kick",
    "kick x . . . x . . .",
    "lfo on bass cutoff at 1/8 depth 50%",
)


def test_each_chain_is_a_branch_in_route_order_with_key_parameters_and_units() -> None:
    text = _text(patch_tree(_dump(*GROOVE)))
    assert "bass → acid1 → delay1 → master" in text
    assert "kick → master" in text
    lines = text.splitlines()
    at = {name: next(i for i, line in enumerate(lines) if f" {name} " in line) for name in
          ("bass saw", "acid1 acid", "delay1 delay", "kick kick")}  # fmt: skip
    assert at["bass saw"] < at["acid1 acid"] < at["delay1 delay"] < at["kick kick"]
    assert "cutoff 2 kHz" in lines[at["bass saw"]] and "volume -6 dB" in lines[at["bass saw"]]
    assert "time 375 ms" in lines[at["delay1 delay"]]
    assert "cutoff ← lfo1 (sync 0.5 beats" in text
    assert "plays c2 eb2 <g2 bb2> c3 — 4 steps of 1/16 (1 beat), changes over 2 cycles" in text
    assert "plays x . . . x . . . — 8 steps of 1/16 (2 beats), playing" in text


def test_a_bus_two_chains_share_is_drawn_once() -> None:
    dump = _dump("add a saw called lead", "add a reverb called verb after lead",
                 "add a sine called pad", "disconnect pad", "connect pad to verb")  # fmt: skip
    text = _text(patch_tree(dump))
    assert "lead → verb → master" in text and "pad → verb → master" in text
    assert text.count("verb reverb") == 1 and "verb (shown above)" in text


def test_an_empty_patch_says_how_to_start() -> None:
    assert "add a saw called bass" in _text(patch_tree({"modules": {}}))


def test_sixty_four_chains_all_show_in_their_order() -> None:
    dump = _dump(*[f"add a saw called s{n} through an acid filter then delay" for n in range(64)])
    text = _text(patch_tree(dump), width=100)
    heads = [line for line in text.splitlines() if "→ master" in line]
    assert len(heads) == 64
    assert [head.split()[1] for head in heads] == [f"s{n}" for n in range(64)]
    assert f"s63 → acid{64} → delay{64} → master" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def _highlighted(grid: RenderableType) -> dict[str, str]:
    """Row label → the text of its highlighted cell."""
    found = {}
    for line in grid.renderables[2:]:  # type: ignore[attr-defined]
        spans = {str(span.style): line.plain[span.start : span.end] for span in line.spans}
        if "reverse bold" in spans:
            found[spans["bold"].strip()] = spans["reverse bold"]
    return found


def _column(grid: RenderableType, label: str) -> str:
    """The step number above the highlighted cell of a row."""
    header, *lines = grid.renderables[1:]  # type: ignore[attr-defined]
    line = next(line for line in lines if line.plain.startswith(label))
    span = next(span for span in line.spans if str(span.style) == "reverse bold")
    return header.plain[span.start : span.end].strip()


def test_the_cell_sounding_at_a_beat_is_highlighted_for_each_step_size() -> None:
    dump = _dump("add a kick", "kick x . . . x . . .", "add a hat", "hat x x . X every 8th",
                 "add a saw called bass", "play c2 eb2 g2 every 4th on bass")  # fmt: skip
    # beat 2.6: kick 16ths step 10 → 10 % 8 = 2; hat 8ths step 5 → 5 % 4 = 1; bass 4ths 2 % 3
    found = _highlighted(pattern_grid(dump, 2.6, color=True))
    assert found == {"kick": "·", "hat": "x", "bass": "g2"}
    grid = pattern_grid(dump, 2.6, color=True)
    assert [_column(grid, name) for name in ("kick", "hat", "bass")] == ["3", "2", "3"]


def test_an_alternation_shows_the_cycle_playing_and_its_number() -> None:
    dump = _dump("add a saw called bass", "play c2 <eb2 g2 bb2> every 16th on bass")
    # 2 steps of a 16th: cycle n spans beats n/2 … n/2 + 1/2; cycle 4 → 4 % 3 = 1 → g2
    text = _text(pattern_grid(dump, 2.3))
    assert "bass (2/3)" in text and "[g2]" in text
    assert "[bb2]" in _text(pattern_grid(dump, 2.8))
    assert "bass (3/3)" in _text(pattern_grid(dump, 2.8))


def test_a_lane_row_follows_its_own_length() -> None:
    dump = _dump("add a saw called bass", "play c2 eb2 g2 c3 every 16th on bass",
                 "lane bass cutoff 400 800 1600")  # fmt: skip
    found = _highlighted(pattern_grid(dump, 1.3, color=True))  # absolute step 5
    assert found == {"bass": "eb2", "↳ cutoff": "1.6k"}  # 5 % 4 = 1, 5 % 3 = 2


def test_stopped_transport_or_unknown_beat_highlights_nothing() -> None:
    dump = _dump("add a kick", "kick x . x .")
    assert _highlighted(pattern_grid(dump, None, color=True)) == {}
    assert "where the playhead is is not known" in _text(pattern_grid(dump, None))
    stopped = {**dump, "transport": False}
    assert _highlighted(pattern_grid(stopped, 3.0, color=True)) == {}
    assert "stopped" in _text(pattern_grid(stopped, 3.0))


def test_a_long_pattern_shows_the_page_that_plays() -> None:
    dump = _dump("add a kick", "kick " + " ".join(["x"] + ["."] * 47))
    text = _text(pattern_grid(dump, 9.0, width=100), width=100)  # 16ths: step 37 of 48
    assert "kick 33–48" in text and "[·]" in text, text
    assert "kick 1–" not in text
    wide = _text(pattern_grid(dump, 9.0, width=400), width=400)
    assert "kick 33–48" in wide and wide.splitlines()[1].split()[-1] == str(PAGE)


def test_bars_are_as_long_as_the_value_is_far_into_its_range() -> None:
    dump = _dump("add a saw called bass", "set bass amp to 0.25", "set bass cutoff to 632 hz",
                 "set bass pan to -1")  # fmt: skip
    text = _text(module_bars(dump, "bass"))
    rows = {line.split()[0]: line for line in text.splitlines()[2:] if line.strip()}
    assert rows["amp"].count("█") == BAR_WIDTH // 4
    assert rows["pan"].count("█") == 0
    assert rows["sustain"].count("█") == round(0.7 * BAR_WIDTH)
    # cutoff is drawn on a log scale: 632 Hz is half-way (in octaves) from 20 Hz to 20 kHz
    assert rows["cutoff"].count("█") == BAR_WIDTH // 2
    assert "632 Hz" in rows["cutoff"] and "20–20000 hz" in rows["cutoff"]
    assert "bass (saw) → master" in text


def test_a_parameter_an_lfo_moves_is_marked_and_its_bar_shows_the_sweep() -> None:
    """`show keys` drew the cutoff an lfo sweeps as a still value, like any other."""
    dump = _dump("add a pad called keys", "lfo on keys cutoff at 1/8 depth 30%",
                 "lfo on keys pan at 1 bar")  # fmt: skip
    text = _text(module_bars(dump, "keys"), width=160)
    rows = {line.split()[0]: line for line in text.splitlines()[2:] if line.strip()}
    assert rows["cutoff"].rstrip().endswith("~ lfo1 (sync 0.5 beats · depth 0.3)")
    assert rows["pan"].rstrip().endswith("~ lfo2 (sync 4 beats · depth 0.5)")
    assert "~" not in rows["res"] and "▒" not in rows["res"]
    # the bar holds its set value, then ▒ up to where the lfo takes it
    cutoff = find_param("saw", "cutoff")
    assert cutoff is not None
    assert rows["cutoff"].count("█") == bar_cells(cutoff, 1400.0)
    top = 2 ** (math.log2(1400.0) + 0.15 * math.log2(1000.0))  # 0.3 of 10 octaves, half up
    assert rows["cutoff"].count("▒") == bar_cells(cutoff, top) - bar_cells(cutoff, 1400.0) > 0
    pan = find_param("saw", "pan")
    assert pan is not None  # depth 0.5 of the range (-1–1): 0.5 each way
    assert rows["pan"].count("▒") == bar_cells(pan, 0.5) - bar_cells(pan, 0.0)


def test_two_lfos_on_one_parameter_are_both_named_and_their_depths_add() -> None:
    """The language gives a parameter one lfo; raw OSC (`/patch/modulate`) may give more."""
    dump = _dump("add a saw called bass", "lfo on bass pan at 1 bar", "lfo on bass amp at 1/4")
    dump["modulations"] = [[lfo, "bass", "pan"] for lfo, _, _ in dump["modulations"]]
    text = _text(module_bars(dump, "bass"), width=160)
    pan = next(line for line in text.splitlines() if line.startswith("pan "))
    assert pan.rstrip().endswith(
        "~ lfo1 (sync 4 beats · depth 0.5) + lfo2 (sync 1 beats · depth 0.5)"
    )
    assert pan.count("▒") == BAR_WIDTH // 2  # ±1: the whole range, from the middle up


def test_bar_cells_clamp_and_value_text_has_units() -> None:
    spec = find_param("saw", "amp")
    assert spec is not None
    assert bar_cells(spec, 5.0) == BAR_WIDTH and bar_cells(spec, -1.0) == 0
    cutoff = find_param("saw", "cutoff")
    assert value_text(cutoff, 1200.0) == "1.2 kHz" and value_text(cutoff, 80.0) == "80 Hz"
    assert value_text(find_param("saw", "volume"), -6.0) == "-6 dB"


def test_a_module_that_is_not_there_is_named_with_those_that_are() -> None:
    text = _text(module_bars(_dump("add a kick"), "bass"))
    assert 'there is no module called "bass" (modules: kick)' in text


def test_a_live_frame_draws_the_rows_the_terminal_holds_and_counts_the_rest() -> None:
    lines = [f"add a kick called k{n}" for n in range(10)]
    lines += [f"k{n} x . x ." for n in range(10)] + ["lane k0 amp 0.5 1"]
    dump = _dump(*lines)
    text = _text(pattern_grid(dump, 1.0, height=8))
    assert "k0" in text and "↳ amp" in text and "k3" in text and "k4 " not in text
    assert "… 6 more rows (a taller terminal, or show patterns once)" in text
    every = _text(pattern_grid(dump, 1.0))
    assert "k9" in every and "more rows" not in every


def test_an_alternation_does_not_shift_the_columns_while_it_plays() -> None:
    dump = _dump("add a saw called bass", "play c2 <eb2 .> g2 every 16th on bass")
    # 3 steps of a 16th: cycle 0 (eb2) from beat 0, cycle 1 (a rest) from beat 0.75
    frames = [_text(pattern_grid(dump, beat, color=True)).splitlines()[1:] for beat in
              (0.1, 0.8)]  # fmt: skip
    assert "eb2" in frames[0][1] and "eb2" not in frames[1][1]
    assert frames[0][0] == frames[1][0]  # the same step numbers over the same columns
    assert frames[0][1].index("g2") == frames[1][1].index("g2")
