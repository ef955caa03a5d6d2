"""The context cache: a mirror of the patch fed by the messages the shell sends."""

from __future__ import annotations

from chronus.lang.context import DEFAULT_TEMPO, Context
from chronus.lang.interpreter import Interpreter
from chronus.protocol import validate

DUMP = {
    "modules": {
        "bass": {"type": "saw", "params": {"cutoff": 640.0, "res": 0.4}},
        "kick": {"type": "kick", "params": {}},
    },
    "connections": [["bass", "master"], ["kick", "master"]],
    "tempo": 128.0,
}


def test_from_dump_and_back() -> None:
    context = Context.from_dump(DUMP)
    assert context.modules == {"bass": "saw", "kick": "kick"}
    assert context.params["bass"]["cutoff"] == 640.0
    assert context.params["bass"]["release"] == 0.25  # the type's default until set
    assert context.connections == [("bass", "master"), ("kick", "master")]
    assert context.tempo == 128.0
    assert context.focus is None
    again = Context.from_dump(context.to_dump())
    assert again.to_dump() == context.to_dump()


def test_from_dump_is_lenient() -> None:
    context = Context.from_dump(
        {
            "modules": {
                "x": "not a dict",
                "y": {"type": 3},
                "z": {"type": "sine", "params": {"amp": "loud"}},
            },
            "connections": [["a"], "bc", ["z", "master"]],
            "tempo": "fast",
            "extra": True,
        }
    )
    assert context.modules == {"z": "sine"}
    assert context.connections == [("z", "master")]
    assert context.tempo == DEFAULT_TEMPO
    assert Context.from_dump({}).modules == {}


def test_free_id_names_the_unnamed() -> None:
    context = Context()
    assert context.free_id("kick") == "kick"
    context.observe(validate("/patch/create", ("kick", "kick")))
    context.observe(validate("/patch/create", ("kick3", "kick")))
    assert context.free_id("kick") == "kick2"
    context.observe(validate("/patch/create", ("kick2", "kick")))
    assert context.free_id("kick") == "kick4"


def test_observe_mirrors_the_patch() -> None:
    context = Context()
    for address, args in [
        ("/patch/create", ("bass", "saw")),
        ("/patch/connect", ("bass", "master")),
        ("/mod/bass/cutoff", (900,)),
        ("/mod/bass/nonsense", (1,)),
        ("/tempo", (99,)),
    ]:
        context.observe(validate(address, args))
    assert context.params["bass"]["cutoff"] == 900.0
    assert "nonsense" not in context.params["bass"]
    assert context.tempo == 99.0
    context.focus = "bass"
    context.observe(validate("/patch/remove", ("bass",)))
    assert context.modules == {} and context.connections == [] and context.focus is None


def test_copy_is_independent() -> None:
    context = Context.from_dump(DUMP)
    scratch = context.copy()
    scratch.observe(validate("/mod/bass/cutoff", (100,)))
    scratch.observe(validate("/patch/create", ("pad", "sine")))
    assert context.params["bass"]["cutoff"] == 640.0
    assert "pad" not in context.modules


def test_resolve_is_the_seam_for_it() -> None:
    context = Context.from_dump(DUMP)
    assert context.resolve(None) is None
    context.focus = "bass"
    assert context.resolve(None) == "bass"
    assert context.resolve("it") == "bass"
    assert context.resolve("kick") == "kick"


def test_from_dump_reads_tracks_transport_modulations_and_ignores_the_unknown() -> None:
    context = Context.from_dump(
        {
            "modules": {
                "bass": {"type": "saw", "params": {"cutoff": 640.0}},
                "lfo1": {"type": "lfo", "params": {}},
                "bad": "not a module",
            },
            "connections": [["bass", "master"], "junk"],
            "modulations": [["lfo1", "bass", "cutoff"], [1, 2]],
            "tempo": 100,
            "tracks": {
                "bass": {"pattern": "c2 eb2", "division": 8, "swing": 0.2, "transpose": 5,
                         "lanes": {"cutoff": "400 800"}, "running": False, "future": 1},
                "junk": 3,
            },
            "transport": True,
            "something": {"new": True},
        }
    )  # fmt: skip
    assert context.modules == {"bass": "saw", "lfo1": "lfo"}
    assert context.modulations == [("lfo1", "bass", "cutoff")]
    track = context.tracks["bass"]
    assert (track.pattern, track.division, track.swing, track.transpose) == ("c2 eb2", 8, 0.2, 5)
    assert track.lanes == (("cutoff", "400 800"),) and track.running is False
    assert context.transport is True
    assert Context.from_dump(context.to_dump()).to_dump() == context.to_dump()


