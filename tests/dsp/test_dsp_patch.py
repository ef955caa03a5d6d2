"""Patch validation: bad input raises PatchError and changes nothing; clamping warns."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chronus.dsp.catalog import MODULE_TYPES, module_types, param_specs
from chronus.dsp.params import ParamSpec
from chronus.dsp.patch import Patch, PatchError
from chronus.protocol import Message, validate

# The effects (distortion, delay, reverb) are registered once they exist.
EFFECT_TYPES = {t for t in ("distortion", "delay", "reverb") if t in MODULE_TYPES}


def m(address: str, *args: object) -> Message:
    return validate(address, args)


@pytest.fixture
def patch() -> Patch:
    p = Patch()
    p.apply(m("/patch/create", "bass", "saw"))
    p.apply(m("/patch/create", "drums", "kick"))
    p.apply(m("/patch/connect", "bass", "master"))
    return p


def test_param_spec_clamp() -> None:
    spec = ParamSpec("cutoff", 2000.0, 20.0, 20000.0, "hz", 30.0)
    assert spec.clamp(800) == (800.0, False)
    assert spec.clamp(5.0) == (20.0, True)
    assert spec.clamp(1e9) == (20000.0, True)


def test_catalog_matches_spec_table() -> None:
    assert set(module_types()) == set(MODULE_TYPES) == {
        "saw", "sine", "square", "triangle", "noise", "pink", "kick", "snare", "hat",
        "lowpass", "highpass", "bandpass", "acid", "lfo",
    } | EFFECT_TYPES  # fmt: skip
    for name, cls in MODULE_TYPES.items():
        assert cls.TYPE == name
        assert cls.PARAMS == param_specs(name)
        names = [p.name for p in cls.PARAMS]
        if name != "lfo":
            assert {"volume", "pan", "mute", "solo"} <= set(names)
        for spec in cls.PARAMS:
            assert spec.minimum <= spec.default <= spec.maximum, (name, spec)
    with pytest.raises(PatchError, match="did you mean 'saw'"):
        param_specs("sawx")


def test_defaults_and_round_trip(patch: Patch) -> None:
    assert patch.modules["bass"]["params"]["cutoff"] == 2000.0
    data = json.loads(json.dumps(patch.to_dict()))
    assert data["connections"] == [["bass", "master"]]
    assert data["tempo"] == 120.0
    assert Patch.from_dict(data) == patch
    assert patch.copy() == patch


BAD = [
    (("/patch/create", "bass", "sine"), "already exists"),
    (("/patch/create", "lead", "sawz"), "did you mean 'saw'"),
    (("/patch/create", "master", "saw"), "output"),
    (("/patch/connect", "bas", "master"), "did you mean 'bass'"),
    (("/patch/connect", "bass", "nowhere"), "no module"),
    (("/patch/connect", "bass", "master"), "already connected"),
    (("/patch/connect", "bass", "bass"), "itself"),
    (("/patch/connect", "master", "bass"), "output"),
    (("/patch/disconnect", "drums", "master"), "not connected"),
    (("/patch/remove", "nobody"), "no module"),
    (("/mod/bass/cutof", 800), "did you mean 'cutoff'"),
    (("/mod/bas/cutoff", 800), "did you mean 'bass'"),
    (("/mod/drums/cutoff", 800), "has no parameter"),
    (("/gate/nobody", 1), "no module"),
    (("/note/nobody", 60, 100), "no module"),
    (("/engine/status",), "engine"),
]


@pytest.mark.parametrize(("msg", "text"), BAD)
def test_bad_message_raises_and_changes_nothing(
    patch: Patch, msg: tuple[object, ...], text: str
) -> None:
    before = patch.to_dict()
    with pytest.raises(PatchError, match=text):
        patch.apply(m(str(msg[0]), *msg[1:]))
    assert patch.to_dict() == before


def test_cycle_is_rejected(patch: Patch) -> None:
    patch.apply(m("/patch/create", "fx", "lowpass"))
    patch.apply(m("/patch/create", "fx2", "highpass"))
    patch.apply(m("/patch/connect", "drums", "fx"))
    patch.apply(m("/patch/connect", "fx", "fx2"))
    before = patch.to_dict()
    with pytest.raises(PatchError, match="loop"):
        patch.apply(m("/patch/connect", "fx2", "fx"))
    assert patch.to_dict() == before


def test_unvalidated_messages_are_checked_too(patch: Patch) -> None:
    before = patch.to_dict()
    for bad in (
        Message("/mod/bass/cutoff", (float("nan"),), {}),
        Message("/mod/bass/cutoff", ("loud",), {}),
        Message("/patch/create", ("x",), {}),
        Message("/tempo", (1000.0,), {}),
        Message("/nonsense", (), {}),
    ):
        with pytest.raises(PatchError):
            patch.apply(bad)
    assert patch.to_dict() == before


def test_clamping_warns(patch: Patch) -> None:
    warnings = patch.apply(m("/mod/bass/cutoff", 30000))
    assert warnings == ["bass.cutoff clamped to 20000 (range 20–20000 hz)"]
    assert patch.modules["bass"]["params"]["cutoff"] == 20000.0
    assert patch.apply(m("/mod/bass/resonance", 0.5)) == []  # alias resolved
    assert patch.modules["bass"]["params"]["res"] == 0.5


def test_other_messages(patch: Patch) -> None:
    patch.apply(m("/patch/connect", "drums", "master"))
    assert patch.audible() == ["bass", "drums"]
    patch.apply(m("/patch/disconnect", "bass", "master"))
    assert patch.audible() == ["drums"]
    patch.apply(m("/patch/remove", "drums"))
    assert patch.connections == [] and list(patch.modules) == ["bass"]
    before = patch.to_dict()
    for msg in (m("/gate/bass", 1), m("/note/bass", 60, 100, 0.5), m("/seq/stop"), m("/panic")):
        assert patch.apply(msg) == []
    assert patch.to_dict() == before
    patch.apply(m("/tempo", 90))
    assert patch.tempo == 90.0


def test_from_dict_rejects_bad_data() -> None:
    with pytest.raises(PatchError):
        Patch.from_dict({"modules": {"a": {"type": "nope", "params": {}}}})
    with pytest.raises(PatchError):
        Patch.from_dict({"modules": {"a": {"type": "saw", "params": {"zz": 1}}}})
    with pytest.raises(PatchError):
        Patch.from_dict({"modules": {}, "connections": [["a", "master"]]})


def test_patch_does_not_import_numba() -> None:
    code = "import sys, chronus.dsp.patch; assert 'numba' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_module_ceiling_refuses_a_create_and_changes_nothing() -> None:
    from chronus.dsp.patch import MAX_MODULES

    patch = Patch()
    for i in range(MAX_MODULES):
        patch.apply(m("/patch/create", f"m{i}", "lowpass"))
    before = patch.to_dict()
    with pytest.raises(PatchError, match=f"{MAX_MODULES} modules"):
        patch.apply(m("/patch/create", "one_more", "saw"))
    assert patch.to_dict() == before
    patch.apply(m("/patch/remove", "m0"))
    patch.apply(m("/patch/create", "one_more", "saw"))  # room again
