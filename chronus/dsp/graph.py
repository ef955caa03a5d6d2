"""The live DSP graph: a `Patch` plus the module objects, routed and mixed to a limited master.

Routing: every sound module renders (a source mono, a processor stereo from its input
buffer), goes through its strip (volume in dB, equal-power pan, mute/solo, all smoothed) and
is added into each destination: a processor's input buffer or the master bus. Each route
has its own gain, so a new connection fades in and a cut one fades out. The render order,
the routes, the processors each module's notes reach, mute and solo and the modulation
targets are kept up to date by each command for what it touches (`routing.Routing`), never
recomputed over the whole patch.
"""

from __future__ import annotations

import bisect
import math
import zlib
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from chronus.dsp import kernels
from chronus.dsp.catalog import create_module
from chronus.dsp.crumbs import crumb_of
from chronus.dsp.guard import SUSPEND_AFTER_ERRORS, Guard
from chronus.dsp.lfo import GRID, Lfo, modulated_value
from chronus.dsp.module import Module, Processor
from chronus.dsp.params import MIX_SMOOTHING_MS, ParamSpec, smoothing_coef
from chronus.dsp.patch import Patch, PatchError
from chronus.dsp.routing import (
    MONO_FEED,
    NO_FEED,
    STEREO_FEED,
    Node,
    Route,
    Routing,
    rank_of,
)
from chronus.dsp.strips import (
    add_faded,
    add_faded_both,
    add_faded_mono,
    pan_gains,
    spread,
    strip_mono,
    strip_stereo,
    strip_to_mono,
    zero_block,
    zero_mono,
)
from chronus.protocol import MASTER, Message, canonical_param

__all__ = [
    "FADE_OUT_MS",
    "LIMITER_THRESHOLD",
    "SUSPEND_AFTER_ERRORS",
    "Graph",
    "crumb_of",
    "pan_gains",
]

LIMITER_THRESHOLD = 0.98
"""About −0.2 dBFS: the master never goes beyond this (nor, by a final clip, beyond 1)."""
LIMITER_RELEASE_MS = 250.0
QUIET_EVERY = 4
"""An awake module is asked whether it is quiet once in this many blocks."""
FADE_OUT_MS = 30.0
"""A removed module (or a cut route) keeps playing this long while its strip (or route gain)
fades (−40 dB at 20 ms, −60 dB at 30 ms), then it is dropped."""

FloatArray = npt.NDArray[np.float64]


def _settled(node: Node) -> bool:
    """Whether the node's strip and routes have reached their gains: rendering silence
    through them would change nothing (a route whose fade has ended plays no more)."""
    gain, target = node.gain, node.target
    if gain[0] != target[0] or gain[1] != target[1]:
        return False
    return all(r.fade_left == 0 or r.gain[0] == r.target for r in node.routes)


def _hears_tempo(module: Module) -> bool:
    """Whether a module does something when the tempo changes (a synced delay or lfo)."""
    hook = type(module).tempo_changed
    return hook is not Module.tempo_changed and hook is not Processor.tempo_changed


@dataclass(eq=False, slots=True)
class _Target:
    """One modulated parameter and the lfos driving it."""

    module_id: str
    module: Module
    name: str
    spec: ParamSpec
    sources: list[Lfo]
    node: Node | None


