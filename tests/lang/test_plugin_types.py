"""Plugin types in the language: learnt as data from the engine, usable like built-in ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.lang.modules import (
    builtin_types,
    is_processor,
    learn_plugins,
    module_types,
    param_specs,
    plugin_types,
)
from chronus.lang.parser import grammar_text, tables_name

FOLD_PARAMS = [
    {"name": "drive", "default": 0.3, "minimum": 0.0, "maximum": 1.0, "unit": "",
     "smoothing_ms": 10.0, "doc": "how hard it folds"},
    {"name": "mix", "default": 1.0, "minimum": 0.0, "maximum": 1.0},
]  # fmt: skip
DUMP_PLUGINS: dict[str, Any] = {
    "fold": {"version": "1a2b3c4d5e6f", "state": "active", "processor": True,
             "params": FOLD_PARAMS, "path": "/tmp/fold.py"},
    "buzz": {"version": "00ff00ff00ff", "state": "active", "processor": False,
             "params": [{"name": "amp", "default": 0.5, "minimum": 0.0, "maximum": 1.0}]},
}  # fmt: skip


@pytest.fixture(autouse=True)
def forget_plugins() -> Iterator[None]:
    learn_plugins({})
    yield
    learn_plugins({})


def _band() -> Interpreter:
    learn_plugins(DUMP_PLUGINS)
    interpreter = Interpreter()
    assert interpreter.interpret("add a saw called bass").ok
    return interpreter


def _osc(interpreter: Interpreter, line: str) -> list[list[object]]:
    result = interpreter.interpret(line)
    assert result.ok, result.error and result.error.render()
    return [message.to_list() for message in result.messages]


def test_a_learnt_plugin_is_a_module_type_with_its_parameters() -> None:
    assert learn_plugins(DUMP_PLUGINS) == ("fold", "buzz")
    assert module_types()[-2:] == ("fold", "buzz")
    assert [spec.name for spec in param_specs("fold")] == ["drive", "mix"]
    assert param_specs("fold")[0].smoothing_ms == 10.0
    assert is_processor("fold") and not is_processor("buzz")
    assert "fold" not in builtin_types()


def test_add_after_route_through_and_set_a_plugin_module() -> None:
    band = _band()
    assert _osc(band, "add a fold called f1 after bass") == [
        ["/patch/create", "f1", "fold"],
        ["/patch/disconnect", "bass", "master"],
        ["/patch/connect", "bass", "f1"],
        ["/patch/connect", "f1", "master"],
    ]
    assert _osc(band, "set f1 drive to 0.7") == [["/mod/f1/drive", 0.7]]
    assert _osc(band, "more drive on f1") == [["/mod/f1/drive", pytest.approx(0.8)]]
    assert band.interpret("set f1 drive to 2").error is not None
    error = band.interpret("set f1 drvie 0.5").error
    assert error is not None and "drive" in error.hint


def test_through_a_plugin_type_creates_one() -> None:
    band = _band()
    assert _osc(band, "bass through fold") == [
        ["/patch/create", "fold1", "fold"],
        ["/patch/disconnect", "bass", "master"],
        ["/patch/connect", "bass", "fold1"],
        ["/patch/connect", "fold1", "master"],
    ]
    assert band.context.params["fold1"] == {"drive": 0.3, "mix": 1.0}
    # The grammar knows built-in types only: after "then", `through` or a comma continues.
    for line in ("bass through delay then through fold", "bass through delay, fold"):
        assert _osc(_band(), line)[-3:] == [
            ["/patch/connect", "bass", "delay1"],
            ["/patch/connect", "delay1", "fold1"],
            ["/patch/connect", "fold1", "master"],
        ]


def test_a_source_plugin_takes_no_input() -> None:
    band = _band()
    assert _osc(band, "add a buzz called b1") == [
        ["/patch/create", "b1", "buzz"],
        ["/patch/connect", "b1", "master"],
    ]
    error = band.interpret("add a buzz called b2 after bass").error
    assert error is not None and "has no input" in error.message


def test_forgotten_failed_and_malformed_plugins_are_no_types() -> None:
    learn_plugins(DUMP_PLUGINS)
    learn_plugins(
        {"fold": DUMP_PLUGINS["fold"], "bad": {**DUMP_PLUGINS["fold"], "state": "failed"}}
    )
    assert [p.name for p in plugin_types()] == ["fold"]
    error = Interpreter().interpret("add a buzz called b1").error
    assert error is not None and 'no module type "buzz"' in error.message
    params = [{"name": "x", "default": 5.0, "minimum": 0.0, "maximum": 1.0},
              {"name": "y", "default": float("nan"), "minimum": 0.0, "maximum": 1.0},
              {"default": 0.0, "minimum": 0.0, "maximum": 1.0}, "z",
              {"name": "ok", "default": 0.0, "minimum": 0.0, "maximum": 1.0}]  # fmt: skip
    learn_plugins({"odd": {"params": params}, "saw": {"params": []}, "Bad-Name": {}})
    assert [p.name for p in plugin_types()] == ["odd"]
    assert [spec.name for spec in param_specs("odd")] == ["ok"]
    assert [spec.name for spec in param_specs("saw")][:2] == ["amp", "cutoff"]


def test_the_listing_shape_is_learnt_too() -> None:
    listing = [
        {"name": "fold", "state": "active", "version": "1a2b3c4d5e6f",
         "validation": {"ok": True, "processor": True}, "params": FOLD_PARAMS},
        {"name": "gone", "state": "unloaded", "params": FOLD_PARAMS},
    ]  # fmt: skip
    assert learn_plugins(listing) == ("fold",)
    assert is_processor("fold") and plugin_types()[0].version == "1a2b3c4d5e6f"


def test_the_mirror_of_a_dump_knows_plugin_modules() -> None:
    learn_plugins(DUMP_PLUGINS)
    context = Context.from_dump(
        {
            "modules": {"f1": {"type": "fold", "params": {"drive": 0.6, "mix": 1.0}}},
            "connections": [["f1", "master"]],
            "plugins": DUMP_PLUGINS,
        }
    )
    interpreter = Interpreter(context)
    assert _osc(interpreter, "drive 0.2 on f1") == [["/mod/f1/drive", 0.2]]
    assert interpreter.context.params["f1"]["drive"] == 0.2


def test_learning_plugins_leaves_the_grammar_and_its_tables_alone() -> None:
    before = tables_name(grammar_text())
    learn_plugins(DUMP_PLUGINS)
    assert tables_name(grammar_text()) == before


def test_unload_or_reload_a_module_says_to_name_its_plugin() -> None:
    band = _band()
    assert band.interpret("add a fold called f1 after bass").ok
    error = band.interpret("unload f1").error
    assert error is not None and error.hint == "unload fold"
    assert _osc(band, "reload fold") == [["/plugins/reload", "fold"]]


def test_the_frame_reader_learns_plugin_words_too() -> None:
    interpreter = Interpreter()
    assert interpreter.interpret("add a saw called bass").ok
    error = interpreter.interpret("put the bass through a fodl").error
    assert error is not None and "fold" not in error.hint
    learn_plugins(DUMP_PLUGINS)
    error = interpreter.interpret("put the bass through a fodl").error
    assert error is not None and error.hint == 'did you mean "fold"?'
    assert interpreter.interpret("add a fold called f1 after bass").ok
    error = interpreter.interpret("more driev on f1").error
    assert error is not None and "drive" in error.hint
