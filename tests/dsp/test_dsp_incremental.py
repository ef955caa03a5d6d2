"""The graph keeps its routing up to date one command at a time: after any sequence of
creates, connects, cuts, removals, solos, mutes and modulations, what it keeps equals what a
full recomputation from the patch gives, and a hand-over carries its render order."""

from __future__ import annotations

import random

import numpy as np
import pytest

from chronus.dsp.graph import Graph
from chronus.dsp.patch import Patch, PatchError
from chronus.dsp.render import Renderer
from chronus.dsp.routing import Node
from chronus.protocol import MASTER, Message, validate
from tests.dsp.chunks import assert_hand_over_bit_identical

SR = 48000
TYPES = ("saw", "kick", "acid", "lowpass", "distortion", "delay", "lfo")
PROCESSORS = ("acid", "lowpass", "distortion", "delay")


def m(address: str, *args: object) -> Message:
    return validate(address, args)


def _walk(rng: random.Random, graph: Graph) -> Message | int:
    """A next step of a random session: mostly a command that makes sense for the patch as
    it is (so that chains, fan-outs, cuts and removals all happen), sometimes any command
    (which may be refused), sometimes a render of a few samples (an int)."""
    patch = graph.patch
    ids = list(patch.modules)
    sounds = [i for i in ids if patch.modules[i]["type"] != "lfo"]
    procs = [i for i in ids if patch.modules[i]["type"] in PROCESSORS]
    lfos = [i for i in ids if patch.modules[i]["type"] == "lfo"]
    roll = rng.random()
    if roll < 0.1:
        return rng.randint(1, 700)
    if roll < 0.3 or not sounds:
        return m("/patch/create", f"m{rng.randrange(12)}", rng.choice(TYPES))
    if roll < 0.6:
        return m("/patch/connect", rng.choice(sounds), rng.choice([*procs, MASTER]))
    if roll < 0.7 and patch.connections:
        return m("/patch/disconnect", *rng.choice(patch.connections))
    if roll < 0.78:
        return m("/patch/remove", rng.choice(ids))
    if roll < 0.84 and lfos:
        return m("/patch/modulate", rng.choice(lfos), rng.choice(sounds), "volume")
    if roll < 0.92:
        return m(f"/mod/{rng.choice(sounds)}/solo", rng.randint(0, 1))
    return m(f"/mod/{rng.choice(sounds)}/mute", rng.randint(0, 1))


def _patch_reaches(patch: Patch, a: str, b: str) -> bool:
    return patch.reaches(a, b)


def _check(graph: Graph) -> None:
    """Everything the graph keeps, against a recomputation from its patch."""
    patch = graph.patch
    routing = graph._routing
    order = routing.order
    place = {node: i for i, node in enumerate(order)}
    assert [node.rank for node in order] == sorted(node.rank for node in order)
    assert len(set(place)) == len(order)
    for (src, dst), route in routing.routes.items():
        assert route.src is src and route.dst is dst
        assert route in src.routes
        if dst is not None:
            assert route in dst.inputs
            assert place[src] < place[dst], "a node renders before one it feeds"
    nodes = graph._nodes
    assert set(nodes) == {mid for mid, e in patch.modules.items() if e["type"] != "lfo"}
    assert set(order) == set(nodes.values()) | set(graph._removing)
    in_patch = {
        (r.src.module_id, MASTER if r.dst is None else r.dst.module_id)
        for r in routing.routes.values()
        if r.in_patch
    }
    assert in_patch == set(patch.connections)
    soloed = [mid for mid in nodes if patch.modules[mid]["params"]["solo"] >= 0.5]
    for mid, node in nodes.items():
        reached = [
            other
            for oid, other in nodes.items()
            if oid != mid and other.processor and _patch_reaches(patch, mid, oid)
        ]
        assert sorted(map(id, node.downstream)) == sorted(map(id, reached)), mid
        heard = patch.modules[mid]["params"]["mute"] < 0.5
        if heard and soloed:
            heard = any(
                _patch_reaches(patch, mid, s) or _patch_reaches(patch, s, mid) for s in soloed
            )
        assert node.level == (1.0 if heard else 0.0), mid
    wanted: dict[tuple[str, str], list[str]] = {}
    for src, dst, name in patch.modulations:
        wanted.setdefault((dst, name), []).append(src)
    kept = {
        key: [next(i for i, mod in graph.modules.items() if mod is lfo) for lfo in t.sources]
        for key, t in graph._target_index.items()
    }
    assert kept == wanted
    assert graph._targets == list(graph._target_index.values())


