"""The live DSP graph: a `Patch` plus the module objects, routed and mixed to a limited master.

Routing: every sound module renders (a source mono, a processor stereo from its input
buffer), goes through its strip (volume in dB, equal-power pan, mute/solo, all smoothed) and
is added into each destination: a processor's input buffer or the master bus. Modules run
in a topological order computed when the patch changes, never per block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from chronus.dsp import kernels
from chronus.dsp.catalog import create_module
from chronus.dsp.kernels import jit
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
"""A removed module keeps playing this long while its strip fades (−40 dB at 20 ms, −60 dB
at 30 ms), then it is dropped."""

FloatArray = npt.NDArray[np.float64]


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
        d = target[c] - gain[c]
        if d != 0.0:
            if abs(d) < 1e-9:
                gain[c] = target[c]
            else:
                gain[c] += d * coef


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
def add_block(dst: FloatArray, src: FloatArray, n: int) -> None:
    """`dst[:n] += src[:n]` for stereo blocks, without slicing."""
    for i in range(n):
        dst[i, 0] += src[i, 0]
        dst[i, 1] += src[i, 1]


@jit
def zero_block(buf: FloatArray, n: int) -> None:
    """Zero stereo `buf[:n]`."""
    for i in range(n):
        buf[i, 0] = 0.0
        buf[i, 1] = 0.0


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
    dests: list[FloatArray] = field(default_factory=list)
    downstream: list[Processor] = field(default_factory=list)
    fade_left: int = -1
    """Samples left of the fade-out of a removed module; -1 while it is in the patch."""
    ghost: list[tuple[_Node, _Node | None]] = field(default_factory=list)
    """The routes a removed module had, kept while it fades."""
    processor: bool = False
    src: FloatArray = field(init=False)
    inp: FloatArray = field(init=False)
    post: FloatArray = field(init=False)

    def __post_init__(self) -> None:
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
    what reaches `master` is heard. A module that gets a route fades in over the mix
    smoothing time; a removed one fades out over `FADE_OUT_MS`. Lfos tick every `GRID`
    samples of the absolute clock (`clock`, the frame of the next frame rendered), so
    modulation is the same in blocks of any size. The master stage zeroes non-finite
    samples (counted in `nonfinite_count`) and limits the output to ±`LIMITER_THRESHOLD`.
    """

    def __init__(self, sample_rate: int, max_block: int) -> None:
        self.sample_rate = int(sample_rate)
        self.max_block = int(max_block)
        self.patch = Patch()
        self.modules: dict[str, Module] = {}
        self.clock = 0
        self.nonfinite_count = 0
        self.module_error_count = 0
        self.last_module_error = ""
        self._nodes: dict[str, _Node] = {}
        self._lfos: dict[str, Lfo] = {}
        self._removing: list[_Node] = []
        self._order: list[_Node] = []
        self._edges: list[tuple[_Node, _Node | None]] = []
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
            midi, velocity = float(message.args[0]), float(message.args[1])
            self.modules[parts[1]].note_on(midi, velocity, length)
            node = self._nodes.get(parts[1])
            for proc in node.downstream if node is not None else ():
                proc.note_on(midi, velocity, length)
        elif message.address == "/tempo":
            for module in self.modules.values():
                module.tempo_changed(self.patch.tempo)
        elif message.address == "/seq/stop":
            for module in self.modules.values():
                module.release_all()
        elif message.address == "/panic":
            for module in self.modules.values():
                module.silence()
        return warnings

    def _create(self, module_id: str, module_type: str) -> None:
        module = create_module(module_type, self.sample_rate, self.max_block)
        module.tempo_changed(self.patch.tempo)
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
        node.ghost = [e for e in self._edges if node in e]
        if any(src is node for src, _ in node.ghost):
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
        """Recompute routes, order, note forwarding, levels and modulation targets."""
        nodes = self._nodes
        edges: list[tuple[_Node, _Node | None]] = [
            (nodes[a], None if b == MASTER else nodes[b]) for a, b in self.patch.connections
        ]
        alive = set(nodes.values()) | set(self._removing)
        for ghost in self._removing:
            edges += [e for e in ghost.ghost if e[0] in alive and (e[1] is None or e[1] in alive)]
        self._edges = edges
        everyone = [*nodes.values(), *self._removing]
        for node in everyone:
            had_route = bool(node.dests)
            node.dests = [
                self._acc if dst is None else dst.inp for src, dst in edges if src is node
            ]
            if fade and node.dests and not had_route:
                node.gain[:] = 0.0
        # Kahn's algorithm, ties in creation order; a (ghost-made) cycle is appended as is.
        indegree = {node: 0 for node in everyone}
        for _, dst in edges:
            if dst is not None:
                indegree[dst] += 1
        order: list[_Node] = []
        ready = [node for node in everyone if indegree[node] == 0]
        while ready:
            node = ready.pop(0)
            order.append(node)
            for src, dst in edges:
                if src is node and dst is not None:
                    indegree[dst] -= 1
                    if indegree[dst] == 0:
                        ready.append(dst)
        order += [node for node in everyone if node not in order]
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
        for node in self._order:
            module = node.module
            m = n
            if node.fade_left >= 0:
                m = min(n, node.fade_left)
                node.fade_left -= m
                finished = finished or node.fade_left == 0
            try:
                if node.processor:
                    cast(Processor, module).process_stereo(node.inp, node.src, n)
                else:
                    module.process(node.src, n)
            except Exception as exc:  # one bad module must not stop the sound
                self.module_error_count += 1
                self.last_module_error = f"{module.TYPE}: {exc!r}"
                if node.processor:
                    zero_block(node.inp, n)
                continue
            if node.processor:
                zero_block(node.inp, n)
            dests = node.dests
            if not dests:
                continue
            strip = strip_stereo if node.processor else strip_mono
            if len(dests) == 1:
                bad = strip(dests[0], node.src, True, m, node.gain, node.target, self._mix_coef)
            else:
                bad = strip(node.post, node.src, False, m, node.gain, node.target, self._mix_coef)
                for dst in dests:
                    add_block(dst, node.post, m)
            if bad:
                self.nonfinite_count += bad
                module.silence()
        self.nonfinite_count += kernels.master_block(
            self._acc, out, offset, n, self._limiter, LIMITER_THRESHOLD, self._release
        )
        if finished:
            self._removing = [node for node in self._removing if node.fade_left > 0]
            self._rebuild()

    # -- state ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue rendering bit-identically in another graph.

        Modules still fading out after removal are not included.
        """
        return {
            "patch": self.patch.to_dict(),
            "modules": {mid: m.state() for mid, m in self.modules.items()},
            "mix": {mid: node.gain.copy() for mid, node in self._nodes.items()},
            "modulated": {
                f"{t.module_id}/{t.name}": t.module.current(t.name) for t in self._targets
            },
            "limiter": float(self._limiter[0]),
            "clock": self.clock,
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
        except (KeyError, TypeError) as exc:
            raise PatchError(f"invalid graph state: {exc}") from exc
        self.patch = patch
        self.modules = {}
        self._nodes = {}
        self._lfos = {}
        self._removing = []
        self._target_index = {}
        for module_id, module in modules.items():
            self.modules[module_id] = module
            if isinstance(module, Lfo):
                self._lfos[module_id] = module
            else:
                node = _Node(module_id, module, self.max_block)
                node.gain[:] = gains[module_id]
                self._nodes[module_id] = node
            module.tempo_changed(patch.tempo)
        self._limiter[0] = float(state["limiter"])
        self._acc[:] = 0.0
        self.clock = clock
        self._rebuild(fade=False)
        for key, value in modulated.items():
            module_id, name = key.split("/")
            self.modules[module_id].modulate(name, value)
        for node in self._nodes.values():
            node.retarget()
