"""The live DSP graph: a `Patch` plus the module objects, routed and mixed to a limited master.

Routing: every sound module renders (a source mono, a processor stereo from its input
buffer), goes through its strip (volume in dB, equal-power pan, mute/solo, all smoothed) and
is added into each destination: a processor's input buffer or the master bus. Each route
has its own gain, so a new connection fades in and a cut one fades out. Modules run in a
topological order computed when the patch changes, never per block.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from chronus.dsp import kernels
from chronus.dsp.catalog import create_module
from chronus.dsp.crumbs import crumb_of
from chronus.dsp.kernels import approach, jit
from chronus.dsp.lfo import GRID, Lfo, modulated_value
from chronus.dsp.module import Module, Processor
from chronus.dsp.params import MIX_SMOOTHING_MS, ParamSpec, smoothing_coef
from chronus.dsp.patch import Patch, PatchError
from chronus.protocol import MASTER, Message, canonical_param

__all__ = ["FADE_OUT_MS", "LIMITER_THRESHOLD", "Graph", "pan_gains"]

LIMITER_THRESHOLD = 0.98
"""About −0.2 dBFS: the master never goes beyond this (nor, by a final clip, beyond 1)."""
LIMITER_RELEASE_MS = 250.0
SILENT_DB = -60.0
SQRT2 = math.sqrt(2.0)
FADE_OUT_MS = 30.0
"""A removed module (or a cut route) keeps playing this long while its strip (or route gain)
fades (−40 dB at 20 ms, −60 dB at 30 ms), then it is dropped."""

FloatArray = npt.NDArray[np.float64]


QUARANTINE_AFTER_ERRORS = 16
"""A module that raises in this many blocks in a row is quarantined."""


def pan_gains(volume_db: float, pan: float, stereo: bool = False) -> tuple[float, float]:
    """Left and right gains: the volume in dB with equal-power pan; -60 dB is silence.

    A mono source is panned (−3 dB per side at the centre); a `stereo` one (a processor's
    output) is balanced: both sides at full level in the centre, one side fading away
    (equal-power) as the other is favoured, so a chain of processors keeps its level.
    """
    level = 0.0 if volume_db <= SILENT_DB else 10.0 ** (volume_db / 20.0)
    angle = (pan + 1.0) * math.pi / 4.0
    left, right = math.cos(angle), math.sin(angle)
    if stereo:
        left, right = min(1.0, SQRT2 * left), min(1.0, SQRT2 * right)
    return level * left, level * right


@jit
def _gains(gain: FloatArray, target: FloatArray, coef: float) -> None:
    for c in range(2):
        gain[c] = approach(gain[c], target[c], coef)


@jit
def _put(dst: FloatArray, i: int, left: float, right: float, gain: FloatArray, add: bool) -> int:
    bad = 0
    if not math.isfinite(left):
        left = 0.0
        bad += 1
    if not math.isfinite(right):
        right = 0.0
        bad += 1
    if add:
        dst[i, 0] += left * gain[0]
        dst[i, 1] += right * gain[1]
    else:
        dst[i, 0] = left * gain[0]
        dst[i, 1] = right * gain[1]
    return bad


@jit
def strip_mono(
    dst: FloatArray, src: FloatArray, add: bool, n: int, gain: FloatArray, target: FloatArray,
    coef: float,
) -> int:  # fmt: skip
    """Put mono `src[:n]` × smoothed gains (L, R) into stereo `dst` (added when `add`).

    Gains move towards `target` by `coef` per sample. Non-finite input samples become 0;
    returns how many there were.
    """
    bad = 0
    for i in range(n):
        _gains(gain, target, coef)
        x = src[i]
        if not math.isfinite(x):
            x = 0.0
            bad += 1
        _put(dst, i, x, x, gain, add)
    return bad


@jit
def strip_stereo(
    dst: FloatArray, src: FloatArray, add: bool, n: int, gain: FloatArray, target: FloatArray,
    coef: float,
) -> int:  # fmt: skip
    """Like `strip_mono` for a stereo `src`."""
    bad = 0
    for i in range(n):
        _gains(gain, target, coef)
        bad += _put(dst, i, src[i, 0], src[i, 1], gain, add)
    return bad


@jit
def add_faded(
    dst: FloatArray, src: FloatArray, n: int, gain: FloatArray, target: float, coef: float
) -> None:
    """`dst[:n] += src[:n] × g` for stereo blocks, `g = gain[0]` moving towards `target`.

    The route gain moves by `coef` per sample before each sample, like a strip's gain, and
    lands exactly on `target` once within 1e-9 of it.
    """
    g = gain[0]
    for i in range(n):
        g = approach(g, target, coef)
        dst[i, 0] += src[i, 0] * g
        dst[i, 1] += src[i, 1] * g
    gain[0] = g


@jit
def zero_block(buf: FloatArray, n: int) -> None:
    """Zero stereo `buf[:n]`."""
    for i in range(n):
        buf[i, 0] = 0.0
        buf[i, 1] = 0.0


@jit
def zero_mono(buf: FloatArray, n: int) -> None:
    """Zero mono `buf[:n]`."""
    for i in range(n):
        buf[i] = 0.0


@jit
def pass_through(inp: FloatArray, out: FloatArray, n: int) -> None:
    """Copy stereo `inp[:n]` to `out[:n]` (a quarantined processor)."""
    for i in range(n):
        out[i, 0] = inp[i, 0]
        out[i, 1] = inp[i, 1]


@dataclass(eq=False, slots=True)
class _Node:
    """A sound module with its buffers and channel strip (smoothed stereo gain)."""

    module_id: str
    module: Module
    max_block: int
    gain: FloatArray = field(default_factory=lambda: np.zeros(2))
    target: FloatArray = field(default_factory=lambda: np.zeros(2))
    level: float = 1.0
    """0 when muted, not soloed while something is, or being removed."""
    routes: list[_Route] = field(default_factory=list)
    """The routes leading out of this module, in the patch or still fading out."""
    downstream: list[Processor] = field(default_factory=list)
    fade_left: int = -1
    """Samples left of the fade-out of a removed module; -1 while it is in the patch."""
    quarantined: bool = False
    """Bypassed for good: a source is silent, a processor passes its input through."""
    errors: int = 0
    """Blocks in a row in which the module raised."""
    crumb: int = 0
    processor: bool = False
    src: FloatArray = field(init=False)
    inp: FloatArray = field(init=False)
    post: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        self.crumb = crumb_of(self.module_id)
        self.processor = isinstance(self.module, Processor)
        shape = (self.max_block, 2) if self.processor else (self.max_block,)
        self.src = np.zeros(shape)
        self.inp = np.zeros((self.max_block, 2) if self.processor else (1, 2))
        self.post = np.zeros((self.max_block, 2))

    def retarget(self) -> None:
        module = self.module
        left, right = pan_gains(module.current("volume"), module.current("pan"), self.processor)
        self.target[0] = left * self.level
        self.target[1] = right * self.level
        for route in self.routes:
            if route.gain[0] != 0.0:
                return
        # Nothing hears it (no route, or only routes about to fade in): jump.
        self.gain[0] = self.target[0]
        self.gain[1] = self.target[1]


@dataclass(eq=False, slots=True)
class _Route:
    """One route out of a module's strip, with its own gain: 1 in the patch, 0 once cut.

    The gain moves by the mix smoothing coefficient per sample, so a new route fades in; a
    cut route (`fade_left` ≥ 0) fades out for `FADE_OUT_MS`, then is dropped.
    """

    src: _Node
    dst: _Node | None
    """None for the master bus."""
    buf: FloatArray
    gain: FloatArray
    """The route gain, one element (0 → 1 fading in, → 0 fading out)."""
    target: float = 1.0
    fade_left: int = -1
    """Samples left of the fade-out of a cut route; -1 while it is in the patch."""
    span: int = 0
    """Samples of the current block the route still plays (its fade may end mid-block)."""

    @property
    def steady(self) -> bool:
        return self.fade_left < 0 and self.gain[0] == 1.0


def _reaches(routes: dict[tuple[_Node, _Node | None], _Route], a: _Node, b: _Node) -> bool:
    """Whether `routes` lead from `a` to `b` (or `a is b`)."""
    seen = {a}
    stack = [a]
    while stack:
        node = stack.pop()
        if node is b:
            return True
        for src, dst in routes:
            if src is node and dst is not None and dst not in seen:
                seen.add(dst)
                stack.append(dst)
    return False


@dataclass(eq=False, slots=True)
class _Target:
    """One modulated parameter and the lfos driving it."""

    module_id: str
    module: Module
    name: str
    spec: ParamSpec
    sources: list[Lfo]
    node: _Node | None


class Graph:
    """Modules by id, routed through processors to the master stage, every block.

    Every module renders every block, connected or not, so its time always advances; only
    what reaches `master` is heard. A new route fades in over the mix smoothing time; a cut
    route and a removed module fade out over `FADE_OUT_MS` (the patch forgets them at once,
    only the sound fades). Lfos tick every `GRID` samples of the absolute clock (`clock`,
    the frame of the next frame rendered), so modulation is the same in blocks of any size.
    The master stage zeroes non-finite samples (counted in `nonfinite_count`) and limits the
    output to ±`LIMITER_THRESHOLD`.
    """

    def __init__(self, sample_rate: int, max_block: int) -> None:
        self.sample_rate = int(sample_rate)
        self.max_block = int(max_block)
        self.patch = Patch()
        self.tempo = self.patch.tempo
        """The tempo the modules hear; the patch's may be newer, waiting for a bar line."""
        self.modules: dict[str, Module] = {}
        self.clock = 0
        self.nonfinite_count = 0
        self.module_error_count = 0
        self.last_module_error = ""
        self.crumb = np.zeros(1, dtype=np.int64)
        """`crumb_of` the module being run, 0 between modules; a slot puts it in shared memory."""
        self.quarantined: list[str] = []
        self._nodes: dict[str, _Node] = {}
        self._lfos: dict[str, Lfo] = {}
        self._removing: list[_Node] = []
        self._stale = False
        self._order: list[_Node] = []
        self._routes: dict[tuple[_Node, _Node | None], _Route] = {}
        self._targets: list[_Target] = []
        self._target_index: dict[tuple[str, str], _Target] = {}
        self._acc = np.zeros((self.max_block, 2))
        self._limiter = np.ones(1)
        self._mix_coef = smoothing_coef(MIX_SMOOTHING_MS, self.sample_rate)
        self._release = smoothing_coef(LIMITER_RELEASE_MS, self.sample_rate)
        self._fade_samples = max(1, round(FADE_OUT_MS * 1e-3 * self.sample_rate))

    # -- control --------------------------------------------------------------------------

    def apply(self, message: Message) -> list[str]:
        """Validate and apply a message; returns warnings, raises `PatchError` on bad input.

        The patch is checked first, so a rejected message changes nothing.
        """
        warnings = self.patch.apply(message)
        self._drop_finished()
        parts = message.address.strip("/").split("/")
        head = parts[0]
        if head == "patch":
            if parts[1] == "create":
                self._create(str(message.args[0]), str(message.args[1]))
            elif parts[1] == "remove":
                self._remove(str(message.args[0]))
            self._rebuild()
        elif head == "mod":
            self._set(parts[1], canonical_param(parts[2]))
        elif head == "gate":
            on = float(message.args[0]) >= 0.5
            self.modules[parts[1]].gate(on)
            node = self._nodes.get(parts[1])
            for proc in node.downstream if node is not None else ():
                proc.gate(on)
        elif head == "note":
            seconds = message.args[2] if len(message.args) > 2 else None
            length = -1 if seconds is None else round(float(seconds) * self.sample_rate)
            self.note(parts[1], float(message.args[0]), float(message.args[1]), length)
        elif message.address == "/tempo":
            self.set_tempo(self.patch.tempo)
        elif message.address == "/seq/stop":
            for module in self.modules.values():
                module.release_all()
        elif message.address == "/panic":
            for module in self.modules.values():
                module.silence()
        return warnings

    # -- what the sequencer plays on (no message objects: it runs inside the render loop) --

    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        """Start a note of `length` samples (-1: held) on a module and its processors."""
        self.modules[module_id].note_on(midi, velocity, length)
        node = self._nodes.get(module_id)
        for proc in node.downstream if node is not None else ():
            proc.note_on(midi, velocity, length)

    def release(self, module_id: str) -> None:
        """Let a module's sounding notes go into their release."""
        module = self.modules.get(module_id)
        if module is not None:
            module.release_all()

    def set_param(self, module_id: str, param: str, value: float) -> None:
        """Set a parameter already checked to be in range (a sequencer lane's value)."""
        params = self.patch.modules[module_id]["params"]
        if param in params:
            params[param] = value
            self._set(module_id, param)

    def set_tempo(self, bpm: float) -> None:
        """The tempo the modules hear (tempo-synced times follow it)."""
        self.tempo = float(bpm)
        for module in self.modules.values():
            module.tempo_changed(self.tempo)

    def _create(self, module_id: str, module_type: str) -> None:
        module = create_module(module_type, self.sample_rate, self.max_block)
        module.reseed(zlib.crc32(module_id.encode()))
        module.tempo_changed(self.tempo)
        self.modules[module_id] = module
        if isinstance(module, Lfo):
            self._lfos[module_id] = module
        else:
            self._nodes[module_id] = _Node(module_id, module, self.max_block)

    def _remove(self, module_id: str) -> None:
        del self.modules[module_id]
        if self._lfos.pop(module_id, None) is not None:
            return
        node = self._nodes.pop(module_id)
        if node.routes:  # heard somewhere: fade out, its routes (both ways) kept meanwhile
            node.fade_left = self._fade_samples
            node.level = 0.0
            node.retarget()
            self._removing.append(node)

    def _set(self, module_id: str, name: str) -> None:
        value = self.patch.modules[module_id]["params"][name]
        module = self.modules[module_id]
        module.set_param(name, value)
        target = self._target_index.get((module_id, name))
        if target is not None:
            self._modulate(target)
        if name in ("mute", "solo"):
            self._relevel()
        elif name in ("volume", "pan") and module_id in self._nodes:
            self._nodes[module_id].retarget()

    def _rebuild(self, fade: bool = True) -> None:
        """Recompute routes, order, note forwarding, levels and modulation targets.

        Routes of the patch come first, in its order; a route the patch no longer has starts
        to fade out if both its ends are still in the patch, keeps going if one is being
        removed (its strip fades), and is dropped once its fade is over, when an end is gone
        or when it would close a loop with the patch's routes. A new route starts at gain 0
        (at 1 when not `fade`).
        """
        nodes = self._nodes
        live = set(nodes.values())
        alive = live | set(self._removing)
        old = self._routes
        routes: dict[tuple[_Node, _Node | None], _Route] = {}
        for a, b in self.patch.connections:
            key = (nodes[a], None if b == MASTER else nodes[b])
            route = old.get(key)
            if route is None:
                buf = self._acc if key[1] is None else key[1].inp
                route = _Route(key[0], key[1], buf, np.full(1, 0.0 if fade else 1.0))
            route.target = 1.0
            route.fade_left = -1
            routes[key] = route
        for key, route in old.items():
            src, dst = key
            if key in routes or route.fade_left == 0 or src not in alive:
                continue
            if dst is not None and (dst not in alive or _reaches(routes, dst, src)):
                continue
            if route.fade_left < 0 and src in live and (dst is None or dst in live):
                route.fade_left = self._fade_samples  # disconnected: fade out
                route.target = 0.0
            routes[key] = route
        self._routes = routes
        everyone = [*nodes.values(), *self._removing]
        for node in everyone:
            node.routes = [route for (src, _), route in routes.items() if src is node]
        # Kahn's algorithm, ties in creation order (there is no cycle: see above).
        indegree = {node: 0 for node in everyone}
        for _, dst in routes:
            if dst is not None:
                indegree[dst] += 1
        order: list[_Node] = []
        ready = [node for node in everyone if indegree[node] == 0]
        while ready:
            node = ready.pop(0)
            order.append(node)
            for src, dst in routes:
                if src is node and dst is not None:
                    indegree[dst] -= 1
                    if indegree[dst] == 0:
                        ready.append(dst)
        order += [node for node in everyone if node not in order]  # never: no cycle
        self._order = order
        for node in nodes.values():
            node.downstream = [
                other.module
                for other in nodes.values()
                if isinstance(other.module, Processor)
                and other is not node
                and self.patch.reaches(node.module_id, other.module_id)
            ]
        self._relevel()
        self._retarget_modulations()

    def _relevel(self) -> None:
        """Apply mute and solo: with any module soloed, only paths through one are heard."""
        patch = self.patch
        # .get: a user module may declare only volume and pan.
        values = {mid: node.module.params for mid, node in self._nodes.items()}
        soloed = [mid for mid, v in values.items() if v.get("solo", 0.0) >= 0.5]
        for mid, node in self._nodes.items():
            heard = values[mid].get("mute", 0.0) < 0.5
            if heard and soloed:
                heard = any(patch.reaches(mid, s) or patch.reaches(s, mid) for s in soloed)
            node.level = 1.0 if heard else 0.0
            node.retarget()

    def _retarget_modulations(self) -> None:
        wanted: dict[tuple[str, str], list[Lfo]] = {}
        for src, dst, name in self.patch.modulations:
            wanted.setdefault((dst, name), []).append(self._lfos[src])
        for key, old in self._target_index.items():
            if key not in wanted and key[0] in self.modules:
                old.module.unmodulate(key[1])
        targets: dict[tuple[str, str], _Target] = {}
        for (dst, name), sources in wanted.items():
            module = self.modules[dst]
            spec = next(s for s in module.PARAMS if s.name == name)
            targets[(dst, name)] = _Target(dst, module, name, spec, sources, self._nodes.get(dst))
        self._target_index = targets
        self._targets = list(targets.values())
        for target in self._targets:
            self._modulate(target)

    def _modulate(self, target: _Target) -> None:
        """Drive one target from the last values of its lfos."""
        amount = 0.0
        for lfo in target.sources:
            amount += lfo.value * lfo.param("depth")
        module = target.module
        center = module.param(target.name)
        module.modulate(target.name, modulated_value(target.spec, center, amount))
        if target.node is not None and target.name in ("volume", "pan"):
            target.node.retarget()

    def _tick(self) -> None:
        """One control tick: every lfo takes its value and advances `GRID` samples."""
        for lfo in self._lfos.values():
            lfo.tick(GRID)
        for target in self._targets:
            self._modulate(target)

    # -- audio ----------------------------------------------------------------------------

    def render(self, out: npt.NDArray[np.float32], n: int, offset: int = 0) -> None:
        """Render `n` ≤ `max_block` stereo frames into `out[offset:offset+n, :2]`.

        `out` is a C-contiguous float32 array of at least 2 columns. Allocates nothing. A
        module that raises is skipped for the block (counted in `module_error_count`); one
        that outputs non-finite samples is silenced. Advances `clock` by `n`.
        """
        if n > self.max_block:
            raise ValueError(f"block of {n} frames exceeds max_block {self.max_block}")
        if not self._lfos:
            self._render(out, n, offset)
            self.clock += n
            return
        if not self._targets:
            # Nothing to modulate: the lfos only keep time, the block need not be split.
            first = -(-self.clock // GRID) * GRID
            for _ in range(first, self.clock + n, GRID):
                self._tick()
            self._render(out, n, offset)
            self.clock += n
            return
        done = 0
        while done < n:
            into = self.clock % GRID
            if into == 0:
                self._tick()
            step = min(n - done, GRID - into)
            self._render(out, step, offset + done)
            self.clock += step
            done += step

    def _render(self, out: npt.NDArray[np.float32], n: int, offset: int) -> None:
        finished = False
        crumb = self.crumb
        for node in self._order:
            if node.fade_left == 0:
                continue  # faded out after removal; dropped at the next patch change
            module = node.module
            m = n
            if node.fade_left >= 0:
                m = min(n, node.fade_left)
                node.fade_left -= m
                finished = finished or node.fade_left == 0
            routes = node.routes
            for route in routes:
                if route.fade_left >= 0:
                    route.span = min(m, route.fade_left)
                    route.fade_left -= min(n, route.fade_left)
                    finished = finished or route.fade_left == 0
                else:
                    route.span = m
            if node.quarantined:
                if node.processor:
                    pass_through(node.inp, node.src, n)
                else:
                    zero_mono(node.src, n)
            else:
                crumb[0] = node.crumb
                try:
                    if node.processor:
                        cast(Processor, module).process_stereo(node.inp, node.src, n)
                    else:
                        module.process(node.src, n)
                except Exception as exc:  # one bad module must not stop the sound
                    self._module_failed(node, exc)
                    if node.processor:
                        zero_block(node.inp, n)
                    continue
            if node.processor:
                zero_block(node.inp, n)
            if not routes:
                continue
            strip = strip_stereo if node.processor else strip_mono
            coef = self._mix_coef
            if len(routes) == 1 and routes[0].steady:
                bad = strip(routes[0].buf, node.src, True, m, node.gain, node.target, coef)
            else:
                bad = strip(node.post, node.src, False, m, node.gain, node.target, coef)
                for route in routes:  # a steady route adds × 1.0: bit-exact
                    add_faded(route.buf, node.post, route.span, route.gain, route.target, coef)
            if bad:
                self.nonfinite_count += bad
                module.silence()
                self._module_failed(node, FloatingPointError(f"{bad} non-finite samples"))
            else:
                node.errors = 0
        crumb[0] = 0
        self.nonfinite_count += kernels.master_block(
            self._acc, out, offset, n, self._limiter, LIMITER_THRESHOLD, self._release
        )
        if finished:
            # What has faded out now contributes nothing; dropping it rebuilds lists, which
            # allocates, so it waits until the next command or state() (never in render).
            self._stale = True

    def _module_failed(self, node: _Node, exc: Exception) -> None:
        self.module_error_count += 1
        self.last_module_error = f"{node.module_id} ({node.module.TYPE}): {exc!r}"
        node.errors += 1  # reset by a block that succeeds
        if node.errors >= QUARANTINE_AFTER_ERRORS:
            node.quarantined = True
            self.quarantined.append(node.module_id)

    def quarantine(self, crumb: int) -> str | None:
        """Bypass for good the module whose `crumb_of` is `crumb`; its id, or None if unknown.

        A slot calls it before rendering the block in which its peer died inside that module.
        """
        for node in self._nodes.values():
            if node.crumb == crumb and not node.quarantined:
                node.quarantined = True
                self.quarantined.append(node.module_id)
                return node.module_id
        return None

    def _drop_finished(self) -> None:
        if self._stale:
            self._stale = False
            self._removing = [node for node in self._removing if node.fade_left > 0]
            self._rebuild()

    # -- state ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue rendering bit-identically in another graph.

        Routes fading in or out are included, with their gain and the samples left of their
        fade, and so are modules still fading out after their removal (under `removing`,
        named `~0`, `~1`… in `routes`, as their ids may already be taken again).
        """
        self._drop_finished()
        removing = {node: f"~{i}" for i, node in enumerate(self._removing)}
        alive = set(self._nodes.values()) | set(removing)

        def name(node: _Node | None) -> str:
            return MASTER if node is None else removing.get(node, node.module_id)

        return {
            "patch": self.patch.to_dict(),
            "modules": {mid: m.state() for mid, m in self.modules.items()},
            "mix": {mid: node.gain.copy() for mid, node in self._nodes.items()},
            "routes": [
                [name(src), name(dst), float(r.gain[0]), r.fade_left]
                for (src, dst), r in self._routes.items()
                if src in alive and (dst is None or dst in alive)
            ],
            "removing": [
                [n.module_id, n.module.TYPE, n.module.state(), n.gain.copy(), n.fade_left]
                for n in removing
            ],
            "modulated": {
                f"{t.module_id}/{t.name}": t.module.current(t.name) for t in self._targets
            },
            "limiter": float(self._limiter[0]),
            "clock": self.clock,
            "tempo": self.tempo,
            "quarantined": [mid for mid, node in self._nodes.items() if node.quarantined],
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace this graph's patch and modules with those of a `state()`.

        Raises `PatchError` or `ValueError` on invalid state; then nothing has changed.
        """
        patch = Patch.from_dict(state["patch"])
        modules: dict[str, Module] = {}
        gains: dict[str, FloatArray] = {}
        try:
            for module_id, entry in patch.modules.items():
                module = create_module(entry["type"], self.sample_rate, self.max_block)
                module.load_state(state["modules"][module_id])
                modules[module_id] = module
                if not isinstance(module, Lfo):
                    gains[module_id] = np.array(state["mix"][module_id], dtype=np.float64)
                    gains[module_id] = gains[module_id].reshape(2)
            modulated = {str(k): float(v) for k, v in dict(state.get("modulated", {})).items()}
            clock = int(state.get("clock", 0))
            fading = self._removing_state(state)
            routes = self._route_state(patch, modules, fading, state)
        except (KeyError, TypeError, ValueError) as exc:
            raise PatchError(f"invalid graph state: {exc}") from exc
        self.patch = patch
        self.modules = {}
        self._nodes = {}
        self._lfos = {}
        self._removing = list(fading.values())
        self._routes = {}
        self._target_index = {}
        for module_id, module in modules.items():
            self.modules[module_id] = module
            if isinstance(module, Lfo):
                self._lfos[module_id] = module
            else:
                node = _Node(module_id, module, self.max_block)
                node.gain[:] = gains[module_id]
                self._nodes[module_id] = node
        self.tempo = float(state.get("tempo", patch.tempo))
        for module in self.modules.values():
            module.tempo_changed(self.tempo)
        known = {**self._nodes, **fading}
        for src_id, dst_id, gain, fade_left in routes:
            src = known[src_id]
            dst = None if dst_id == MASTER else known[dst_id]
            buf = self._acc if dst is None else dst.inp
            target = 1.0 if fade_left < 0 else 0.0
            self._routes[(src, dst)] = _Route(src, dst, buf, np.full(1, gain), target, fade_left)
        self._limiter[0] = float(state["limiter"])
        self._acc[:] = 0.0
        self.clock = clock
        self.quarantined = [str(mid) for mid in state.get("quarantined", [])]
        for module_id in self.quarantined:
            if module_id in self._nodes:
                self._nodes[module_id].quarantined = True
        self._rebuild(fade=False)
        for key, value in modulated.items():
            module_id, name = key.split("/")
            self.modules[module_id].modulate(name, value)
        for node in [*self._nodes.values(), *self._removing]:
            node.retarget()

    def _removing_state(self, state: dict[str, Any]) -> dict[str, _Node]:
        """The modules of a `state()` still fading out after removal, by their `~i` names."""
        fading: dict[str, _Node] = {}
        for i, (module_id, module_type, module_state, gain, fade_left) in enumerate(
            state.get("removing", [])
        ):
            module = create_module(str(module_type), self.sample_rate, self.max_block)
            module.load_state(module_state)
            if isinstance(module, Lfo) or int(fade_left) <= 0:
                raise ValueError(f"removed module {module_id!r} cannot be fading out")
            node = _Node(str(module_id), module, self.max_block)
            node.gain[:] = np.array(gain, dtype=np.float64).reshape(2)
            node.fade_left = int(fade_left)
            node.level = 0.0
            fading[f"~{i}"] = node
        return fading

    @staticmethod
    def _route_state(
        patch: Patch, modules: dict[str, Module], fading: dict[str, _Node], state: dict[str, Any]
    ) -> list[tuple[str, str, float, int]]:
        """The routes of a `state()`, checked: `[src, dst, gain, fade_left]` each.

        A route of the patch has `fade_left` -1; any other is between two sound modules of
        the patch, fading out (`fade_left` > 0). Routes to or from a module being removed
        (`~i`) are kept as they were while it fades. Raises `ValueError`, `TypeError` or
        `KeyError` on anything else. Without routes (an older state) the patch's routes
        play at full gain.
        """
        routes: list[tuple[str, str, float, int]] = []
        seen: set[tuple[str, str]] = set()
        everyone = {**modules, **{key: node.module for key, node in fading.items()}}
        for entry in state.get("routes", []):
            src, dst, gain, fade_left = entry
            src, dst, gain, fade_left = str(src), str(dst), float(gain), int(fade_left)
            sound = src != MASTER and not isinstance(everyone[src], Lfo)
            into = dst == MASTER or isinstance(everyone[dst], Processor)
            if not (sound and into) or src == dst or (src, dst) in seen:
                raise ValueError(f"invalid route {src!r} → {dst!r}")
            if not math.isfinite(gain):
                raise ValueError(f"route {src!r} → {dst!r}: gain {gain!r}")
            in_patch = (src, dst) in patch.connections
            if src in fading or dst in fading:
                in_patch = fade_left < 0  # kept as they were while their module fades
            if in_patch != (fade_left < 0) or fade_left == 0:
                raise ValueError(f"route {src!r} → {dst!r}: fade does not match the patch")
            seen.add((src, dst))
            routes.append((src, dst, gain, fade_left))
        return routes
