"""A plugin put in use at a stamp: the renderer imports it, swaps its modules, hands it over."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp import catalog
from chronus.dsp.guard import SUSPEND_AFTER_ERRORS
from chronus.dsp.render import Renderer
from chronus.plugins import runtime
from chronus.plugins.store import PluginStore, StoredPlugin
from chronus.protocol import Message, validate
from tests.plugins.modules import RAISING, write_gain

RATE, BLOCK = 48000, 64


@pytest.fixture(autouse=True)
def _forget_gain() -> Iterator[None]:
    yield
    runtime.forget("gain")


def _m(address: str, *args: object) -> Message:
    return validate(address, args)


def _use(stored: StoredPlugin) -> Message:
    return _m("/plugins/use", stored.name, stored.version, stored.path)


def _chain(renderer: Renderer, stored: StoredPlugin) -> None:
    for message in [
        _use(stored),
        _m("/patch/create", "a", "sine"), _m("/patch/create", "g", "gain"),
        _m("/patch/connect", "a", "g"), _m("/patch/connect", "g", "master"),
        _m("/mod/g/amount", 1.5), _m("/note/a", 69, 100, 5.0),
    ]:  # fmt: skip
        renderer.schedule(0, message)


def _render(renderer: Renderer, blocks: int) -> npt.NDArray[np.float32]:
    out = np.zeros((blocks * BLOCK, 2), dtype=np.float32)
    for k in range(blocks):
        renderer.render(out[k * BLOCK : (k + 1) * BLOCK], BLOCK)
    return out


def _stored(tmp_path: Path, factor: float, width: int = 2) -> StoredPlugin:
    source = write_gain(tmp_path, factor, width, name=f"gain_{factor}_{width}.py")
    return PluginStore(tmp_path / "store").put(source, "gain")


def test_a_used_plugin_renders_and_its_state_carries_it_to_another_renderer(
    tmp_path: Path,
) -> None:
    stored = _stored(tmp_path, 1.0)
    renderer = Renderer(RATE, BLOCK)
    _chain(renderer, stored)
    _render(renderer, 8)
    assert renderer.error_count == 0 and renderer.plugins == {
        "gain": (stored.version, stored.path, "inline")
    }
    state = pickle.loads(pickle.dumps(renderer.state()))
    runtime.forget("gain")  # a fresh process would not know it either
    clone = Renderer(RATE, BLOCK)
    clone.load_state(state)
    a, b = _render(renderer, 16), _render(clone, 16)
    assert np.abs(a).max() > 0.05
    assert np.array_equal(a, b), "the hand-over of a plugin's modules is bit for bit"


def test_a_new_version_swaps_every_module_keeping_parameters_and_state(tmp_path: Path) -> None:
    old, new = _stored(tmp_path, 1.0), _stored(tmp_path, 0.25)
    renderer = Renderer(RATE, BLOCK)
    _chain(renderer, old)
    reference = Renderer(RATE, BLOCK)
    _chain(reference, old)
    _render(renderer, 8)
    _render(reference, 8)
    counted = renderer.graph.modules["g"].memory[0]  # type: ignore[attr-defined]
    renderer.schedule(renderer.position + 10, _use(new))
    swapped, kept = _render(renderer, 8), _render(reference, 8)
    module = renderer.graph.modules["g"]
    assert module.param("amount") == 1.5, "parameters are kept"
    assert module.memory[0] == counted + 8 * BLOCK, "state is kept"  # type: ignore[attr-defined]
    assert np.array_equal(swapped[:10], kept[:10]), "the old code plays until the stamp"
    assert np.allclose(swapped[BLOCK:], 0.25 * kept[BLOCK:], atol=1e-6), "then the new"
    assert renderer.error_count == 0


def test_a_version_whose_state_does_not_fit_keeps_the_parameters(tmp_path: Path) -> None:
    old, wider = _stored(tmp_path, 1.0), _stored(tmp_path, 1.0, width=3)
    renderer = Renderer(RATE, BLOCK)
    _chain(renderer, old)
    _render(renderer, 4)
    renderer.schedule(renderer.position, _use(wider))
    _render(renderer, 1)
    module = renderer.graph.modules["g"]
    assert module.memory.shape == (3,)  # type: ignore[attr-defined]
    assert module.memory[0] == BLOCK  # type: ignore[attr-defined]
    assert module.param("amount") == 1.5


def test_a_module_bypassed_for_its_errors_plays_again_once_its_fix_is_in_use(
    tmp_path: Path,
) -> None:
    store = PluginStore(tmp_path / "store")
    broken = store.put(write_gain(tmp_path, name="broken.py", text=RAISING), "gain")
    fixed = _stored(tmp_path, 1.0)
    renderer = Renderer(RATE, BLOCK)
    _chain(renderer, broken)
    _render(renderer, SUSPEND_AFTER_ERRORS + 2)
    assert renderer.graph.suspended == ["g"]
    still_broken = pickle.loads(pickle.dumps(renderer.state()))
    renderer.schedule(renderer.position, _use(fixed))
    _render(renderer, 1)
    assert renderer.graph.suspended == []
    assert renderer.graph.modules["g"].param("amount") == 1.5
    errors = renderer.graph.module_error_count
    bypassed = Renderer(RATE, BLOCK)
    bypassed.load_state(still_broken)
    _render(bypassed, 1)
    played, passed_through = _render(renderer, 8), _render(bypassed, 8)
    assert renderer.graph.module_error_count == errors, "the fixed version raises no more"
    assert np.abs(played).max() > 0.05
    assert not np.array_equal(played, passed_through), "the fixed module is heard"


def test_a_forgotten_type_can_no_longer_be_made(tmp_path: Path) -> None:
    stored = _stored(tmp_path, 1.0)
    renderer = Renderer(RATE, BLOCK)
    renderer.schedule(0, _use(stored))
    renderer.schedule(0, _m("/plugins/forget", "gain"))
    renderer.schedule(0, _m("/patch/create", "g", "gain"))
    _render(renderer, 1)
    assert "gain" not in catalog.MODULE_TYPES and renderer.plugins == {}
    assert renderer.error_count == 1 and "g" not in renderer.graph.modules


def test_prepare_imports_and_warms_without_putting_it_in_use(tmp_path: Path) -> None:
    stored = _stored(tmp_path, 1.0)
    errors = runtime.prepare("gain", stored.version, stored.path, RATE, BLOCK)
    assert errors == []
    assert ("gain", stored.version) in runtime.imported()
    assert "gain" not in catalog.MODULE_TYPES, "only a stamped /plugins/use puts it in use"


def test_built_in_types_cannot_be_forgotten() -> None:
    with pytest.raises(ValueError, match="built in"):
        catalog.unregister("saw")
    assert "saw" in catalog.MODULE_TYPES
