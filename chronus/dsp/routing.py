"""The graph's nodes and routes, kept in a render order incrementally as the patch changes.

A node is a sound module with its buffers and channel strip; a route carries a node's output
(after its strip) into a processor's input or the master bus, with a gain of its own so that
it can fade in and out. `Routing` keeps every route and an order in which each node comes
after every node it hears. A change costs what it touches, as scsynth's node tree does and
Pure Data's full re-sort does not: a new node goes to the end; a new route that goes
against the order moves only the nodes between its ends that must move (Pearce and Kelly's
dynamic topological order); a dropped node or route is unlinked from its neighbours. Nothing
here walks the whole patch.

The order depends on the history of changes, not only on the patch; since the order in which
nodes add into a shared buffer decides the last bit of a sum, a hand-over carries it
(`Graph.state()` lists it) instead of recomputing it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt

from chronus.dsp.module import Module, Processor
from chronus.dsp.strips import pan_gains

__all__ = ["MONO_FEED", "NO_FEED", "STEREO_FEED", "Node", "Route", "Routing", "rank_of"]

NO_FEED, MONO_FEED, STEREO_FEED = 0, 1, 2
"""What a processor's input holds so far in a block: nothing, dual-mono only, stereo."""

FloatArray = npt.NDArray[np.float64]


@dataclass(eq=False, slots=True)
class Node:
    """A sound module with its input buffers and channel strip (smoothed stereo gain).

    Its output needs no buffer of its own: it goes through the strip into its destinations
    as soon as it is rendered, so every node writes into the graph's one scratch buffer,
    which stays in the CPU's cache however big the patch."""

    module_id: str
    module: Module
    max_block: int
    strip: FloatArray = field(default_factory=lambda: np.zeros(4))
    """The strip's gains and the targets they move to, `[gain L, gain R, target L, target R]`,
    as its kernels take them (`strips.strip_mono`)."""
    gain: FloatArray = field(init=False)
    """The strip's gains (L, R): a view of `strip`."""
    target: FloatArray = field(init=False)
    """Where they move (L, R): a view of `strip`."""
    level: float = 1.0
    """0 when muted, not soloed while something is, or being removed."""
    routes: list[Route] = field(default_factory=list)
    """The routes leading out of this module, in the patch or still fading out."""
    inputs: list[Route] = field(default_factory=list)
    """The routes leading into this module (a processor)."""
    downstream: list[Node] = field(default_factory=list)
    """The processors this module's notes reach: those it is connected to, directly or not."""
    fade_left: int = -1
    """Samples left of the fade-out of a removed module; -1 while it is in the patch."""
    quarantined: bool = False
    """Blamed by the keeper for a crash or a hang (see `guard.Guard.quarantined`)."""
    suspended: bool = False
    """Failed in too many blocks in a row (see `guard.SUSPEND_AFTER_ERRORS`)."""
    bypassed: bool = False
    """Quarantined or suspended: a source is silent, a processor passes its input through,
    until the module is reloaded."""
    errors: int = 0
    """Blocks in a row in which the module raised or output non-finite samples."""
    plugin: int = -1
    """Where the guard's table row of its plugin type starts (`Guard.row_of`); -1 for a
    built-in (not measured)."""
    crumb: int = 0
    processor: bool = False
    rank: int = 0
    """The node's place in the render order: larger comes later (not contiguous)."""
    asleep: bool = False
    """Skipped until something reaches it: its module was quiet, its strip and routes
    settled (see `Graph`). Whatever changes any of them wakes it."""
    slept_at: int = 0
    """The sample up to which its module has been rendered or skipped, while asleep."""
    feed: int = 0
    """What was added into this processor's input since it last rendered: `NO_FEED`,
    `MONO_FEED` (only dual-mono contributions, summed in `inp_mono`) or `STEREO_FEED` (in
    `inp`)."""
    state_mono: bool = True
    """A dual-mono processor whose two channels' state is known to be the same: a dual-mono
    input may then go through its mono kernel (see `Processor.process_mono`)."""
    balanced: bool = True
    """The strip's gains and targets are the same on both sides: a mono output stays
    dual-mono through it."""
    dual_mono: bool = False
    """The module is a processor with a dual-mono path (`Processor.DUAL_MONO`)."""
    quiet_in: int = 1
    """Blocks until the graph asks the module whether it is quiet."""
    inp: FloatArray = field(init=False)
    """What the routes into this processor add up to in a block (stereo)."""
    inp_mono: FloatArray = field(init=False)
    """The same while only dual-mono contributions came (one channel)."""

    def __post_init__(self) -> None:
        self.gain = self.strip[:2]
        self.target = self.strip[2:]
        self.processor = isinstance(self.module, Processor)
        self.dual_mono = self.processor and cast(Processor, self.module).DUAL_MONO
        block = self.max_block
        self.inp = np.zeros((block, 2) if self.processor else (1, 2))
        self.inp_mono = np.zeros(block if self.processor else 1)

    @property
    def live(self) -> bool:
        """In the patch (not fading out after its removal)."""
        return self.fade_left < 0

    def retarget(self) -> None:
        """Aim the strip at the module's volume and pan times `level` (the graph wakes the
        node: its strip may move).

        A strip that nothing hears (no route, or only routes about to fade in) jumps there.
        """
        module = self.module
        left, right = pan_gains(module.current("volume"), module.current("pan"), self.processor)
        self.target[0] = left * self.level
        self.target[1] = right * self.level
        self.balanced = left == right and self.gain[0] == self.gain[1]
        for route in self.routes:
            if route.gain[0] != 0.0:
                return
        self.gain[0] = self.target[0]
        self.gain[1] = self.target[1]
        self.balanced = left == right


