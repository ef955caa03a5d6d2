"""Routing, mix and modulation: chains, solo/mute, fades, lfos, invariance, allocation."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import numpy.typing as npt
import pytest

from chronus.dsp.filters import Acid
from chronus.dsp.graph import FADE_OUT_MS
from chronus.dsp.lfo import GRID, Lfo
from chronus.dsp.patch import Patch, PatchError
from chronus.dsp.render import Renderer, render_offline
from chronus.protocol import Message, validate
from tests.dsp.allocation import Traced, assert_allocates_nothing, least_peak, traced
from tests.dsp.chunks import (
    assert_block_size_invariant,
    assert_hand_over_bit_identical,
    rendered,
)

SR = 48000
Commands = list[tuple[int, Message]]


def m(address: str, *args: object) -> Message:
    return validate(address, args)


def chain(*ids_types: tuple[str, str], at: int = 0) -> Commands:
    """Create modules and connect them in a row ending at master."""
    cmds = [(at, m("/patch/create", mid, kind)) for mid, kind in ids_types]
    ids = [mid for mid, _ in ids_types] + ["master"]
    cmds += [(at, m("/patch/connect", a, b)) for a, b in itertools.pairwise(ids)]
    return cmds


def acid_song() -> Commands:
    """saw → acid → lowpass → master with an lfo on the lowpass cutoff, notes mid-block."""
    cmds = chain(("bass", "saw"), ("squelch", "acid"), ("lp", "lowpass"))
    cmds += [
        (0, m("/patch/create", "wob", "lfo")),
        (0, m("/mod/wob/rate", 7.3)),
        (0, m("/mod/wob/depth", 0.4)),
        (0, m("/patch/modulate", "wob", "lp", "cutoff")),
        (0, m("/mod/lp/cutoff", 2500)),
        (0, m("/mod/squelch/res", 0.8)),
    ]
    cmds += [(77 + 1499 * j, m("/note/bass", 36 + (j * 7) % 12, 80 + 9 * (j % 5), 0.02))
             for j in range(14)]  # fmt: skip
    cmds += [
        (3001, m("/patch/create", "wub", "lfo")),
        (3001, m("/mod/wub/shape", 4)),
        (3001, m("/mod/wub/sync", 0.25)),
        (3003, m("/patch/modulate", "wub", "squelch", "cutoff")),
        (5005, m("/mod/squelch/cutoff", 900)),
        (7007, m("/tempo", 140)),
        (9009, m("/patch/create", "hat", "hat")),
        (9009, m("/patch/connect", "hat", "lp")),
        (9100, m("/note/hat", 60, 110)),
        (9300, m("/patch/connect", "hat", "master")),  # fan-out: the new route fades in
        (10150, m("/note/hat", 60, 110)),
        (10173, m("/patch/disconnect", "hat", "lp")),  # mid-block: fades out
        (10211, m("/patch/disconnect", "bass", "squelch")),  # mid-block, one route: fades out
        (10519, m("/patch/connect", "bass", "squelch")),  # mid-fade: fades back in
        (10777, m("/patch/disconnect", "hat", "master")),
        (11111, m("/mod/bass/mute", 1)),
        (12345, m("/mod/bass/mute", 0)),
        (14001, m("/patch/remove", "wob")),
        (16003, m("/patch/remove", "squelch")),
    ]
    return cmds


FRAMES = 20000


def test_chain_with_lfo_is_block_size_invariant() -> None:
    cmds = acid_song()
    assert_block_size_invariant(cmds, FRAMES, SR)


def test_chain_state_hand_over_is_bit_identical() -> None:
    a = rendered(acid_song(), 43, 100)  # mid-way: both lfos and a smoothing ramp in flight
    assert_hand_over_bit_identical(a, a.state())


def test_processor_output_goes_through_the_chain() -> None:
    note = [(100, m("/note/s", 45, 100, 0.2))]
    dry = render_offline([*chain(("s", "saw")), *note], 9600)
    dark = render_offline([*chain(("s", "saw"), ("f", "lowpass")), (0, m("/mod/f/cutoff", 150)),
                           *note], 9600)  # fmt: skip
    unrouted = render_offline(
        [(0, m("/patch/create", "s", "saw")), (0, m("/patch/create", "f", "lowpass")),
         (0, m("/patch/connect", "s", "f")), *note], 9600,
    )  # fmt: skip
    assert not unrouted.any()  # the filter reaches nothing
    assert np.abs(dark).max() > 0.01

    def brightness(audio: npt.NDArray[np.float32]) -> float:
        x = audio[:, 0].astype(np.float64)
        return float(np.sum(np.diff(x) ** 2) / np.sum(x**2))

    assert brightness(dark) < 0.2 * brightness(dry)


def test_fan_out_sums_into_every_destination() -> None:
    base = [*chain(("s", "sine")), (0, m("/patch/create", "f", "highpass")),
            (0, m("/mod/f/cutoff", 20)), (100, m("/note/s", 69, 100))]  # fmt: skip
    once = render_offline(base, 4800)
    twice = render_offline(
        [*base, (0, m("/patch/connect", "s", "f")), (0, m("/patch/connect", "f", "master"))], 4800
    )
    ratio = np.abs(twice[3000:]).max() / np.abs(once[3000:]).max()
    assert ratio == pytest.approx(2.0, rel=0.02)


def test_notes_reach_processors_downstream() -> None:
    renderer = Renderer(SR, 128)
    for sample, msg in [*chain(("s", "saw"), ("a", "acid")), (0, m("/patch/create", "b", "acid"))]:
        renderer.schedule(sample, msg)
    renderer.schedule(10, m("/note/s", 40, 120, 0.1))
    renderer.render(np.zeros((128, 2), dtype=np.float32), 128)
    routed, unrouted = renderer.graph.modules["a"], renderer.graph.modules["b"]
    assert isinstance(routed, Acid) and isinstance(unrouted, Acid)
    assert routed.state()["env"][0] > 1.0  # accented
    assert unrouted.state()["env"][0] == 0.0


def test_tempo_reaches_modules_at_creation_and_on_change() -> None:
    renderer = Renderer(SR, 128)
    renderer.schedule(0, m("/tempo", 90))
    renderer.schedule(0, m("/patch/create", "l", "lfo"))
    renderer.schedule(0, m("/mod/l/sync", 0.5))
    renderer.render(np.zeros((128, 2), dtype=np.float32), 128)
    lfo = renderer.graph.modules["l"]
    assert isinstance(lfo, Lfo)
    assert lfo.increment == pytest.approx(90.0 / 60.0 / 0.5 / SR)
    renderer.schedule(128, m("/tempo", 150))
    renderer.render(np.zeros((128, 2), dtype=np.float32), 128)
    assert lfo.increment == pytest.approx(150.0 / 60.0 / 0.5 / SR)


# -- mix ----------------------------------------------------------------------------------


def two_voices() -> Commands:
    return [
        *chain(("a", "saw"), ("fa", "lowpass")),
        *chain(("b", "sine")),
        (0, m("/mod/a/volume", -12)),
        (0, m("/mod/b/volume", -12)),
        (50, m("/note/a", 45, 100)),
        (50, m("/note/b", 69, 100)),
    ]


def test_solo_plays_only_the_soloed_paths() -> None:
    only_a = render_offline(
        [c for c in two_voices() if "/b" not in c[1].address and "b" not in c[1].args], 4800
    )
    for soloed in ("a", "fa"):  # soloing a source or the filter it feeds: the chain plays
        out = render_offline([*two_voices(), (0, m(f"/mod/{soloed}/solo", 1))], 4800)
        np.testing.assert_array_equal(out, only_a)
    both = render_offline([*two_voices(), (0, m("/mod/a/solo", 1)), (0, m("/mod/b/solo", 1))],
                          4800)  # fmt: skip
    np.testing.assert_array_equal(both, render_offline(two_voices(), 4800))


def max_step(audio: npt.NDArray[np.float32]) -> float:
    return float(np.abs(np.diff(audio[:, 0].astype(np.float64))).max())


def test_mute_fades_out_and_back_in() -> None:
    sine = [*chain(("b", "sine")), (0, m("/note/b", 69, 127))]
    out = render_offline([*sine, (10000, m("/mod/b/mute", 1)), (20000, m("/mod/b/mute", 0))],
                         30000)  # fmt: skip
    ref = max_step(render_offline(sine, 10000)[2000:])
    assert max_step(out[2000:]) <= ref * 1.01  # no click: never faster than the sine itself
    assert np.abs(out[10000 + 960 : 20000]).max() < 0.011 * np.abs(out[:10000]).max()
    assert not out[10000 + 4800 : 20000].any()
    assert np.abs(out[22000:]).max() > 0.1


def test_removed_module_fades_out() -> None:
    fade = round(FADE_OUT_MS * SR / 1000)
    for cmds in (
        [*chain(("s", "sine")), (0, m("/note/s", 69, 127))],
        [*chain(("s", "sine"), ("f", "lowpass")), (0, m("/note/s", 69, 127))],
    ):
        ref = max_step(render_offline(cmds, 10000)[2000:])
        target = cmds[-2][1].args[0]  # the last module before master
        for at in (10000, 10037):
            out = render_offline([*cmds, (at, m("/patch/remove", target))], 20000, block=128)
            assert max_step(out[2000:]) <= ref * 1.01
            assert np.abs(out[at + fade - 100 : at + fade]).max() < 2e-3
            assert np.abs(out[at + fade - 100 : at + fade]).max() > 0.0
            assert not out[at + fade :].any()


FADE = round(FADE_OUT_MS * SR / 1000)


def held(kind: str) -> Commands:
    return [*chain(("s", kind)), (0, m("/note/s", 57, 127))]


Floats = npt.NDArray[np.float64]


def route_gain(out: npt.NDArray[np.float32], ref: npt.NDArray[np.float32], start: int,
               stop: int) -> tuple[Floats, Floats]:  # fmt: skip
    """The gain `out / ref` over `[start, stop)` where `ref` is loud enough, and its change
    per sample between those samples."""
    x, y = out[start:stop, 0].astype(np.float64), ref[start:stop, 0].astype(np.float64)
    loud = np.abs(y) > 0.05
    assert loud.sum() > (stop - start) // 2
    gain: Floats = x[loud] / y[loud]
    return gain, np.diff(gain) / np.diff(np.flatnonzero(loud))


@pytest.mark.parametrize("kind", ["saw", "sine"])
def test_disconnected_route_fades_out(kind: str) -> None:
    ref = render_offline(held(kind), 20000, block=128)
    assert np.abs(ref).max() < 0.9  # below the limiter: out / ref is the route gain
    threshold = max_step(ref[2000:10000]) * 1.01  # as test_removed_module_fades_out
    for at in (10000, 10037):
        out = render_offline([*held(kind), (at, m("/patch/disconnect", "s", "master"))], 20000,
                             block=128)  # fmt: skip
        np.testing.assert_array_equal(out[:at], ref[:at])
        assert max_step(out[2000:]) <= threshold
        gain, change = route_gain(out, ref, at, at + FADE)
        assert 0.8 < gain[0] < 1.0  # it starts at once, from (near) full level …
        assert np.all(change < 1e-6)  # … falls steadily …
        assert np.all(change > -0.006)  # … never by more than 0.6 % a sample …
        assert gain[-1] < 2e-3  # … to −54 dB or below
        assert np.abs(out[at + FADE - 100 : at + FADE]).max() < 2e-3
        assert np.abs(out[at + FADE - 100 : at + FADE]).max() > 0.0
        assert not out[at + FADE :].any()


def test_disconnect_forgets_the_connection_at_once() -> None:
    renderer = Renderer(SR, 128)
    for sample, msg in held("saw"):
        renderer.schedule(sample, msg)
    out = np.zeros((128, 2), dtype=np.float32)
    for _ in range(10):
        renderer.render(out, 128)
    renderer.schedule(renderer.position, m("/patch/disconnect", "s", "master"))
    renderer.render(out, 128)
    assert renderer.graph.patch.connections == []
    assert renderer.graph.patch.audible() == []
    assert np.abs(out).max() > 0.1  # still fading
    with pytest.raises(PatchError, match="not connected"):
        renderer.graph.apply(m("/patch/disconnect", "s", "master"))


@pytest.mark.parametrize("gap", [FADE + 3000, 500])  # after the fade, and in the middle of it
def test_reconnected_route_fades_in(gap: int) -> None:
    ref = render_offline(held("saw"), 30000, block=128)
    threshold = max_step(ref[2000:10000]) * 1.01
    at = 10000 + gap
    out = render_offline([*held("saw"), (10000, m("/patch/disconnect", "s", "master")),
                          (at, m("/patch/connect", "s", "master"))], 30000, block=128)  # fmt: skip
    assert max_step(out[2000:]) <= threshold
    gain, change = route_gain(out, ref, at, at + 4800)
    assert np.all(change > -1e-6)  # rises steadily from where it was …
    assert np.all(change < 0.006)
    if gap > FADE:
        assert not out[10000 + FADE : at].any()
        assert gain[0] < 0.01  # … from silence
    else:
        assert 0.05 < gain[0] < 0.2  # … from the middle of the fade-out, without a jump
    assert gain[-1] > 0.99
    np.testing.assert_array_equal(out[at + 9600 :], ref[at + 9600 :])  # exactly back


def test_added_route_of_a_sounding_module_fades_in() -> None:
    base = [*held("sine"), (0, m("/patch/create", "f", "highpass")), (0, m("/mod/f/cutoff", 20)),
            (0, m("/patch/connect", "f", "master"))]  # fmt: skip
    twice = render_offline([*base, (0, m("/patch/connect", "s", "f"))], 20000)
    out = render_offline([*base, (10011, m("/patch/connect", "s", "f"))], 20000)
    assert max_step(out[2000:]) <= max_step(twice[5000:]) * 1.01
    assert max_step(out[10000:10100]) < 0.6 * max_step(twice[5000:])  # not at once


def test_route_fades_hand_over_bit_identically() -> None:
    cmds = [*held("saw"), (0, m("/patch/create", "f", "lowpass")), (0, m("/mod/f/cutoff", 900)),
            (0, m("/patch/connect", "f", "master")), (0, m("/patch/connect", "s", "f")),
            (5000, m("/patch/disconnect", "s", "f")), (5001, m("/patch/create", "t", "sine")),
            (5001, m("/note/t", 64, 100)), (5003, m("/patch/connect", "t", "f")),
            (5003, m("/patch/connect", "t", "master")),
            (5005, m("/patch/disconnect", "s", "master")),
            (5600, m("/patch/connect", "s", "master"))]  # fmt: skip
    a = rendered(cmds, 52, 100)  # to 5200: two routes fading out, two fading in
    state = a.state()
    routes = {(r[0], r[1]): r for r in state["graph"]["routes"]}
    assert routes[("s", "f")][3] > 0 and routes[("s", "master")][3] > 0
    assert 0.0 < routes[("t", "f")][2] < 1.0 and routes[("s", "f")][2] < 1.0
    assert routes[("f", "master")] == ["f", "master", 1.0, -1]
    played = assert_hand_over_bit_identical(a, state)
    assert np.abs(played[-128:]).max() > 0.05


@pytest.mark.parametrize(
    "route",
    [["s", "s", 1.0, -1], ["s", "x", 1.0, 5], ["x", "master", 1.0, -1], ["s", "f", 1.0, 5],
     ["s", "master", float("nan"), -1], ["s", "master", 1.0, 0], ["s", "nobody", 1.0, 5],
     ["s", "master"]],
)  # fmt: skip
def test_bad_route_state_raises_and_changes_nothing(route: list[object]) -> None:
    renderer = Renderer(SR, 128)
    for sample, msg in [*held("saw"), (0, m("/patch/create", "x", "saw")),
                        (0, m("/patch/create", "f", "lowpass")),
                        (0, m("/patch/connect", "s", "f"))]:  # fmt: skip
        renderer.schedule(sample, msg)
    renderer.render(np.zeros((128, 2), dtype=np.float32), 128)
    state = renderer.graph.state()
    state["routes"] = [*state["routes"], route]
    before = renderer.graph.state()
    with pytest.raises(PatchError, match="invalid graph state"):
        renderer.graph.load_state(state)
    after = renderer.graph.state()
    assert after["routes"] == before["routes"] and after["patch"] == before["patch"]


# -- modulation -----------------------------------------------------------------------------


@pytest.fixture
def patch() -> Patch:
    p = Patch()
    for mid, kind in (("bass", "saw"), ("f", "acid"), ("wob", "lfo"), ("drums", "kick")):
        p.apply(m("/patch/create", mid, kind))
    p.apply(m("/patch/connect", "bass", "f"))
    p.apply(m("/patch/modulate", "wob", "f", "cutoff"))
    return p


BAD_MODULATIONS = [
    (("/patch/modulate", "bass", "f", "cutoff"), "not a modulation source"),
    (("/patch/modulate", "wob", "nobody", "cutoff"), "no module"),
    (("/patch/modulate", "wob", "f", "cutof"), "did you mean 'cutoff'"),
    (("/patch/modulate", "wob", "f", "mute"), "not continuous"),
    (("/patch/modulate", "wob", "bass", "attack"), "not continuous"),
    (("/patch/modulate", "wob", "drums", "tone"), "not continuous"),
    (("/patch/modulate", "wob", "wob", "rate"), "not continuous"),
    (("/patch/modulate", "wob", "f", "cutoff"), "already modulates"),
    (("/patch/modulate", "ghost", "f", "cutoff"), "no module"),
    (("/patch/connect", "wob", "master"), "modulate"),
    (("/patch/connect", "bass", "drums"), "no input"),
]


@pytest.mark.parametrize(("msg", "text"), BAD_MODULATIONS)
def test_bad_modulation_raises_and_changes_nothing(
    patch: Patch, msg: tuple[object, ...], text: str
) -> None:
    before = patch.to_dict()
    with pytest.raises(PatchError, match=text):
        patch.apply(m(str(msg[0]), *msg[1:]))
    assert patch.to_dict() == before


def test_modulations_round_trip_and_follow_removal(patch: Patch) -> None:
    patch.apply(m("/patch/modulate", "wob", "bass", "resonance"))  # alias resolved
    patch.apply(m("/patch/create", "wub", "lfo"))
    patch.apply(m("/patch/modulate", "wub", "f", "cutoff"))
    assert patch.modulations == [("wob", "f", "cutoff"), ("wob", "bass", "res"),
                                 ("wub", "f", "cutoff")]  # fmt: skip
    assert Patch.from_dict(patch.to_dict()) == patch
    assert patch.copy() == patch
    patch.apply(m("/patch/remove", "f"))
    assert patch.modulations == [("wob", "bass", "res")]
    patch.apply(m("/patch/remove", "wob"))
    assert patch.modulations == []


def test_modulation_leaves_the_set_value_and_ends_with_the_lfo() -> None:
    renderer = Renderer(SR, 128)
    cmds = [*chain(("s", "saw"), ("f", "lowpass")), (0, m("/patch/create", "l", "lfo")),
            (0, m("/mod/l/shape", 3)), (0, m("/mod/l/depth", 0.2)), (0, m("/mod/f/cutoff", 1000)),
            (0, m("/patch/modulate", "l", "f", "cutoff"))]  # fmt: skip
    for sample, msg in cmds:
        renderer.schedule(sample, msg)
    out = np.zeros((128, 2), dtype=np.float32)
    renderer.render(out, 128)
    f = renderer.graph.modules["f"]
    assert f.param("cutoff") == 1000.0
    assert renderer.graph.patch.modules["f"]["params"]["cutoff"] == 1000.0
    # square at depth 0.2: up by a tenth of the 20–20000 Hz range, in octaves
    assert f.current("cutoff") == pytest.approx(1000.0 * 1000.0**0.1)
    renderer.schedule(128, m("/patch/remove", "l"))
    renderer.render(out, 128)
    assert f.current("cutoff") == 1000.0


def test_lfo_shapes() -> None:
    def values(shape: int) -> list[float]:
        lfo = Lfo(SR, 128)
        lfo.set_param("shape", shape)
        lfo.set_param("rate", SR / GRID / 40)  # 40 ticks per cycle
        return [round(lfo.tick(), 6) for _ in range(40)][::5]

    h = round(np.sqrt(0.5), 6)
    assert values(0) == [0.0, h, 1.0, h, 0.0, -h, -1.0, -h]
    assert values(1) == [0.0, 0.5, 1.0, 0.5, 0.0, -0.5, -1.0, -0.5]
    assert values(2) == [-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75]
    assert values(3) == [1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0]
    random = values(4)
    assert random == values(4) and len(set(random)) == 1  # held for a whole cycle


def test_render_with_chain_and_lfo_allocates_nothing_after_warm_up() -> None:
    renderer = Renderer(SR, 128)
    assert renderer.warm_up() == []
    for sample, msg in acid_song()[:8]:
        renderer.schedule(sample, msg)
    renderer.schedule(0, m("/patch/create", "k", "kick"))
    renderer.schedule(0, m("/patch/connect", "k", "lp"))
    renderer.schedule(0, m("/patch/connect", "k", "master"))  # fan-out
    renderer.schedule(0, m("/note/bass", 40, 100))
    out = np.zeros((128, 2), dtype=np.float32)
    sizes = itertools.cycle((100, 128))
    assert_allocates_nothing(lambda: renderer.render(out, next(sizes)))
    assert renderer.error_count == 0


def _within_three_fades() -> Traced:
    renderer = Renderer(SR, 128)
    assert renderer.warm_up() == []
    for sample, msg in acid_song()[:6]:
        renderer.schedule(sample, msg)
    renderer.schedule(0, m("/note/bass", 40, 100))
    renderer.schedule(0, m("/patch/connect", "bass", "master"))
    out = np.zeros((128, 2), dtype=np.float32)
    for _ in range(40):
        renderer.render(out, 128)
    renderer.schedule(renderer.position + 5, m("/patch/disconnect", "bass", "master"))
    renderer.schedule(renderer.position + 5, m("/patch/disconnect", "lp", "master"))
    renderer.schedule(renderer.position + 5, m("/patch/connect", "squelch", "master"))
    renderer.render(out, 128)

    def render_ten() -> None:
        for i in range(10):  # within the fades: 1280 samples < FADE
            renderer.render(out, 128 if i % 2 else 100)

    result = traced(render_ten)
    assert renderer.error_count == 0
    routes = renderer.graph.state()["routes"]
    assert sum(0 < r[2] < 1 for r in routes) == 3  # all three still fading
    return result


def test_route_fades_allocate_nothing() -> None:
    result = least_peak(_within_three_fades, 16384)
    assert result.held < 2048, result.sites
    assert result.peak < 16384, result.sites


def test_warm_up_compiles_the_filter_and_routing_kernels() -> None:
    code = (
        "from chronus.dsp import effect_kernels as ek, filter_kernels as fk, kernels, strips\n"
        "from chronus.dsp.render import Renderer\n"
        "assert Renderer(48000, 128).warm_up() == []\n"
        "for k in (fk.svf_block, fk.acid_block, strips.strip_mono, strips.strip_stereo,\n"
        "          strips.add_faded, strips.zero_block, fk.svf_mono, fk.acid_mono,\n"
        "          ek.distortion_mono, ek.delay_mono, kernels.same_values):\n"
        "    assert k.signatures, k\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_end_of_a_fade_allocates_nothing_in_render() -> None:
    renderer = Renderer(SR, 128)
    out = np.zeros((128, 2), dtype=np.float32)

    def past_two_fades() -> Traced:
        nonlocal renderer
        renderer = Renderer(SR, 128)
        assert renderer.warm_up() == []
        for msg in (
            m("/patch/create", "bass", "saw"),
            m("/patch/connect", "bass", "master"),
            m("/patch/create", "lp", "lowpass"),
            m("/patch/connect", "lp", "master"),
            m("/patch/create", "pad", "sine"),
            m("/patch/connect", "pad", "lp"),
            m("/note/bass", 40, 100),
            m("/note/pad", 52, 100),
        ):
            renderer.schedule(0, msg)
        for _ in range(40):
            renderer.render(out, 128)
        renderer.schedule(renderer.position + 5, m("/patch/remove", "bass"))
        renderer.schedule(renderer.position + 5, m("/patch/disconnect", "pad", "lp"))
        renderer.render(out, 128)

        def render_forty() -> None:
            for _ in range(40):  # 5120 samples: well past both fades
                renderer.render(out, 128)

        return traced(render_forty)

    result = least_peak(past_two_fades, 1200)
    # Rebuilding the routing when the fades ended used to allocate ~2.2 KB here.
    assert result.held < 256, result.sites
    assert result.peak < 1200, result.sites
    assert not out.any()  # both routes faded to nothing
    renderer.schedule(renderer.position, m("/patch/connect", "pad", "master"))
    renderer.render(out, 128)  # the next command drops what had faded out
    routes = renderer.graph.state()["routes"]
    assert [r[:2] for r in routes] == [["lp", "master"], ["pad", "master"]]


def test_hand_over_mid_fade_of_a_removed_module_is_bit_identical() -> None:
    cmds = [
        *chain(("lead", "saw"), ("f", "lowpass")),
        (0, m("/note/lead", 57, 100)),
        (3000, m("/patch/remove", "f")),
        (3000, m("/patch/create", "f", "sine")),  # the id is taken again while the old fades
        (3000, m("/patch/connect", "f", "master")),
        (3000, m("/note/f", 64, 100)),
    ]
    a = rendered(cmds, 31, 100)  # to 3100: the removed filter is 100 samples into its fade
    state = a.state()
    assert [entry[0] for entry in state["graph"]["removing"]] == ["f"]
    assert any(route[0] == "~0" for route in state["graph"]["routes"])
    played = assert_hand_over_bit_identical(a, state, blocks=30)
    assert np.abs(played[-128:]).max() > 0.05