class Graph:
    """Modules by id, routed through processors to the master stage, every block.

    Every module renders every block, connected or not, while it has something to do; one
    that is quiet (see `Module.quiet`), with its strip and routes at rest, sleeps until a
    note, a parameter, a route, the tempo or an input reaches it, and skipping it changes no
    sample. Only what reaches `master` is heard. A centred mono output stays one channel
    into processors with a dual-mono kernel (see `Processor.process_mono`), bit for bit what
    the stereo path gives. A new route fades in over the mix smoothing time; a cut route and
    a removed module fade out over `FADE_OUT_MS` (the patch forgets them at once, only the
    sound fades). Lfos tick every `GRID` samples of the absolute clock (`clock`,
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
        self.guard = Guard()
        """The one door through which every module's `process` is called."""
        self.crumb = np.zeros(1, dtype=np.int64)
        self.quarantined: list[str] = []
        """Ids of the modules bypassed because the keeper blamed them for a crash or hang."""
        self._doomed: set[int] = set()
        """Crumbs quarantined before their module was made (see `quarantine`)."""
        self._nodes: dict[str, Node] = {}
        self._lfos: dict[str, Lfo] = {}
        self._tempo_listeners: dict[str, Module] = {}
        self._removing: list[Node] = []
        self._stale = False
        self._ahead: list[Module] = []
        self._unbound: list[Module] = []  # made since the last block: kernels to take again
        """The modules given notes inside the block to come (`note_at`)."""
        self._acc = np.zeros((self.max_block, 2))
        self._out_mono = np.zeros(self.max_block)
        self._out_stereo = np.zeros((self.max_block, 2))
        """What the node being rendered wrote (one buffer for all: it stays in the cache)."""
        self._post = np.zeros((self.max_block, 2))
        self._post_mono = np.zeros(self.max_block)
        """A node's output after its strip, for routes that fade (one for all, likewise)."""
        self._routing = Routing(self._acc)
        self._awake: list[Node] = []
        """The nodes that are not asleep, in render order: the only ones a block visits."""
        self._soloed: list[Node] = []
        self._heard_with_solo: set[Node] = set()
        """While something is soloed: the nodes on a path through a soloed one."""
        self._targets: list[_Target] = []
        self._target_index: dict[tuple[str, str], _Target] = {}
        self._limiter = np.ones(1)
        self._mix_coef = smoothing_coef(MIX_SMOOTHING_MS, self.sample_rate)
        self._release = smoothing_coef(LIMITER_RELEASE_MS, self.sample_rate)
        self._fade_samples = max(1, round(FADE_OUT_MS * 1e-3 * self.sample_rate))
        self._bind_strips()

    def _bind_strips(self) -> None:
        """Take the strip kernels past numba's dispatch (`kernels.entry`), once: asked per
        block, the dispatcher's table cost ~10 µs a kernel. Only kernels given the graph's
        own buffers (not the master stage's: its `out` is the caller's)."""
        entry = kernels.entry
        self._to_mono, self._to_both = entry(strip_to_mono), entry(strip_mono)
        self._zero_mono, self._strip_stereo_kernel = entry(zero_mono), entry(strip_stereo)

    @property
    def crumb(self) -> npt.NDArray[np.int64]:
        """`crumb_of` the module being run, 0 between modules; a slot puts it in shared memory
        (sets it to an array there)."""
        return self._crumb

    @crumb.setter
    def crumb(self, cell: npt.NDArray[np.int64]) -> None:
        self._crumb = cell
        self._crumb_cell = cell.data  # set twice a module a block: quicker than numpy

    @property
    def module_error_count(self) -> int:
        """Blocks in which a module raised or output non-finite samples."""
        return self.guard.error_count

    @property
    def last_module_error(self) -> str:
        """The last of those errors, naming the module."""
        return self.guard.last_error

    @property
    def suspended(self) -> list[str]:
        """Ids of the modules bypassed after failing block after block."""
        return self.guard.suspended

    # -- control --------------------------------------------------------------------------

    def apply(self, message: Message) -> list[str]:
        """Validate and apply a message; returns warnings, raises `PatchError` on bad input.

        The patch is checked first, so a rejected message changes nothing. Each message
        costs what it touches, whatever the size of the patch.
        """
        warnings = self.patch.apply(message)
        self.drop_finished()
        parts = message.address.strip("/").split("/")
        head = parts[0]
        args = message.args
        if head == "patch":
            action = parts[1]
            if action == "create":
                self._create(str(args[0]), str(args[1]))
            elif action == "connect":
                self._connect(str(args[0]), str(args[1]))
            elif action == "disconnect":
                self._disconnect(str(args[0]), str(args[1]))
            elif action == "remove":
                self._remove(str(args[0]))
            elif action == "modulate":
                self._add_modulation(str(args[0]), str(args[1]), canonical_param(str(args[2])))
        elif head == "mod":
            self._set(parts[1], canonical_param(parts[2]))
        elif head == "gate":
            on = float(args[0]) >= 0.5
            self.modules[parts[1]].gate(on)
            node = self._nodes.get(parts[1])
            if node is not None:
                self._wake(node)
                for other in node.downstream:
                    cast(Processor, other.module).gate(on)
                    self._wake(other)
        elif head == "note":
            seconds = args[2] if len(args) > 2 else None
            length = -1 if seconds is None else round(float(seconds) * self.sample_rate)
            self.note(parts[1], float(args[0]), float(args[1]), length)
        elif message.address == "/tempo":
            self.set_tempo(self.patch.tempo)
        elif message.address == "/seq/stop":
            for node in self._awake:  # a quiet module has no note to release
                node.module.release_all()
        elif message.address == "/panic":
            for module in self.modules.values():
                module.silence()
            for node in self._routing.order:
                self._wake(node)
        return warnings

    # -- what the sequencer plays on (no message objects: it runs inside the render loop) --

    def note(self, module_id: str, midi: float, velocity: float, length: int) -> None:
        """Start a note of `length` samples (-1: held) on a module and its processors."""
        self.modules[module_id].note_on(midi, velocity, length)
        node = self._nodes.get(module_id)
        if node is not None:
            self._wake(node)
            for other in node.downstream:
                other.module.note_on(midi, velocity, length)
                self._wake(other)

    def note_at(
        self, module_id: str, at: int, midi: float, velocity: float, length: int, held: set[str]
    ) -> bool:
        """`note` `at` samples into the next block rendered, placed inside the modules' own
        render (see `Module.note_at`) instead of splitting the block there. Only when the
        next `render` renders in one piece (`whole_blocks`).

        False, with nothing done, if the module or a processor the note reaches cannot take
        it, is bypassed, or is in `held` (it has an action waiting for that sample: what
        comes after it must wait too); those modules are then added to `held`.
        """
        node = self._nodes.get(module_id)
        if node is None:
            held.add(module_id)
            return False
        downstream = node.downstream
        if node.bypassed or module_id in held or not node.module.can_note_at():
            return self._hold(node, held)
        for other in downstream:
            module = other.module
            if module.ignores_notes:
                continue
            if other.bypassed or other.module_id in held or not module.can_note_at():
                return self._hold(node, held)
        ahead = self._ahead
        node.module.note_at(at, midi, velocity, length)
        ahead.append(node.module)
        if node.asleep:
            self._wake(node)
        for other in downstream:
            module = other.module
            if not module.ignores_notes:
                module.note_at(at, midi, velocity, length)
                ahead.append(module)
            if other.asleep:
                self._wake(other)
        return True

    @staticmethod
    def _hold(node: Node, held: set[str]) -> bool:
        held.add(node.module_id)
        held.update(other.module_id for other in node.downstream)
        return False

    @property
    def whole_blocks(self) -> bool:
        """Whether `render` renders a block in one piece (no lfo to tick inside it)."""
        return not (self._lfos and self._targets)

    def release(self, module_id: str) -> None:
        """Let a module's sounding notes go into their release."""
        module = self.modules.get(module_id)
        if module is not None:
            module.release_all()
            self._wake_id(module_id)

    def set_param(self, module_id: str, param: str, value: float) -> None:
        """Set a parameter already checked to be in range (a sequencer lane's value)."""
        params = self.patch.modules[module_id]["params"]
        if param in params:
            params[param] = value
            self._set(module_id, param)

    def set_tempo(self, bpm: float) -> None:
        """The tempo the modules hear (tempo-synced times follow it): only the modules that
        listen to it are told, so a tempo change costs what it touches."""
        self.tempo = float(bpm)
        for module_id, module in self._tempo_listeners.items():
            module.tempo_changed(self.tempo)
            self._wake_id(module_id)

    # -- sleeping and waking ----------------------------------------------------------------

    def _wake_id(self, module_id: str) -> None:
        node = self._nodes.get(module_id)
        if node is not None:
            self._wake(node)

    def _wake(self, node: Node) -> None:
        """Render `node` again from the next sample on (something reached it)."""
        if not node.asleep:
            return
        node.asleep = False
        self._catch_up(node)
        bisect.insort(self._awake, node, key=rank_of)

    def _catch_up(self, node: Node) -> None:
        """Move a sleeping module's clocks to the present: its skipped samples at once."""
        if self.clock > node.slept_at:
            node.module.skip(self.clock - node.slept_at)
        node.slept_at = self.clock

    def _retarget(self, node: Node) -> None:
        node.retarget()
        self._wake(node)

    # -- structural changes, each for what it touches ---------------------------------------

    def _new_node(self, module_id: str, module: Module) -> Node:
        node = Node(module_id, module, self.max_block)
        node.crumb = crumb_of(module_id)
        node.plugin = self.guard.row_of(module.TYPE)
        self._unbound.append(module)
        if node.crumb in self._doomed:  # it killed the peer in the block that made it
            self.guard.quarantined(node)
            self.quarantined.append(module_id)
        return node

    def _create(self, module_id: str, module_type: str) -> None:
        module = create_module(module_type, self.sample_rate, self.max_block)
        module.reseed(zlib.crc32(module_id.encode()))
        module.tempo_changed(self.tempo)
        self.modules[module_id] = module
        if _hears_tempo(module):
            self._tempo_listeners[module_id] = module
        if isinstance(module, Lfo):
            self._lfos[module_id] = module
            return
        node = self._new_node(module_id, module)
        node.slept_at = self.clock
        self._nodes[module_id] = node
        self._routing.add(node)
        self._awake.append(node)  # the last in the order
        self._level(node)

    def _connect(self, src_id: str, dst_id: str) -> None:
        src = self._nodes[src_id]
        dst = None if dst_id == MASTER else self._nodes[dst_id]
        for node in self._routing.connect(src, dst, 0.0):
            self._retarget(node)
        self._retarget(src)
        self._sort_awake()
        self._paths_changed(src)

    def _disconnect(self, src_id: str, dst_id: str) -> None:
        src = self._nodes[src_id]
        dst = None if dst_id == MASTER else self._nodes[dst_id]
        self._routing.cut(self._routing.routes[(src, dst)], self._fade_samples)
        self._wake(src)  # the route fades out
        self._paths_changed(src)

    def _remove(self, module_id: str) -> None:
        module = self.modules.pop(module_id)
        self._tempo_listeners.pop(module_id, None)
        if module_id in self._lfos:
            del self._lfos[module_id]
            self._drop_modulations(module_id, cast(Lfo, module))
            return
        node = self._nodes.pop(module_id)
        self._drop_modulations(module_id)
        feeding = list(Routing.upstream(node))[1:]
        node.fade_left = self._fade_samples
        node.level = 0.0
        if node.routes:  # heard somewhere: fade out, its routes (both ways) kept meanwhile
            self._retarget(node)
            self._removing.append(node)
        else:
            self._drop_node(node)
        for other in feeding:
            self._refresh_downstream(other)
        if node in self._soloed:
            self._soloed.remove(node)
            self._relevel_all()
        elif self._soloed:
            self._resolo()

    def _paths_changed(self, src: Node) -> None:
        """After a route from `src` came or went: what notes reach, and who solo lets through."""
        for node in Routing.upstream(src):
            self._refresh_downstream(node)
        if self._soloed:
            self._resolo()

    @staticmethod
    def _refresh_downstream(node: Node) -> None:
        node.downstream = [
            other for other in Routing.downstream(node) if other is not node and other.processor
        ]

    def _set(self, module_id: str, name: str) -> None:
        value = self.patch.modules[module_id]["params"][name]
        module = self.modules[module_id]
        module.set_param(name, value)
        target = self._target_index.get((module_id, name))
        if target is not None:
            self._modulate(target)
        node = self._nodes.get(module_id)
        if node is None:
            return
        self._wake(node)
        if name == "solo":
            soloed = value >= 0.5
            if soloed != (node in self._soloed):
                if soloed:
                    self._soloed.append(node)
                else:
                    self._soloed.remove(node)
                self._relevel_all()
        elif name == "mute":
            self._level(node)
        elif name in ("volume", "pan"):
            self._retarget(node)

    # -- mute and solo ----------------------------------------------------------------------

    def _heard(self, node: Node) -> bool:
        # .get: a user module may declare only volume and pan.
        if node.module.params.get("mute", 0.0) >= 0.5:
            return False
        return not self._soloed or node in self._heard_with_solo

    def _level(self, node: Node) -> None:
        node.level = 1.0 if self._heard(node) else 0.0
        self._retarget(node)

    def _relevel_all(self) -> None:
        """Solo came or went: every module may change (it touches them all)."""
        self._heard_with_solo = Routing.related(self._soloed) if self._soloed else set()
        for node in self._nodes.values():
            self._level(node)

    def _resolo(self) -> None:
        """The paths changed while something is soloed: relevel the modules they moved."""
        before = self._heard_with_solo
        self._heard_with_solo = Routing.related(self._soloed)
        for node in before ^ self._heard_with_solo:
            if node.live:
                self._level(node)

    # -- modulation -------------------------------------------------------------------------

    def _add_modulation(self, src: str, dst: str, name: str) -> None:
        target = self._target_index.get((dst, name))
        if target is None:
            module = self.modules[dst]
            spec = next(s for s in module.PARAMS if s.name == name)
            target = _Target(dst, module, name, spec, [], self._nodes.get(dst))
            self._target_index[(dst, name)] = target
            self._targets.append(target)
        target.sources.append(self._lfos[src])
        self._modulate(target)

    def _drop_modulations(self, module_id: str, lfo: Lfo | None = None) -> None:
        """Forget the modulations of a removed module: those `lfo` made, or those of the
        module `module_id`. A target left without an lfo returns to its set value."""
        for key, target in list(self._target_index.items()):
            if lfo is not None and lfo in target.sources:
                target.sources.remove(lfo)
                if target.sources:
                    self._modulate(target)
                    continue
                target.module.unmodulate(target.name)
            elif target.module_id != module_id:
                continue
            del self._target_index[key]
            self._targets.remove(target)

    def _modulate(self, target: _Target) -> None:
        """Drive one target from the last values of its lfos."""
        amount = 0.0
        for lfo in target.sources:
            amount += lfo.value * lfo.param("depth")
        module = target.module
        center = module.param(target.name)
        module.modulate(target.name, modulated_value(target.spec, center, amount))
        if target.node is not None:
            self._wake(target.node)
            if target.name in ("volume", "pan"):
                self._retarget(target.node)

    def _tick(self) -> None:
        """One control tick: every lfo takes its value and advances `GRID` samples."""
        for lfo in self._lfos.values():
            lfo.tick(GRID)
        for target in self._targets:
            self._modulate(target)

    # -- audio ----------------------------------------------------------------------------

    def render(self, out: npt.NDArray[np.float32], n: int, offset: int = 0) -> None:
        """Render `n` ≤ `max_block` stereo frames into `out[offset:offset+n, :2]`.

        `out` is a C-contiguous float32 array of at least 2 columns. A module that raises is
        skipped for the block (counted in `module_error_count`); one that outputs non-finite
        samples is silenced. Advances `clock` by `n`. Allocates nothing, but for the few
        bytes of dropping what faded out in the block before (a route or module each time),
        so that a cut route costs nothing while no command comes.
        """
        if n > self.max_block:
            raise ValueError(f"block of {n} frames exceeds max_block {self.max_block}")
        if self._stale:
            self.drop_finished()
        if not self._lfos:
            self._render(out, n, offset)
            self.clock += n
        elif not self._targets:
            # Nothing to modulate: the lfos only keep time, the block need not be split.
            first = -(-self.clock // GRID) * GRID
            for _ in range(first, self.clock + n, GRID):
                self._tick()
            self._render(out, n, offset)
            self.clock += n
        else:
            done = 0
            while done < n:
                into = self.clock % GRID
                if into == 0:
                    self._tick()
                step = min(n - done, GRID - into)
                self._render(out, step, offset + done)
                self.clock += step
                done += step
        self.guard.settle()
        if self._ahead:  # what a module not rendered in the block did not take
            for module in self._ahead:
                module.flush_notes()
            self._ahead.clear()
        if self._unbound:  # rare: a module made before its kernels were compiled
            for module in self._unbound:
                module.bind_kernels()
            self._unbound.clear()
            self._bind_strips()

    def _render(self, out: npt.NDArray[np.float32], n: int, offset: int) -> None:
        finished = False
        crumb = self._crumb_cell
        guard = self.guard
        coef = self._mix_coef
        awake = self._awake
        to_mono, to_both, zero = self._to_mono, self._to_both, self._zero_mono
        out_mono = self._out_mono
        i = 0
        while i < len(awake):  # grows while it runs: a node fed here wakes after this one
            node = awake[i]
            i += 1
            m = n
            routes = node.routes
            if node.fade_left < 0 and len(routes) == 1 and routes[0].fade_left < 0:
                only: Route | None = routes[0]  # the common case: one route, in the patch
                only.span = n  # type: ignore[union-attr]
                playing = 1
            else:
                if node.fade_left == 0:
                    continue  # faded out after removal; dropped at the next patch change
                m, playing, only = self._spans(node, n)
                finished = finished or self._stale
            module = node.module
            mono: FloatArray | None = out_mono  # the output, if it is mono
            crumb[0] = node.crumb
            raised = False  # a processor that raised passes its input on, counted
            if node.processor:
                feed = node.feed
                if node.dual_mono and node.state_mono and feed != STEREO_FEED and not node.bypassed:
                    node.feed = NO_FEED
                    if feed == NO_FEED:
                        zero(node.inp_mono, n)  # unfed: what it held is an older block's
                    raised = not guard.mono(node, module, node.inp_mono, out_mono, n)  # type: ignore[arg-type]
                else:
                    ok, mono = self._process(node, cast(Processor, module), n)
                    raised = not ok
            elif not guard.source(node, module, out_mono, n):
                continue
            if playing:
                if mono is not None and not node.balanced:
                    strip = node.strip
                    node.balanced = strip[2] == strip[3] and strip[0] == strip[1]
                if mono is not None and node.balanced:
                    if only is not None and only.span == m and only.steady:
                        dst = only.dst  # one steady route: straight into where it goes
                        if dst is None or dst.feed == STEREO_FEED:
                            bad = to_both(only.buf, mono, True, m, node.strip, coef)
                        else:  # the first to feed it this block writes over the last one
                            first = dst.feed == NO_FEED
                            if first and m < n:
                                zero(dst.inp_mono, n)
                            add = not first or m < n
                            bad = to_mono(dst.inp_mono, mono, add, m, node.strip, coef)
                            dst.feed = MONO_FEED
                        if dst is not None and dst.asleep:
                            self._wake(dst)
                    else:
                        bad = self._strip_dual_mono(node, mono, m, n)
                else:
                    bad = self._strip_stereo(node, mono, only, m, n)
                if bad:
                    self.nonfinite_count += bad
                    module.silence()
                    guard.failed(node, FloatingPointError(f"{bad} non-finite samples"))
                    continue
            if raised:
                continue
            node.errors = 0
            if node.plugin >= 0:
                guard.passed(node)
            node.quiet_in -= 1
            if node.quiet_in > 0:
                continue  # asked now and then: it only decides when the node may sleep
            node.quiet_in = QUIET_EVERY
            if (node.bypassed or module.quiet()) and _settled(node):
                # Nothing it does would change a sample until something reaches it. What it
                # still counted down (a removal's fade, a cut route's) plays no more: over.
                if node.fade_left > 0:
                    node.fade_left = 0
                    finished = True
                for route in routes:
                    if route.fade_left > 0:
                        route.fade_left = 0
                        finished = True
                node.state_mono = True  # a quiet processor's state is all at rest
                node.asleep = True
                node.slept_at = self.clock + n
                i -= 1
                del awake[i]
        crumb[0] = 0
        self.nonfinite_count += kernels.master_block(
            self._acc, out, offset, n, self._limiter, LIMITER_THRESHOLD, self._release
        )
        if finished:
            self._stale = True  # what has faded out goes before the next block

    def _spans(self, node: Node, n: int) -> tuple[int, int, Route | None]:
        """Count down a node's fades for a block of `n`: (samples its strip plays, how many
        routes play, the one route that plays if one alone does). A fade that ends marks
        the graph stale. A cut route whose fade has ended stays listed (and silent) until
        the next command drops it."""
        m = n
        if node.fade_left >= 0:
            m = min(n, node.fade_left)
            node.fade_left -= m
            if node.fade_left == 0:
                self._stale = True
        playing = 0
        only = None
        for route in node.routes:
            if route.fade_left >= 0:
                route.span = min(m, route.fade_left)
                route.fade_left -= min(n, route.fade_left)
                if route.fade_left == 0:
                    self._stale = True
            else:
                route.span = m
            if route.span > 0:
                playing += 1
                only = route
        return m, playing, only if playing == 1 else None

    def _process(self, node: Node, module: Processor, n: int) -> tuple[bool, FloatArray | None]:
        """Run a processor on what its input holds: (whether it ran without raising, its
        mono output or None if stereo).

        A dual-mono input (or none) goes through the mono kernel when the module has one
        and its channels' state is the same: the same samples for half the work."""
        feed = node.feed
        node.feed = NO_FEED
        mono = module.DUAL_MONO and node.state_mono and feed != STEREO_FEED and not node.bypassed
        if mono:
            if feed == NO_FEED:
                zero_mono(node.inp_mono, n)  # unfed: what it held is an older block's
            ok = self.guard.mono(node, module, node.inp_mono, self._out_mono, n)
        else:
            if feed == MONO_FEED:
                spread(node.inp, node.inp_mono, n)
            ok = self.guard.stereo(node, module, node.inp, self._out_stereo, n)
        if mono:
            return ok, self._out_mono
        if feed != NO_FEED:
            zero_block(node.inp, n)
            zero_mono(node.inp_mono, n)  # `spread` zeroed it unless it raised first
        if feed == STEREO_FEED:
            node.state_mono = False  # its channels heard different things
        return ok, None

    def _strip_dual_mono(self, node: Node, mono: FloatArray, m: int, n: int) -> int:
        """Through a balanced strip, a mono output stays dual-mono: into a processor whose
        input is dual-mono so far it goes as one channel, elsewhere into both (the routes
        fading, or more than one: the one-route case is in `_render`)."""
        coef = self._mix_coef
        post = self._post_mono
        bad: int = self._to_mono(post, mono, False, m, node.strip, coef)
        for route in node.routes:  # a steady route adds × 1.0: bit-exact
            if route.span == 0:
                continue
            dst = route.dst
            if dst is None or dst.feed == STEREO_FEED:
                add_faded_both(route.buf, post, route.span, route.gain, route.target, coef)
            else:
                if dst.feed == NO_FEED:
                    zero_mono(dst.inp_mono, n)  # what it held is an older block's
                add_faded_mono(dst.inp_mono, post, route.span, route.gain, route.target, coef)
                dst.feed = MONO_FEED
            if not route.steady:
                route.settle()
            if dst is not None and dst.asleep:
                self._wake(dst)
        return bad

    def _strip_stereo(
        self, node: Node, mono: FloatArray | None, only: Route | None, m: int, n: int
    ) -> int:
        """A stereo output, or a mono one panned: its destinations' inputs become stereo."""
        coef = self._mix_coef
        for route in node.routes:
            dst = route.dst
            if dst is not None and route.span > 0:
                if dst.feed == MONO_FEED:
                    spread(dst.inp, dst.inp_mono, n)
                dst.feed = STEREO_FEED
                if dst.asleep:
                    self._wake(dst)
        strip = self._strip_stereo_kernel if mono is None else self._to_both
        src = self._out_stereo if mono is None else mono
        if only is not None and only.steady and only.span == m:
            return int(strip(only.buf, src, True, m, node.strip, coef))
        bad = strip(self._post, src, False, m, node.strip, coef)
        for route in node.routes:  # a steady route adds × 1.0: bit-exact
            if route.span > 0:
                add_faded(route.buf, self._post, route.span, route.gain, route.target, coef)
                if not route.steady:
                    route.settle()
        return int(bad)

    def quarantine(self, crumb: int) -> str | None:
        """Bypass for good the module whose `crumb_of` is `crumb`; its id, or None if unknown.

        A slot calls it before rendering the block in which its peer died inside that module.
        A module made in that very block (by a command applied inside it) is not there yet:
        it is then bypassed from the moment it is made.
        """
        for node in self._nodes.values():
            if node.crumb == crumb and not node.quarantined:
                self.guard.quarantined(node)
                self._wake(node)
                self.quarantined.append(node.module_id)
                return node.module_id
        self._doomed.add(crumb)
        return None

    def reinstate(self, module_id: str) -> bool:
        """Stop bypassing a module (its code was reloaded): its errors are forgotten and it
        plays again from the next block. False if it was not bypassed."""
        node = self._nodes.get(module_id)
        if node is None or not node.bypassed:
            return False
        self.guard.reinstate(node)
        if module_id in self.quarantined:
            self.quarantined.remove(module_id)
        self._wake(node)
        return True

    def drop_finished(self) -> None:
        """Drop the routes and removed modules whose fades have ended (what they touch).

        Each command and each `state()` does it first; never the render, as it allocates."""
        if not self._stale:
            return
        self._stale = False
        routing = self._routing
        for route in [route for route in routing.fading if route.fade_left == 0]:
            routing.unlink(route)
            if route.src.live:
                self._retarget(route.src)
        if any(node.fade_left == 0 for node in self._removing):
            for node in [node for node in self._removing if node.fade_left == 0]:
                self._removing.remove(node)
                self._drop_node(node)

    def _drop_node(self, node: Node) -> None:
        """Take a node out of the render order with its routes (it is gone or faded out)."""
        if not node.asleep:
            del self._awake[bisect.bisect_left(self._awake, node.rank, key=rank_of)]
        for other in self._routing.drop(node):
            self._retarget(other)

    def _sort_awake(self) -> None:
        """After a route moved nodes in the render order, the awake ones follow."""
        if self._routing.reordered:
            self._routing.reordered = False
            self._awake.sort(key=rank_of)

    # -- state ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue rendering bit-identically in another graph.

        Routes fading in or out are included, with their gain and the samples left of their
        fade, and so are modules still fading out after their removal (under `removing`,
        named `~0`, `~1`… in `routes` and `order`, as their ids may already be taken again).
        `order` is the render order, which decides how sums round.
        """
        self.drop_finished()
        for node in self._routing.order:
            if node.asleep:
                self._catch_up(node)
        removing = {node: f"~{i}" for i, node in enumerate(self._removing)}

        def name(node: Node | None) -> str:
            return MASTER if node is None else removing.get(node, node.module_id)

        return {
            "patch": self.patch.to_dict(),
            "modules": {mid: m.state() for mid, m in self.modules.items()},
            "mix": {mid: node.gain.copy() for mid, node in self._nodes.items()},
            "routes": [
                [name(src), name(dst), float(r.gain[0]), r.fade_left]
                for (src, dst), r in self._routing.routes.items()
            ],
            "order": [name(node) for node in self._routing.order],
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
            "suspended": [mid for mid, node in self._nodes.items() if node.suspended],
            "errors_in_a_row": {
                mid: node.errors for mid, node in self._nodes.items() if node.errors
            },
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace this graph's patch and modules with those of a `state()`.

        Raises `PatchError` or `ValueError` on invalid state; then nothing has changed.
        """
        patch = Patch.from_dict(state["patch"])
        modules: dict[str, Module] = {}
        nodes: dict[str, Node] = {}
        try:
            for module_id, entry in patch.modules.items():
                module = create_module(entry["type"], self.sample_rate, self.max_block)
                module.load_state(state["modules"][module_id])
                modules[module_id] = module
                if not isinstance(module, Lfo):
                    node = self._new_node(module_id, module)
                    node.gain[:] = np.array(state["mix"][module_id], dtype=np.float64).reshape(2)
                    nodes[module_id] = node
            modulated = {str(k): float(v) for k, v in dict(state.get("modulated", {})).items()}
            clock = int(state.get("clock", 0))
            fading = self._removing_state(state)
            known = {**nodes, **fading}
            routes = self._route_state(patch, modules, fading, state)
            routing = Routing(self._acc)
            routing.set_order(self._order_state(state, known, routes))
            for src_id, dst_id, gain, fade_left in routes:
                dst = None if dst_id == MASTER else known[dst_id]
                buf = self._acc if dst is None else dst.inp
                target = 1.0 if fade_left < 0 else 0.0
                route = Route(known[src_id], dst, buf, np.full(1, gain), target, fade_left)
                routing.link(route)
            for src_id, dst_id in patch.connections:  # an older state without routes
                dst = None if dst_id == MASTER else nodes[dst_id]
                if (nodes[src_id], dst) not in routing.routes:
                    routing.connect(nodes[src_id], dst, 1.0)
        except (KeyError, TypeError, ValueError) as exc:
            raise PatchError(f"invalid graph state: {exc}") from exc
        self.patch = patch
        self.modules = modules
        self._nodes = nodes
        self._lfos = {mid: m for mid, m in modules.items() if isinstance(m, Lfo)}
        self._tempo_listeners = {mid: m for mid, m in modules.items() if _hears_tempo(m)}
        self._removing = list(fading.values())
        self._routing = routing
        routing.reordered = False
        self._awake = list(routing.order)
        self._stale = False
        self.tempo = float(state.get("tempo", patch.tempo))
        for module in self.modules.values():
            module.tempo_changed(self.tempo)
        self._limiter[0] = float(state["limiter"])
        self._acc[:] = 0.0
        self.clock = clock
        for node in self._awake:
            node.slept_at = clock
        self.quarantined = [str(mid) for mid in state.get("quarantined", [])]
        self.guard.suspended[:] = [str(mid) for mid in state.get("suspended", [])]
        for module_id in self.quarantined:
            if module_id in self._nodes:
                self._nodes[module_id].quarantined = True
                self._nodes[module_id].bypassed = True
        for module_id in self.guard.suspended:
            if module_id in self._nodes:
                self._nodes[module_id].suspended = True
                self._nodes[module_id].bypassed = True
        for module_id, errors in dict(state.get("errors_in_a_row", {})).items():
            if module_id in self._nodes:
                self._nodes[module_id].errors = int(errors)
        for node in self._nodes.values():
            self._refresh_downstream(node)
        self._soloed = [
            node for node in nodes.values() if node.module.params.get("solo", 0.0) >= 0.5
        ]
        self._relevel_all()
        self._target_index = {}
        self._targets = []
        for lfo_id, dst_id, param in patch.modulations:
            self._add_modulation(lfo_id, dst_id, param)
        for key, value in modulated.items():
            module_id, name = key.split("/")
            self.modules[module_id].modulate(name, value)
        for node in [*self._nodes.values(), *self._removing]:
            node.retarget()  # all awake already

    @staticmethod
    def _order_state(
        state: dict[str, Any], known: dict[str, Node], routes: list[tuple[str, str, float, int]]
    ) -> list[Node]:
        """The render order of a `state()`; for an older state without one, an order in which
        every node follows those it hears (ties in creation order)."""
        names = state.get("order")
        if names is not None:
            if sorted(map(str, names)) != sorted(known):
                raise ValueError("the render order does not list every module once")
            return [known[str(name)] for name in names]
        indegree = dict.fromkeys(known, 0)
        for _, dst, _, _ in routes:
            if dst != MASTER:
                indegree[dst] += 1
        ready = [name for name, count in indegree.items() if count == 0]
        order: list[str] = []
        while ready:
            name = ready.pop(0)
            order.append(name)
            for src, dst, _, _ in routes:
                if src == name and dst != MASTER:
                    indegree[dst] -= 1
                    if indegree[dst] == 0:
                        ready.append(dst)
        if len(order) != len(known):
            raise ValueError("the routes make a loop")
        return [known[name] for name in order]

    def _removing_state(self, state: dict[str, Any]) -> dict[str, Node]:
        """The modules of a `state()` still fading out after removal, by their `~i` names."""
        fading: dict[str, Node] = {}
        for i, (module_id, module_type, module_state, gain, fade_left) in enumerate(
            state.get("removing", [])
        ):
            module = create_module(str(module_type), self.sample_rate, self.max_block)
            module.load_state(module_state)
            if isinstance(module, Lfo) or int(fade_left) <= 0:
                raise ValueError(f"removed module {module_id!r} cannot be fading out")
            node = self._new_node(str(module_id), module)
            node.gain[:] = np.array(gain, dtype=np.float64).reshape(2)
            node.fade_left = int(fade_left)
            node.level = 0.0
            fading[f"~{i}"] = node
        return fading

    @staticmethod
    def _route_state(
        patch: Patch, modules: dict[str, Module], fading: dict[str, Node], state: dict[str, Any]
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
            in_patch = patch.connected(src, dst)
            if src in fading or dst in fading:
                in_patch = fade_left < 0  # kept as they were while their module fades
            if in_patch != (fade_left < 0) or fade_left == 0:
                raise ValueError(f"route {src!r} → {dst!r}: fade does not match the patch")
            seen.add((src, dst))
            routes.append((src, dst, gain, fade_left))
        return routes

    # -- plugins --------------------------------------------------------------------------

    def swap_type(self, module_type: str, cls: type[Module]) -> list[str]:
        """Replace every module of `module_type` in the patch by a new one of `cls` (a new
        version of a plugin), in place: its routes, strip and modulations stay.

        Each new module takes the old one's state when `load_state` accepts it, else its
        parameter values (those the new version still has); either way the next block plays
        the new code, and a module bypassed for its errors plays again. A module being
        removed keeps fading with the old. Returns the ids of the modules that kept only
        their parameters.
        """
        self.drop_finished()
        reset: list[str] = []
        for module_id, old in list(self.modules.items()):
            if old.TYPE != module_type or isinstance(old, Lfo):
                continue
            node = self._nodes.get(module_id)
            if node is not None:
                self._wake(node)  # its skipped samples, in the old code
            new = cls(self.sample_rate, self.max_block)
            new.reseed(zlib.crc32(module_id.encode()))
            new.tempo_changed(self.tempo)
            try:
                new.load_state(old.state())
            except Exception:  # another version's state: its parameters are what carries over
                new = cls(self.sample_rate, self.max_block)
                new.reseed(zlib.crc32(module_id.encode()))
                new.tempo_changed(self.tempo)
                for name, value in old.params.items():
                    if name in new.params:
                        new.set_param(name, value)
                reset.append(module_id)
            self.modules[module_id] = new
            if module_id in self._tempo_listeners:
                del self._tempo_listeners[module_id]
            if _hears_tempo(new):
                self._tempo_listeners[module_id] = new
            if node is not None:
                node.module = new
                node.errors = 0
                self.reinstate(module_id)  # a suspended or quarantined one: the new code's chance
            for target in self._targets:
                if target.module is old:
                    target.module = new
                    if target.name in new.params:
                        self._modulate(target)
        return reset