@dataclass(eq=False, slots=True)
class Route:
    """One route out of a node's strip, with its own gain: 1 in the patch, 0 once cut.

    The gain moves by the mix smoothing coefficient per sample, so a new route fades in; a
    cut route (`fade_left` ≥ 0) fades out, then is dropped.
    """

    src: Node
    dst: Node | None
    """None for the master bus."""
    buf: FloatArray
    gain: FloatArray
    """The route gain, one element (0 → 1 fading in, → 0 fading out)."""
    target: float = 1.0
    fade_left: int = -1
    """Samples left of the fade-out of a cut route; -1 while it is in the patch."""
    span: int = 0
    """Samples of the current block the route still plays (its fade may end mid-block)."""
    steady: bool = False
    """In the patch at full gain: adding through it is a plain sum. Kept by `settle` (the
    render path reads it every block; the gain array is slower to ask)."""

    def __post_init__(self) -> None:
        self.settle()

    def settle(self) -> None:
        """Bring `steady` up to date after the gain or the fade changed."""
        self.steady = self.fade_left < 0 and self.gain[0] == 1.0

    @property
    def in_patch(self) -> bool:
        """A connection of the patch: not cut, between two modules still in it."""
        return self.fade_left < 0 and self.src.live and (self.dst is None or self.dst.live)


def rank_of(node: Node) -> int:
    """A node's place in the render order (a sort key)."""
    return node.rank


def _through_patch(node: Node, forward: bool) -> Iterator[Node]:
    """`node`, then every node its patch routes lead to (`forward`) or come from."""
    seen = {node}
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for route in current.routes if forward else current.inputs:
            other = route.dst if forward else route.src
            if other is not None and route.in_patch and other not in seen:
                seen.add(other)
                stack.append(other)


