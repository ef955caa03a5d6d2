"""Named sounds (`add a 303`, `add a pad called keys`): the recipes are valid data, one line
builds every module of one, connected, set and named by the documented scheme, and the
focus lands on its head."""

from __future__ import annotations

import pytest

from chronus.dsp.specs import DRUM_TYPES, SYNTH_TYPES, modulatable
from chronus.lang.context import Context
from chronus.lang.intents import AddModule, AddSound
from chronus.lang.interpreter import Interpreter
from chronus.lang.modules import find_param, module_types
from chronus.lang.parser import keywords, parse
from chronus.lang.resolve import check_name
from chronus.lang.sounds import ROLES, SOUNDS, Sound, find_sound

NAMES = list(SOUNDS)


def _osc(interpreter: Interpreter, line: str) -> list[list[object]]:
    result = interpreter.interpret(line)
    assert result.ok, result.error and result.error.render()
    return [message.to_list() for message in result.messages]


@pytest.mark.parametrize("sound", SOUNDS.values(), ids=NAMES)
def test_every_recipe_is_valid_data(sound: Sound) -> None:
    assert sound.head.head and not any(part.head for part in sound.parts[1:])
    assert sound.head.type in (*SYNTH_TYPES, *DRUM_TYPES)
    for part in sound.parts:
        assert part.type in module_types()
        assert part.head or part.type in ROLES
        names = [name for name, _ in part.values]
        assert len(names) == len(set(names)), part
        for name, value in part.values:
            spec = find_param(part.type, name)
            assert spec is not None, (part.type, name)
            assert spec.minimum <= value <= spec.maximum, (part.type, name, value)
            assert value != spec.default, f"{part.type} {name} {value} is the default already"
    ids = [module_id for module_id, _ in sound.members("x")]
    assert len(ids) == len(set(ids)), ids
    if sound.lfo is not None:
        target = [part.type for part in sound.parts].count(sound.lfo.target)
        assert target == 1
        spec = find_param(sound.lfo.target, sound.lfo.param)
        assert spec is not None and modulatable(spec)
        for name, value in sound.lfo.values:
            lfo_spec = find_param("lfo", name)
            assert lfo_spec is not None and lfo_spec.minimum <= value <= lfo_spec.maximum
            assert value != lfo_spec.default
    # Its own id is a free, valid module name, and no alias hides a module type.
    check_name(sound.id, sound.head.type, 1, Context(), set())
    for words in (sound.name, *sound.aliases):
        assert words.split()[0] not in module_types() or " " in words
        assert find_sound(tuple(words.split())) == (sound.name, len(words.split()))


@pytest.mark.parametrize("sound", SOUNDS.values(), ids=NAMES)
def test_one_line_builds_the_whole_sound(sound: Sound) -> None:
    interpreter = Interpreter()
    osc = _osc(interpreter, f"add {sound.spoken} called snd")
    ids = [part.id_for("snd") for part in sound.parts]
    creates = [m for m in osc if m[0] == "/patch/create"]
    expected = [["/patch/create", i, part.type] for i, part in zip(ids, sound.parts, strict=True)]
    if sound.lfo is not None:
        expected.append(["/patch/create", "snd_lfo", "lfo"])
    assert creates == expected
    chain = [m[1:] for m in osc if m[0] == "/patch/connect"]
    assert chain == [[a, b] for a, b in zip(ids, [*ids[1:], "master"], strict=True)]
    for module_id, part in zip(ids, sound.parts, strict=True):
        for name, value in part.values:
            assert [f"/mod/{module_id}/{name}", value] in osc
            assert interpreter.context.params[module_id][name] == value
    context = interpreter.context
    assert context.focus == "snd" and context.group == tuple(ids)
    if sound.lfo is not None:
        assert context.modulations == [sound.modulation("snd")]
        assert [m for m in osc if m[0] == "/patch/modulate"] == [
            ["/patch/modulate", "snd_lfo", "snd_f", sound.lfo.param]
        ]
    # The head is what plain lines reach.
    if sound.head.type not in DRUM_TYPES:
        assert _osc(interpreter, "play c2") == [["/note/snd", 36.0, 100.0]]
    volume = context.params["snd"]["volume"]
    assert _osc(interpreter, "louder") == [["/mod/snd/volume", volume + 3.0]]


def test_a_303_called_acid_answers_to_darker_and_play() -> None:
    interpreter = Interpreter()
    result = interpreter.interpret("add a 303 called acid")
    assert result.notes == ["303: acid → acid_f → master"]
    assert _osc(interpreter, "darker") == [["/mod/acid_f/cutoff", 224.0]]
    assert _osc(interpreter, "play c2 for 1 beat") == [["/note/acid", 36.0, 100.0, 0.5]]
    assert _osc(interpreter, "resonance 0.5 on acid_f") == [["/mod/acid_f/res", 0.5]]


def test_unnamed_sounds_take_their_id_then_a_number() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a 303; add a 303; add a pad; add a pad")
    assert list(interpreter.context.modules) == [
        "tb303", "tb303_f", "tb303_2", "tb303_2_f", "pad", "pad_verb", "pad2", "pad2_verb",
    ]  # fmt: skip
    assert interpreter.context.focus == "pad2"


