"""The context cache: a mirror of the patch fed by the messages the shell sends."""

from __future__ import annotations

from chronus.lang.context import DEFAULT_TEMPO, Context
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