class Routing:
    """Routes between nodes, and the order the nodes render in, changed one piece at a time.

    `order` lists every node (removed ones still fading included) so that each comes after
    every node that has a route into it. `routes` holds every route by its ends, in the order
    they were made; `fading` the cut ones still fading out.
    """

    def __init__(self, master: FloatArray) -> None:
        self.master = master
        """The buffer routes to the master bus add into."""
        self.routes: dict[tuple[Node, Node | None], Route] = {}
        self.order: list[Node] = []
        self.fading: dict[Route, None] = {}
        self.reordered = False
        """Set when a route moved nodes in the order (whoever keeps a list of nodes sorted by
        rank sorts it again and clears this)."""
        self._next_rank = 0

    # -- nodes ----------------------------------------------------------------------------

    def add(self, node: Node) -> None:
        """Put a new node, with no routes yet, at the end of the order."""
        node.rank = self._next_rank
        self._next_rank += 1
        self.order.append(node)

    def drop(self, node: Node) -> list[Node]:
        """Take a node out, with every route to or from it; returns the live nodes whose
        routes went (their strips may need retargeting)."""
        touched: list[Node] = []
        for route in [*node.routes, *node.inputs]:
            self.unlink(route)
            other = route.dst if route.src is node else route.src
            if other is not None and other.live and other is not node:
                touched.append(other)
        del self.order[self._index(node)]
        return touched

    def _index(self, node: Node) -> int:
        index = bisect.bisect_left(self.order, node.rank, key=rank_of)
        if index >= len(self.order) or self.order[index] is not node:
            raise KeyError(f"node {node.module_id!r} is not in the render order")
        return index

    def set_order(self, nodes: list[Node]) -> None:
        """Replace the order (a hand-over); `nodes` must be in a valid render order."""
        self.order = list(nodes)
        for rank, node in enumerate(self.order):
            node.rank = rank
        self._next_rank = len(self.order)

    # -- routes ---------------------------------------------------------------------------

    def connect(self, src: Node, dst: Node | None, gain: float) -> list[Node]:
        """Make `src` → `dst` a route of the patch: a new one starting at `gain`, or a cut one
        fading back in from where its fade is. Cut routes that the new one would close a loop
        with are dropped. Returns the live nodes whose routes were dropped."""
        key = (src, dst)
        route = self.routes.get(key)
        if route is not None:
            self.fading.pop(route, None)
            route.target = 1.0
            route.fade_left = -1
            route.settle()
            return []
        dropped = self._break_loops(src, dst) if dst is not None else []
        buf = self.master if dst is None else dst.inp
        self.link(Route(src, dst, buf, np.full(1, gain)))
        return dropped

    def link(self, route: Route) -> None:
        """Add a route as it is (a new one, or one of a hand-over), moving what must move
        (then `reordered` is set)."""
        src, dst = route.src, route.dst
        self.routes[(src, dst)] = route
        src.routes.append(route)
        if dst is not None:
            dst.inputs.append(route)
            if dst.rank < src.rank:
                self._reorder(src, dst)
                self.reordered = True
        if route.fade_left >= 0:
            self.fading[route] = None

    def cut(self, route: Route, fade_samples: int) -> None:
        """Start a route's fade-out; it is dropped once `fade_samples` have played."""
        route.fade_left = fade_samples
        route.target = 0.0
        route.steady = False
        self.fading[route] = None

    def unlink(self, route: Route) -> None:
        """Remove a route at once."""
        del self.routes[(route.src, route.dst)]
        route.src.routes.remove(route)
        if route.dst is not None:
            route.dst.inputs.remove(route)
        self.fading.pop(route, None)

    def _break_loops(self, src: Node, dst: Node) -> list[Node]:
        """Drop the routes that are not in the patch (cut, or kept while a removed module fades)
        that a route `src` → `dst` would close a loop with. The patch itself has no loop, so
        every path from `dst` back to `src` runs through one of them."""
        dropped: list[Node] = []
        while (path := self._path(dst, src)) is not None:
            victim = next(route for route in path if not route.in_patch)
            self.unlink(victim)
            if victim.src.live:
                dropped.append(victim.src)
        return dropped

    def _path(self, start: Node, goal: Node) -> list[Route] | None:
        """The routes of one path from `start` to `goal`, or None (depth first, in order)."""
        seen = {start}
        stack: list[tuple[Node, int]] = [(start, 0)]
        trail: list[Route] = []
        while stack:
            node, next_out = stack[-1]
            if node is goal:
                return trail
            if next_out >= len(node.routes):
                stack.pop()
                if trail:
                    trail.pop()
                continue
            stack[-1] = (node, next_out + 1)
            route = node.routes[next_out]
            if route.dst is not None and route.dst not in seen and route.dst.rank <= goal.rank:
                seen.add(route.dst)
                trail.append(route)
                stack.append((route.dst, 0))
        return None

    def _reorder(self, src: Node, dst: Node) -> None:
        """Restore the order after a route `src` → `dst` with `dst` before `src` (Pearce-Kelly).

        The nodes `dst` leads to that are not after `src`, and the nodes leading to `src`
        that are not before `dst`, swap places among themselves: first those that lead to
        `src`, then those `dst` leads to, each group in its old order.
        """
        low, high = dst.rank, src.rank
        forward = self._reach(dst, lambda n: (r.dst for r in n.routes), lambda n: n.rank <= high)
        if src in forward:
            raise ValueError(f"a route {src.module_id!r} → {dst.module_id!r} would close a loop")
        backward = self._reach(src, lambda n: (r.src for r in n.inputs), lambda n: n.rank >= low)
        moved = sorted(backward, key=rank_of) + sorted(forward, key=rank_of)
        places = sorted(self._index(node) for node in moved)
        ranks = sorted(node.rank for node in moved)
        for node, place, rank in zip(moved, places, ranks, strict=True):
            node.rank = rank
            self.order[place] = node

    @staticmethod
    def _reach(
        start: Node, step: Callable[[Node], Iterable[Node | None]], keep: Callable[[Node], bool]
    ) -> list[Node]:
        """`start` and every node reached from it through `step` that `keep` admits."""
        seen = {start}
        found = [start]
        stack = [start]
        while stack:
            node = stack.pop()
            for other in step(node):
                if other is not None and other not in seen and keep(other):
                    seen.add(other)
                    found.append(other)
                    stack.append(other)
        return found

    # -- queries over the patch's routes ----------------------------------------------------

    @staticmethod
    def upstream(node: Node) -> Iterator[Node]:
        """`node` and every live node connected to it, directly or not, through the patch."""
        return _through_patch(node, forward=False)

    @staticmethod
    def downstream(node: Node) -> Iterator[Node]:
        """`node` and every live node it is connected to, directly or not, through the patch."""
        return _through_patch(node, forward=True)

    @classmethod
    def related(cls, nodes: Iterable[Node]) -> set[Node]:
        """The live nodes connected to or from any of `nodes` through the patch, and those."""
        found: set[Node] = set()
        for node in nodes:
            found.update(cls.upstream(node))
            found.update(cls.downstream(node))
        return found
