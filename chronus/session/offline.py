"""Offline rendering of a script or a live session's log: the slots' renderer, in-process,
as fast as it goes."""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from chronus.dsp.crossfade import crossfade_into
from chronus.dsp.guard import time_limit_s
from chronus.dsp.patch import Patch, PatchError
from chronus.dsp.render import Renderer, render_offline
from chronus.plugins.isolated import (
    IsolatedModule,
    Link,
    ReplayLink,
    set_link_maker,
    warm_stand_ins,
)
from chronus.plugins.ladspa.reference import ladspa_version, split_reference
from chronus.plugins.source import version_of
from chronus.session.script import Script, ScriptError, sample_of
from chronus.session.stamped_log import HostCalls, StampedSession

__all__ = [
    "CHUNK_FRAMES",
    "Refusals",
    "check_plugins",
    "check_script",
    "render_script",
    "render_session",
    "script_chunks",
    "script_frames",
    "session_chunks",
]

_FIRST_REFUSALS = 3
CHUNK_FRAMES = 1 << 16
"""Frames rendered at a time when streaming a render (512 KB of stereo float32)."""


def script_frames(script: Script, rate: int, seconds: float | None, tail: float) -> int:
    """How many frames a render lasts: `seconds` if given, else the script plus its tail."""
    length = seconds if seconds is not None else float(script.duration) + tail
    return max(0, round(length * rate))


def check_script(script: Script) -> None:
    """Apply every message to a patch, as the engine would; `ScriptError` on the first refusal.

    The language already checks what it maps, but raw OSC lines are only checked for their
    form; this catches, say, a route into a synth before any audio is rendered.
    """
    patch = Patch()
    for timed in script.messages:
        try:
            patch.apply(timed.message)
        except PatchError as exc:
            text = " ".join(str(part) for part in timed.message.to_list())
            message = f"the engine refuses {text}: {exc}"
            raise ScriptError(script.source, timed.line, message) from exc


def render_script(
    script: Script, rate: int = 48000, seconds: float | None = None, tail: float = 2.0,
    block: int = 512,
) -> npt.NDArray[np.float32]:  # fmt: skip
    """Render a script to (frames, 2) float32. Same script ⇒ same samples, bit for bit.

    Raises `ScriptError` if the engine would refuse one of its messages.
    """
    check_script(script)
    commands = [(sample_of(timed.time, rate), timed.message) for timed in script.messages]
    return render_offline(commands, script_frames(script, rate, seconds, tail), rate, block)


def _render_span(renderer: Renderer, out: npt.NDArray[np.float32], start: int, stop: int) -> None:
    """Render into frames `start`..`stop` of `out`, from wherever the renderer stands."""
    step = renderer.max_block
    for first in range(start, stop, step):
        n = min(step, stop - first)
        renderer.render(out[first : first + n], n)


def check_plugins(session: StampedSession) -> None:
    """Make sure every plugin version a session put in use is in the store, intact: the
    replay imports those copies. `ValueError` naming each one that is missing or changed."""
    uses = [m for _, m in session.commands if m.address == "/plugins/use"]
    uses += [m for commit in session.commits for m in commit.messages]
    wrong = []
    for message in uses:
        if message.address != "/plugins/use":
            continue
        name, version, path = (str(arg) for arg in message.args[:3])
        native = split_reference(path)
        try:
            if native is not None:
                intact = ladspa_version(*native) == version
            else:
                intact = version_of(Path(path).read_bytes()) == version
        except OSError:
            intact = False
        if not intact:
            wrong.append(f"{name} {version} ({path})")
    if wrong:
        raise ValueError(
            "the session used user modules that are no longer in the plugin store as they "
            f"were: {', '.join(sorted(set(wrong)))}"
        )


def render_session(session: StampedSession, frames: int) -> npt.NDArray[np.float32]:
    """Render a live session's log as the engine played it: (frames, 2) float32.

    The whole take in memory: `session_chunks` streams the same samples.
    """
    out = np.empty((frames, 2), dtype=np.float32)
    position = 0
    for piece in session_chunks(session, frames):
        out[position : position + len(piece)] = piece
        position += len(piece)
    return out


@dataclass
class Refusals:
    """Commands a render refused, as the engine's slots refused them live: how many, and
    the first few with why."""

    count: int = 0
    first: list[str] = field(default_factory=list)

    def add(self, renderer: Renderer) -> None:
        """Take the refusals of a renderer that is done."""
        self.count += renderer.error_count
        self.first.extend(list(renderer.errors)[: max(0, _FIRST_REFUSALS - len(self.first))])