def test_a_taken_part_name_moves_the_unnamed_sound_on() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a reverb called pad_verb")
    _osc(interpreter, "add a pad")
    assert interpreter.context.type_of("pad2") == "saw"
    assert "pad" not in interpreter.context.modules


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("add a 909", 7, 'there is no sound called "909"'),
        ("add an 808 called 9", 19, 'unexpected word "9"'),
        ("add saw acid_f; add a 303 called acid", 34, 'already a module called "acid_f"'),
        ("add a pad called master", 18, "a word of the language"),
        ("add a pad after bass", 17, "a pad makes its own sound"),
        ("add a 303 called " + "a" * 31, 18, "cannot be a module name"),
    ],
)
def test_a_bad_sound_line_says_where_and_sends_nothing(
    line: str, column: int, message: str
) -> None:
    interpreter = Interpreter()
    result = interpreter.interpret(line)
    assert result.error is not None and result.messages == []
    assert result.error.column == column, result.error.render()
    assert message in result.error.message, result.error.render()
    assert interpreter.context.modules == {}


def test_a_sound_goes_on_through_a_chain() -> None:
    interpreter = Interpreter()
    osc = _osc(interpreter, "add a 303 called acid through a reverb")
    assert [m[1:] for m in osc if m[0] == "/patch/connect"] == [
        ["acid", "acid_f"], ["acid_f", "reverb1"], ["reverb1", "master"],
    ]  # fmt: skip
    assert interpreter.context.group == ("acid", "acid_f", "reverb1")


def test_saw_bass_and_an_acid_filter_called_bass_stay_modules() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw bass; add an acid filter called b; add a sine pad")
    assert interpreter.context.modules == {"bass": "saw", "b": "acid", "pad": "sine"}


def test_sound_ids_are_no_keywords() -> None:
    assert not {sound.id for sound in SOUNDS.values()} & keywords()


def test_undo_takes_the_whole_sound_back() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw bass")
    _osc(interpreter, "add a wobble bass")
    assert interpreter.context.modulations
    _osc(interpreter, "undo")
    assert interpreter.context.modules == {"bass": "saw"}
    assert interpreter.context.modulations == []


@pytest.mark.parametrize(
    ("line", "intent"),
    [
        ("add a 303", AddSound("303")),
        ("add a 303 called acid", AddSound("303", "acid")),
        ("ADD AN ACID BASS NAMED B", AddSound("acid bass", "b")),
        ("create a pad keys", AddSound("pad", "keys")),
        ("add an 808 kick", AddSound("808", "kick")),
        ("add a super saw", AddSound("supersaw")),
        ("add an acid filter called bass", AddModule("acid", "bass")),
        ("add an acid bass2", AddModule("acid", "bass2")),
        ("add a sine sub", AddModule("sine", "sub")),
    ],
)
def test_the_words_after_add_name_a_sound_or_a_type(line: str, intent: object) -> None:
    assert parse(line) == [intent]


@pytest.mark.parametrize("sound", NAMES)
def test_removing_a_sounds_head_takes_every_part_it_made_and_undo_brings_them_back(
    sound: str,
) -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a saw called other")
    before = interpreter.context.state()
    _osc(interpreter, f"add {SOUNDS[sound].spoken}")
    made = set(interpreter.context.modules) - {"other"}
    head = SOUNDS[sound].head_id(1)
    removed = _osc(interpreter, f"remove {head}")
    assert {args[1] for args in removed if args[0] == "/patch/remove"} == made
    assert interpreter.context.state() == before
    _osc(interpreter, "undo")
    assert set(interpreter.context.modules) - {"other"} == made


def test_a_part_something_else_feeds_stays_when_its_sound_goes() -> None:
    interpreter = Interpreter()
    _osc(interpreter, "add a clap")
    _osc(interpreter, "add a saw called lead")
    _osc(interpreter, "connect lead to clap_verb")
    result = interpreter.interpret("get rid of the clap")
    assert result.ok
    assert [m.to_list() for m in result.messages] == [
        ["/patch/remove", "clap"],
        ["/patch/remove", "clap_f"],
    ]
    assert "clap_f went with it" in " ".join(result.notes)
    assert ("lead", "clap_verb") in interpreter.context.connections


@pytest.mark.parametrize(
    ("lines", "chain"),
    [
        (["add a 303", "add a reverb to the 303"], ["tb303", "tb303_f", "reverb1", "master"]),
        (
            ["add a 303", "add a reverb to tb303", "add distortion to tb303"],
            ["tb303", "tb303_f", "distortion1", "reverb1", "master"],
        ),
        (
            ["add a lead", "add distortion to the lead", "add a reverb to the lead"],
            ["lead", "distortion1", "lead_echo", "reverb1", "master"],
        ),
        (["add a saw called s through a lowpass", "add a reverb after s"],
         ["s", "reverb1", "lowpass1", "master"]),
    ],
)  # fmt: skip
def test_an_effect_added_to_a_sound_goes_at_the_end_of_its_chain_before_its_space(
    lines: list[str], chain: list[str]
) -> None:
    interpreter = Interpreter()
    for line in lines:
        _osc(interpreter, line)
    context = interpreter.context
    walked = [chain[0]]
    while walked[-1] != "master":
        (after,) = context.outputs(walked[-1])
        walked.append(after)
    assert walked == chain
