"""The one render path: stamped commands applied at their exact sample, then the graph.

The engine's slots and offline rendering both drive a `Renderer`, so a live session and its
offline replay produce the same samples.

>>> from chronus.protocol import validate
>>> audio = render_offline(
...     [(0, validate("/patch/create", ("lead", "saw"))),
...      (0, validate("/patch/connect", ("lead", "master"))),
...      (480, validate("/note/lead", (69, 100, 0.01)))],
...     frames=4800)
>>> audio.shape, audio.dtype, bool(audio[:480].any()), bool(audio[480:].any())
((4800, 2), dtype('float32'), False, True)
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from chronus.dsp.ahead import Ahead
from chronus.dsp.crumbs import crumb_of
from chronus.dsp.graph import Graph
from chronus.dsp.guard import MODULE_ERRORS, call_mono, call_source, call_stereo, time_limit_s
from chronus.dsp.idle import warm_idle
from chronus.dsp.lfo import Lfo
from chronus.dsp.module import Module, Processor
from chronus.dsp.specs import MODULATOR_TYPES, PROCESSOR_TYPES, module_types
from chronus.dsp.strips import warm_strips
from chronus.protocol import Arg, Message, validate
from chronus.seq.sequencer import Sequencer
from chronus.seq.track import Performer

__all__ = ["Renderer", "render_offline"]

MAX_ERRORS = 64
PROGRESS_EVERY = 16
"""Commands applied between two calls of `Renderer.progress`."""


class Renderer:
    """Applies stamped commands sample-accurately and renders blocks of the graph.

    `position` is the absolute frame of the next frame to render. A command stamped inside
    a block splits the block there, so a note starts on its exact sample. Commands with the
    same stamp apply in the order they were scheduled; a stamp already in the past applies at
    `position` and counts in `late_count`. Errors from bad commands never escape `render`:
    they count in `error_count` and their text goes to `errors` (the last `MAX_ERRORS`).
    """

    def __init__(self, sample_rate: int = 48000, max_block: int = 128) -> None:
        self.sample_rate = int(sample_rate)
        self.max_block = int(max_block)
        self.graph = Graph(self.sample_rate, self.max_block)
        self.sequencer = Sequencer(self.sample_rate)
        self.position = 0
        self.late_count = 0
        self.error_count = 0
        self.errors: deque[str] = deque(maxlen=MAX_ERRORS)
        self.max_apply_ns = 0
        """The longest any one command took to apply (its checks and its change)."""
        self.slowest_command = ""
        """The address of that command."""
        self.apply_ns = 0
        """Time spent applying commands since the slot last took it (`take_apply_ns`)."""
        self.progress: Callable[[], None] | None = None
        """Called every `PROGRESS_EVERY` commands applied in one go: a slot beats its heart
        there, so a long batch is not taken for a hang."""
        self._queue: list[tuple[int, int, Message]] = []
        self._arrivals = 0
        self.plugins: dict[str, tuple[str, str, str]] = {}
        """The plugins in use: name → (version, the store's copy of it, `inline` or
        `isolated`)."""
        self.fire_ahead = True
        """Fire the sequencer's events inside a block ahead, into the modules (`Ahead`),
        instead of splitting the block at them: the same samples, for less work."""
        self._ahead = Ahead(self.graph)

    @property
    def pending(self) -> int:
        """How many scheduled commands have not been applied yet."""
        return len(self._queue)

    def schedule(self, sample: int, message: Message) -> None:
        """Apply `message` when rendering reaches frame `sample`."""
        sample = int(sample)
        if sample < self.position:
            self.late_count += 1
            sample = self.position
        heapq.heappush(self._queue, (sample, self._arrivals, message))
        self._arrivals += 1

    def take_apply_ns(self) -> int:
        """The time spent applying commands since the last call (0 if none were)."""
        took, self.apply_ns = self.apply_ns, 0
        return took

    def render(self, out: npt.NDArray[np.float32], n: int) -> None:
        """Render `n` ≤ `max_block` frames into `out[:n, :2]` and advance `position` by n.

        `out` must be C-contiguous float32 with at least 2 columns.
        """
        if n > self.max_block:
            raise ValueError(f"block of {n} frames exceeds max_block {self.max_block}")
        queue = self._queue
        sequencer = self.sequencer
        graph = self.graph
        ahead = self._ahead
        start = self.position
        end = start + n
        done = start
        while True:
            applied = 0
            while queue and queue[0][0] <= done:
                self._apply(heapq.heappop(queue)[2], done)
                applied += 1
                if applied % PROGRESS_EVERY == 0 and self.progress is not None:
                    self.progress()
            if sequencer.next_sample <= done:
                self._fire(done, graph)
            limit = min(queue[0][0], end) if queue else end
            stop = min(limit, max(sequencer.next_sample, done + 1))
            fire_ahead = self.fire_ahead and graph.whole_blocks
            while fire_ahead and stop < limit and sequencer.next_sample == stop:
                ahead.at = stop - done  # the notes go inside the piece from `done`
                self._fire(stop, ahead)
                if ahead.held or sequencer.next_sample <= stop:
                    break  # something waits for `stop` itself: the piece ends there
                stop = min(limit, sequencer.next_sample)
            if stop > done:
                graph.render(out, stop - done, done - start)
                done = stop
            if ahead.held:
                self._play_held()
            if done >= end:
                break
        self.position = end

    def _apply(self, message: Message, sample: int) -> None:
        began = time.perf_counter_ns()
        self._change(message, sample)
        took = time.perf_counter_ns() - began
        self.apply_ns += took
        if took > self.max_apply_ns:
            self.max_apply_ns = took
            self.slowest_command = message.address

    def _change(self, message: Message, sample: int) -> None:
        try:
            address = message.address
            if address.startswith("/seq/") or address == "/tempo":
                self._sequence(message, sample)
            elif address.startswith("/plugins/"):
                self._plugin(message)
            else:
                self.graph.apply(message)
                if address == "/patch/remove":
                    self.sequencer.forget(str(message.args[0]))
        except MODULE_ERRORS as exc:  # a bad command (or module code) is reported, never fatal
            self.error_count += 1
            self.errors.append(f"{message.address}: {exc}")

    def _sequence(self, message: Message, sample: int) -> None:
        """Tempo and sequencer commands: the patch checks them, the sequencer times them."""
        graph, sequencer = self.graph, self.sequencer
        if message.address == "/seq/stop":  # the graph checks it and releases every note
            graph.apply(message)
            sequencer.stop(graph)
            return
        graph.patch.apply(message)
        args = message.args
        if message.address == "/tempo":
            sequencer.tempo(float(args[0]), len(args) > 1 and int(args[1]) == 1, sample, graph)
        elif message.address == "/seq/start":
            sequencer.start(sample)
        else:
            _, _, module_id, action = message.address.split("/")
            sequencer.track_message(module_id, action, args, sample, graph)

    def _plugin(self, message: Message) -> None:
        """`/plugins/use`: the type is this version from now on (its modules swapped to it);
        `/plugins/forget`: the type is gone. A slot imported the code ahead (see
        `chronus.plugins.runtime.prepare`); an offline render imports it here."""
        from chronus.plugins import runtime  # plugins import the dsp, not the other way

        name = str(message.args[0])
        if message.address == "/plugins/forget":
            runtime.forget(name)
            self.plugins.pop(name, None)
            return
        version, path = str(message.args[1]), str(message.args[2])
        hosting = str(message.args[3]) if len(message.args) > 3 else "inline"
        cls = runtime.use(name, version, path, hosting, self.sample_rate)
        self.plugins[name] = (version, path, hosting)
        self.graph.swap_type(name, cls)

    def _fire(self, sample: int, performer: Performer) -> None:
        try:
            self.sequencer.fire(sample, performer)
        except MODULE_ERRORS as exc:  # a module that refuses a note must not stop the others
            self._sequencer_error(exc)
            self.sequencer.replan()

    def _play_held(self) -> None:
        """What the sequencer did ahead that had to wait for its sample (now)."""
        for action, args in self._ahead.take_held():
            try:
                action(*args)
            except MODULE_ERRORS as exc:
                self._sequencer_error(exc)

    def _sequencer_error(self, exc: BaseException) -> None:
        self.error_count += 1
        self.errors.append(f"sequencer: {exc}")

    def warm_up(self, types: Sequence[str] | None = None) -> list[str]:
        """Compile and exercise every kernel on a throwaway graph of every module type (or of
        `types`, the first of them a source: a share of the work, see `warm_up_cold`).

        Numba compiles on first call (or loads its on-disk cache); doing it here keeps that
        out of the first real block. Block sizes 1 and `max_block` are both exercised, and
        so are chains through every processor, fan-out, an lfo, mute, solo and removal, and
        every processor's dual-mono path.
        Returns the errors of the throwaway graph (none when every module behaved).
        """
        scratch = Renderer(self.sample_rate, self.max_block)

        def at(sample: int, address: str, *args: Arg) -> None:
            scratch.schedule(sample, validate(address, args))

        sources: list[str] = []
        for i, module_type in enumerate(types or module_types()):
            module_id = f"warm{i}"
            at(0, "/patch/create", module_id, module_type)
            if module_type in MODULATOR_TYPES:
                at(0, "/patch/modulate", module_id, "warm0", "volume")
                continue
            if module_type not in PROCESSOR_TYPES:
                sources.append(module_id)
                at(3, f"/note/{module_id}", 60, 100, 0.01)
                at(5, f"/gate/{module_id}", 1)
                at(7, f"/gate/{module_id}", 0)
            elif sources:
                at(0, "/patch/connect", sources[0], module_id)
            at(0, "/patch/connect", module_id, "master")
            at(0, f"/mod/{module_id}/volume", -6.0)
        if sources:
            at(9, f"/mod/{sources[0]}/solo", 1)
            at(11, f"/mod/{sources[0]}/mute", 1)
            at(13, "/patch/remove", sources[0])
        out = np.zeros((self.max_block, 2), dtype=np.float32)
        scratch.render(out, 1)
        while scratch.position < 4 * self.max_block + 2 * self.sample_rate // 1000 * 30:
            scratch.render(out, self.max_block)
        errors = list(scratch.errors)
        for module_id in list(scratch.graph.modules):  # the bypass of a quarantined module
            scratch.graph.quarantine(crumb_of(module_id))
        scratch.render(out, self.max_block)
        if scratch.graph.module_error_count:
            errors.append(scratch.graph.last_module_error)
        mono_in = np.zeros(self.max_block)
        mono_out = np.zeros(self.max_block)
        stereo_in = np.zeros((self.max_block, 2))
        stereo_out = np.zeros((self.max_block, 2))
        for module in scratch.graph.modules.values():  # both paths of every processor
            if isinstance(module, Processor):
                for n in (1, self.max_block):
                    call_stereo(module, stereo_in, stereo_out, n)
                    if module.DUAL_MONO:
                        call_mono(module, mono_in, mono_out, n)
                if module.DUAL_MONO:
                    module.channels_equal()
        for module in scratch.graph.modules.values():  # their kernels for notes inside a block
            if type(module).note_at is not Module.note_at:
                for n in (1, self.max_block):
                    module.note_at(n // 2, 60.0, 127.0, 4)
                    if isinstance(module, Processor):
                        call_stereo(module, stereo_in, stereo_out, n)
                        module.note_at(n // 2, 60.0, 127.0, 4)
                        call_mono(module, mono_in, mono_out, n)
                    else:
                        call_source(module, mono_out, n)
        warm_strips(self.max_block)
        warm_idle()
        for module in scratch.graph.modules.values():  # their idle tests, and the lfo's
            module.quiet()
            module.skip(1)
            if isinstance(module, Lfo):
                call_source(module, mono_in, self.max_block)
        return errors

    # -- state ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """`position`, the graph's state and the commands scheduled but not yet applied."""
        pending = [(sample, message) for sample, _, message in sorted(self._queue)]
        return {
            "position": self.position,
            "graph": self.graph.state(),
            "sequencer": self.sequencer.state(),
            "pending": pending,
            "plugins": {name: list(code) for name, code in self.plugins.items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from another renderer's `state()`, its pending commands included.

        The plugins it used are put in use first (imported if this process has not yet).
        """
        plugins = {
            str(k): (str(v[0]), str(v[1]), str(v[2]) if len(v) > 2 else "inline")
            for k, v in state.get("plugins", {}).items()
        }
        if plugins:
            from chronus.plugins import runtime

            for name, (version, path, hosting) in plugins.items():
                runtime.use(name, version, path, hosting, self.sample_rate)
        self.graph.load_state(state["graph"])
        self.plugins = plugins
        if "sequencer" in state:
            self.sequencer.load_state(state["sequencer"])
        self.position = int(state["position"])
        self._queue.clear()
        self._arrivals = 0
        for sample, message in state.get("pending", []):
            self.schedule(int(sample), message)


def render_offline(
    commands: Iterable[tuple[int, Message]],
    frames: int,
    sample_rate: int = 48000,
    block: int = 512,
) -> npt.NDArray[np.float32]:
    """Render `frames` stereo frames of stamped commands as fast as possible.

    Returns a float32 array of shape (frames, 2). Uses the same `Renderer` as the engine.
    """
    renderer = Renderer(sample_rate, block)
    renderer.graph.guard.limit_time(time_limit_s(sample_rate, block))  # as a slot does
    for sample, message in commands:
        renderer.schedule(sample, message)
    out = np.zeros((frames, 2), dtype=np.float32)
    for start in range(0, frames, block):
        n = min(block, frames - start)
        renderer.render(out[start : start + n], n)
    return out