def session_chunks(
    session: StampedSession, frames: int, chunk: int = CHUNK_FRAMES,
    refusals: Refusals | None = None,
) -> Iterator[npt.NDArray[np.float32]]:  # fmt: skip
    """Render a live session's log as the engine played it, `frames` in all, piece by piece
    (each about `chunk` frames; a piece is overwritten by the next, so use it at once).

    Its commands apply at their samples. At a commit, the renderer's state is copied and the
    copy takes the committed commands, as the standby did; the old sound plays until the
    commit's switch, then the two crossfade exactly as the audio I/O crossfades them, and
    the new sound goes on. Blocks the engine lost to underruns are, of course, not missing.
    User modules are imported from the plugin store, version by version, where the session
    put them in use (`ValueError` if one is no longer there as it was, or if commits
    overlap, which the engine never logs). Commands the render refuses (as the slots did
    live) are told to `refusals` once the render is done.
    """
    refusals = Refusals() if refusals is None else refusals
    check_plugins(session)
    rate, block = session.rate, session.block
    links = _ReplayLinks(session)
    set_link_maker(links)
    renderer = _renderer(rate, block)
    for sample, message in session.commands:
        renderer.schedule(sample, message)
    size = block * max(1, chunk // block)  # whole blocks: the same render calls as one span
    buffers = (np.zeros((size, 2), dtype=np.float32), np.zeros((size, 2), dtype=np.float32))
    position = 0
    for commit in sorted(session.commits, key=lambda c: c.stamp):
        if commit.stamp >= frames:
            break
        if commit.stamp < position:
            raise ValueError(f"the commit at sample {commit.stamp} overlaps the one before it")
        yield from _span_chunks(renderer, position, commit.stamp, buffers[0])
        new = _renderer(rate, block)
        links.joining = True
        try:
            new.load_state(pickle.loads(pickle.dumps(renderer.state())))  # as a hand-over does
        finally:
            links.joining = False
        for message in commit.messages:
            new.schedule(commit.stamp, message)
        switch = min(commit.switch, frames)
        end = min(commit.switch + commit.crossfade, frames)
        pieces = zip(
            _span_chunks(renderer, commit.stamp, end, buffers[0]),
            _span_chunks(new, 0, end - commit.stamp, buffers[1]),
            strict=True,
        )
        first = commit.stamp
        for old, heard in pieces:
            fade_from = max(first, switch)
            if fade_from < first + len(old):
                faded = old[fade_from - first :]
                fresh = heard[fade_from - first :]
                span = len(faded)
                scratch = (
                    np.zeros((span, 1)),
                    np.zeros((span, 1), dtype=np.float32),
                    np.zeros((span, 1), dtype=np.float32),
                    np.zeros((span, 2), dtype=np.float32),
                    np.arange(span, dtype=np.float64).reshape(-1, 1),
                )
                crossfade_into(faded, faded, fresh, fade_from - switch, commit.crossfade, scratch)
            yield old
            first += len(old)
        refusals.add(renderer)
        renderer, position = new, end
    yield from _span_chunks(renderer, position, frames, buffers[0])
    refusals.add(renderer)


def script_chunks(
    script: Script, rate: int = 48000, seconds: float | None = None, tail: float = 2.0,
    block: int = 512, chunk: int = CHUNK_FRAMES,
) -> Iterator[npt.NDArray[np.float32]]:  # fmt: skip
    """`render_script`'s samples, piece by piece (see `session_chunks`), bit for bit.

    Raises `ScriptError` (before the first piece) if the engine would refuse a message.
    """
    check_script(script)
    renderer = _renderer(rate, block)
    for timed in script.messages:
        renderer.schedule(sample_of(timed.time, rate), timed.message)
    frames = script_frames(script, rate, seconds, tail)
    buffer = np.zeros((block * max(1, chunk // block), 2), dtype=np.float32)
    return _span_chunks(renderer, 0, frames, buffer)


def _span_chunks(
    renderer: Renderer, start: int, stop: int, buffer: npt.NDArray[np.float32]
) -> Iterator[npt.NDArray[np.float32]]:
    """Frames `start`..`stop` from wherever the renderer stands, in pieces of `buffer`'s
    length (whole blocks), each rendered into `buffer` and yielded as a view of it."""
    size = len(buffer)
    for first in range(start, stop, size):
        piece = buffer[: min(size, stop - first)]
        piece.fill(0.0)
        _render_span(renderer, piece, 0, len(piece))
        yield piece


class _ReplayLinks:
    """How an offline render's isolated modules are served: in this process, each call
    bypassed where the log says it was and a fresh instance where a host started.

    Each module made gets the calls of its own life (the log counts the modules made under
    an id); a module that joins a commit's new sound (`joining`) shares the link of the one
    it copies, as the two slots share a ring, so that one host renders each call."""

    def __init__(self, session: StampedSession) -> None:
        self.session = session
        self.ids = {zlib.crc32(module_id.encode()): module_id for module_id in session.hosts}
        self.links: dict[int, ReplayLink] = {}
        self.lives: dict[int, int] = {}
        self.joining = False

    def __call__(self, type_name: str, salt: int) -> Link | None:
        from chronus.dsp.catalog import MODULE_TYPES

        stand_in = MODULE_TYPES.get(type_name)
        if stand_in is None or not issubclass(stand_in, IsolatedModule):
            return None
        if self.joining and salt in self.links:
            return self.links[salt]
        life = self.lives[salt] = self.lives.get(salt, -1) + 1
        calls = self.session.hosts.get(self.ids.get(salt, ""), HostCalls()).life(life)
        session = self.session
        link = ReplayLink(
            stand_in.HOSTED, session.rate, session.block, calls.bypassed,
            frozenset(calls.fresh), calls.ended_down,
        )  # fmt: skip
        self.links[salt] = link
        return link


def _renderer(rate: int, block: int) -> Renderer:
    """A renderer whose plugin calls are held to the time limit a slot holds them to, so
    that a module stopped live is stopped here at the same call."""
    renderer = Renderer(rate, block)
    warm_stand_ins(rate, block)  # an isolated module's kernels, never compiled in its call
    renderer.graph.guard.limit_time(time_limit_s(rate, block))
    return renderer