@pytest.mark.parametrize("seed", range(60))
def test_kept_routing_equals_a_recomputation(seed: int) -> None:
    rng = random.Random(seed)
    renderer = Renderer(SR, 128)
    out = np.zeros((128, 2), dtype=np.float32)
    applied = 0
    for _ in range(150):
        step = _walk(rng, renderer.graph)
        if isinstance(step, int):
            while step > 0:
                renderer.render(out, min(128, step))
                step -= 128
            continue
        before = renderer.graph.state()["patch"]
        try:
            renderer.graph.apply(step)
            applied += 1
        except PatchError:
            assert renderer.graph.state()["patch"] == before  # refused: nothing changed
        _check(renderer.graph)
    assert applied > 60
    state = renderer.state()
    other = Renderer(SR, 128)
    other.load_state(state)
    _check(other.graph)
    assert other.graph.state()["order"] == state["graph"]["order"]
    assert_hand_over_bit_identical(renderer, state, blocks=4)


def test_a_route_against_the_order_moves_only_what_it_must() -> None:
    graph = Graph(SR, 128)
    for mid, kind in (("a", "saw"), ("x", "lowpass"), ("b", "acid"), ("c", "distortion")):
        graph.apply(m("/patch/create", mid, kind))
    graph.apply(m("/patch/connect", "c", "b"))  # c was made after b: c moves before it
    ids = [node.module_id for node in graph._routing.order]
    assert ids == ["a", "x", "c", "b"]
    graph.apply(m("/patch/connect", "b", "x"))  # x must follow b, and so c before them
    ids = [node.module_id for node in graph._routing.order]
    assert ids.index("c") < ids.index("b") < ids.index("x")
    assert ids[0] == "a"


def test_hand_over_keeps_an_order_history_made() -> None:
    """Two sources add into one filter; the order they render in decides how the sum rounds,
    and it comes from the order of the commands, so the hand-over must carry it."""
    cmds = [
        (0, m("/patch/create", "f", "lowpass")),
        (0, m("/patch/create", "b", "saw")),
        (0, m("/patch/create", "a", "square")),
        (0, m("/patch/connect", "f", "master")),
        (0, m("/patch/connect", "a", "f")),
        (0, m("/patch/connect", "b", "f")),
        (0, m("/note/a", 50, 100)),
        (0, m("/note/b", 57, 100)),
    ]
    renderer = Renderer(SR, 128)
    for sample, message in cmds:
        renderer.schedule(sample, message)
    out = np.zeros((128, 2), dtype=np.float32)
    for _ in range(10):
        renderer.render(out, 128)
    state = renderer.state()
    assert state["graph"]["order"] == ["a", "b", "f"]  # a moved ahead of f when connected
    older = {key: value for key, value in state["graph"].items() if key != "order"}
    recomputed = Renderer(SR, 128)
    recomputed.load_state({**state, "graph": older})  # what a full re-sort would give
    assert recomputed.graph.state()["order"] == ["b", "a", "f"]
    assert_hand_over_bit_identical(renderer, state, blocks=20)


def test_node_ranks_stay_sorted_through_removals() -> None:
    graph = Graph(SR, 128)
    for i in range(20):
        graph.apply(m("/patch/create", f"s{i}", "saw"))
        graph.apply(m("/patch/create", f"f{i}", "lowpass"))
        graph.apply(m("/patch/connect", f"f{i}", "master"))
        graph.apply(m("/patch/connect", f"s{i}", f"f{i}"))
    for i in range(0, 20, 3):
        graph.apply(m("/patch/remove", f"f{i}"))
    order = graph._routing.order
    assert all(isinstance(node, Node) for node in order)
    assert [n.rank for n in order] == sorted(n.rank for n in order)
    _check(graph)