def test_new_ids_number_all_but_drums() -> None:
    context = Context()
    assert [context.new_id(kind) for kind in ("kick", "acid", "lfo", "saw")] == [
        "kick", "acid1", "lfo1", "saw1",
    ]  # fmt: skip
    context.observe(validate("/patch/create", ("acid1", "acid")))
    assert context.new_id("acid") == "acid2"


def test_pronouns_and_groups() -> None:
    interpreter = Interpreter()
    assert interpreter.interpret("add saw bass through acid then reverb; add sine pad").ok
    context = interpreter.context
    assert context.resolve("it") == context.resolve("that") == context.resolve("this") == "pad"
    assert context.targets("them") == ["pad"]
    assert interpreter.interpret("bass through delay").ok
    assert context.targets("them") == ["bass", "delay1"]
    assert context.downstream("bass") == ["delay1", "acid1", "reverb1"]


def test_undo_of_remove_recreates_params_routes_modulation_and_track() -> None:
    interpreter = Interpreter()
    for line in (
        "add saw bass through acid called f1",
        "set bass drive 2; lfo on bass env_amount at 1/4",
        "play c2 eb2 every 8th on bass; swing 10%",
        "remove bass",
    ):
        assert interpreter.interpret(line).ok, line
    before_remove = interpreter.context.history[-1]
    result = interpreter.interpret("undo")
    assert [m.to_list() for m in result.messages] == [
        ["/patch/create", "bass", "saw"],
        ["/mod/bass/drive", 2.0],
        ["/patch/connect", "bass", "f1"],
        ["/patch/modulate", "lfo1", "bass", "env_amount"],
        ["/seq/bass/step", 8],
        ["/seq/bass/swing", 0.1],
        ["/seq/bass/pattern", "c2 eb2"],
    ]
    assert interpreter.context.state() == before_remove
    assert [m.to_list() for m in interpreter.interpret("redo").messages] == [
        ["/patch/remove", "bass"],
    ]


def test_a_failed_line_leaves_history_alone() -> None:
    interpreter = Interpreter()
    assert interpreter.interpret("add saw bass").ok
    assert not interpreter.interpret("cutoff 800; cutoff 99999").ok
    assert len(interpreter.context.history) == 1
    assert [m.to_list() for m in interpreter.interpret("undo").messages] == [
        ["/patch/remove", "bass"],
    ]


def test_undo_takes_back_this_shells_lines_around_others_changes() -> None:
    interpreter = Interpreter()
    for line in ("add saw bass", "set bass cutoff 700", "tempo 140"):
        assert interpreter.interpret(line).ok, line
    context = interpreter.context
    context.heard([validate("/mod/bass/cutoff", (300.0,)), validate("/mod/bass/res", (0.5,))])
    context.heard([validate("/patch/create", ("lead", "square"))])
    context.heard([validate("/patch/connect", ("lead", "master")), validate("/tempo", (99.0,))])
    assert context.params["bass"]["res"] == 0.5 and context.tempo == 99.0
    # Both lines' values were set again by the other player since: theirs stand.
    assert interpreter.interpret("undo 2").messages == []
    assert context.params["bass"]["cutoff"] == 300.0
    assert context.params["bass"]["res"] == 0.5 and context.tempo == 99.0
    assert ("lead", "master") in context.connections
    assert [m.to_list() for m in interpreter.interpret("undo").messages] == [
        ["/patch/remove", "bass"]
    ]
    assert set(context.modules) == {"lead"} and context.tempo == 99.0
    redone = [m.to_list() for m in interpreter.interpret("redo 3").messages]
    assert ["/patch/create", "bass", "saw"] in redone and ["/mod/bass/res", 0.5] in redone
    assert context.tempo == 99.0 and context.params["bass"]["cutoff"] == 300.0


def test_the_rate_comes_from_the_dump_when_it_is_a_rate() -> None:
    assert Context().rate == 48000
    assert Context.from_dump({"rate": 44100}).rate == 44100
    for odd in (0, -48000, 44100.5, True, "96000", None):
        assert Context.from_dump({"rate": odd}).rate == 48000
    context = Context.from_dump({"rate": 96000})
    assert context.copy().rate == 96000
