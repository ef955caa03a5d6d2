"""chronus against scsynth on the chain anchor: per track saw → distortion → acid ladder.

    python benchmarks/chain_vs_scsynth.py [--tracks 8 32] [--runs 5] [--block 512]
                                          [--compare OTHER_CHECKOUT ...]

The anchor (`../shared/anchors/scsynth-chain/README.md`) is a patch a user types: per track
`add a saw called vN through an acid filter`, `vN through distortion`, a 16-step pattern of
16ths at 120 bpm, 60 s (`acid8.chr`, `acid32.chr`); scsynth renders the closest equivalent
(`scoreN_60s.osc`, and `scoreN_1s.osc` to subtract its start-up).

Timed, run by run alternated (a slow spell of this shared machine slows all of them), medians:

- `chronus render SCRIPT --tail 0` as a whole process, and the render alone
  (`render_script`, blocks of 512 frames as `chronus render`, in a fresh process after
  numba's cache is loaded), for this checkout and for each `--compare` checkout (the same
  commands with that checkout first on `PYTHONPATH`: a before/after in one run);
- `scsynth -N` on the 60 s and the 1 s score: the whole process, and the difference (its
  render work, start-up subtracted);
- the same chains wired by hand around this checkout's modules, without the graph: stereo
  blocks (what the graph does today: the strip makes the saw stereo, distortion and ladder
  run on two identical channels) and dual-mono blocks (`process_mono`, until the strip
  after the ladder), on the notes the script plays. The two must give the same samples,
  bit for bit.

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from figures import add_json_flag, figures_out

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = ROOT.parent / "shared" / "anchors" / "scsynth-chain"
RATE = 48000
Event = tuple[int, str, float, float, int]
"""(sample, module id, midi, velocity, length) of a note the script plays."""


@numba.njit(cache=True)
def _scaled(src: Any, dst: Any, n: int, gain: float) -> None:
    for i in range(n):
        dst[i] = src[i] * gain


@numba.njit(cache=True)
def _spread(src: Any, dst: Any, n: int, gain: float) -> None:
    for i in range(n):
        x = src[i] * gain
        dst[i, 0] = x
        dst[i, 1] = x


@numba.njit(cache=True)
def _scaled2(src: Any, dst: Any, n: int, gain: float) -> None:
    for i in range(n):
        dst[i, 0] = src[i, 0] * gain
        dst[i, 1] = src[i, 1] * gain


@numba.njit(cache=True)
def _add_mono(src: Any, acc: Any, n: int, gain: float) -> None:
    for i in range(n):
        x = src[i] * gain
        acc[i, 0] += x
        acc[i, 1] += x


@numba.njit(cache=True)
def _add2(src: Any, acc: Any, n: int, gain: float) -> None:
    for i in range(n):
        acc[i, 0] += src[i, 0] * gain
        acc[i, 1] += src[i, 1] * gain


@dataclass
class Chain:
    """One track wired by hand: its modules, their strip gains and its buffers."""

    source: Any
    processors: list[Any]
    gains: list[float]
    """The strip gain after the source and after each processor (centre pan: one gain)."""
    mono: list[npt.NDArray[np.float64]]
    stereo: list[npt.NDArray[np.float64]]


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return float(statistics.median(values))


# -- chronus as `chronus render` runs it ---------------------------------------------------


def with_path(checkout: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(checkout)}


def whole_chronus(checkout: Path, script: Path, out: Path) -> float:
    command = [sys.executable, "-m", "chronus", "render", str(script), "-o", str(out)]
    return timed(lambda: subprocess.run([*command, "--tail", "0"], check=True,
                                        capture_output=True, env=with_path(checkout)))  # fmt: skip


def in_process(checkout: Path, script: Path) -> float:
    """The render alone, timed inside a fresh process of `checkout` (see `child`)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(script)],
        check=True, capture_output=True, text=True, env=with_path(checkout),
    )  # fmt: skip
    return float(done.stdout.split()[-1])


def child(script: Path) -> None:
    """Print the seconds `render_script` takes, after loading numba's cache."""
    from chronus.dsp.render import Renderer
    from chronus.session.offline import render_script
    from chronus.session.script import load_script_file

    Renderer(RATE, 512).warm_up()
    loaded = load_script_file(script)
    print(timed(lambda: render_script(loaded, RATE, tail=0.0)))


def scsynth(score: Path, out: Path) -> float:
    command = ["scsynth", "-i", "0", "-o", "2", "-N", str(score), "_", str(out), str(RATE)]
    return timed(lambda: subprocess.run([*command, "WAV", "float"], check=True,
                                        capture_output=True))  # fmt: skip


# -- the chains by hand ---------------------------------------------------------------------


def performed(script: Path) -> tuple[Any, list[Event], int]:
    """The patch a script builds, the notes it plays (sample-exact) and its length."""
    from chronus.dsp.render import Renderer
    from chronus.session.offline import check_script, script_frames
    from chronus.session.script import load_script_file, sample_of

    loaded = load_script_file(script)
    check_script(loaded)
    renderer = Renderer(RATE, 512)
    for timed_message in loaded.messages:
        renderer.schedule(sample_of(timed_message.time, RATE), timed_message.message)
    graph = renderer.graph
    events: list[Event] = []
    done = [0]

    def note(module_id: str, midi: float, velocity: float, length: int) -> None:
        events.append((done[0], module_id, midi, velocity, length))

    def render(out: Any, n: int, offset: int = 0) -> None:
        done[0] += n  # only the timing of the notes is wanted here

    graph.note = note  # type: ignore[method-assign]
    graph.render = render  # type: ignore[method-assign]
    frames = script_frames(loaded, RATE, None, 0.0)
    out = np.zeros((512, 2), dtype=np.float32)
    for start in range(0, frames, 512):
        renderer.render(out, min(512, frames - start))
    return graph.patch, events, frames


def chains_of(patch: Any, block: int) -> dict[str, Chain]:
    """Fresh modules for every source → … → master chain of the patch, by source id."""
    from chronus.dsp.catalog import create_module
    from chronus.dsp.graph import pan_gains

    after = dict(patch.connections)
    chains: dict[str, Chain] = {}
    for module_id in patch.modules:
        if any(dst == module_id for _, dst in patch.connections):
            continue  # not a source
        ids = [module_id]
        while ids[-1] in after and after[ids[-1]] != "master":
            ids.append(after[ids[-1]])
        modules = []
        for mid in ids:
            module = create_module(patch.modules[mid]["type"], RATE, block)
            for name, value in patch.modules[mid]["params"].items():
                module.set_param(name, value)
            modules.append(module)
        gains = [pan_gains(m.param("volume"), 0.0, i > 0)[0] for i, m in enumerate(modules)]
        chains[module_id] = Chain(
            modules[0], modules[1:], gains,
            [np.zeros(block) for _ in range(3)], [np.zeros((block, 2)) for _ in range(2)],
        )  # fmt: skip
    return chains


def _block(chains: dict[str, Chain], acc: Any, n: int, mono: bool) -> None:
    for chain in chains.values():
        src, a, b = chain.mono
        chain.source.process(src, n)
        if mono:
            _scaled(src, a, n, chain.gains[0])
            for k, processor in enumerate(chain.processors):
                processor.process_mono(a, b, n)
                if k + 1 < len(chain.processors):
                    _scaled(b, a, n, chain.gains[k + 1])
            _add_mono(b, acc, n, chain.gains[-1])
        else:
            c, d = chain.stereo
            _spread(src, c, n, chain.gains[0])
            for k, processor in enumerate(chain.processors):
                processor.process_stereo(c, d, n)
                if k + 1 < len(chain.processors):
                    _scaled2(d, c, n, chain.gains[k + 1])
            _add2(d, acc, n, chain.gains[-1])


def by_hand(
    patch: Any, events: list[Event], frames: int, block: int, mono: bool
) -> tuple[float, npt.NDArray[np.float32]]:
    """Render the chains by hand in blocks of ≤ `block`, split at the notes; (seconds, audio)."""
    from chronus.dsp.graph import LIMITER_THRESHOLD
    from chronus.dsp.kernels import master_block
    from chronus.dsp.params import smoothing_coef

    chains = chains_of(patch, block)
    downstream = {mid: chain.processors for mid, chain in chains.items()}
    audio = np.zeros((frames, 2), dtype=np.float32)
    acc = np.zeros((block, 2))
    limiter = np.ones(1)
    release = smoothing_coef(250.0, RATE)
    stops = sorted({e[0] for e in events if e[0] < frames} | {frames})
    start = time.perf_counter()
    at = 0
    next_event = 0
    for stop in stops:
        while next_event < len(events) and events[next_event][0] <= at:
            _, module_id, midi, velocity, length = events[next_event]
            chains[module_id].source.note_on(midi, velocity, length)
            for processor in downstream[module_id]:
                processor.note_on(midi, velocity, length)
            next_event += 1
        while at < stop:
            n = min(block, stop - at)
            _block(chains, acc, n, mono)
            master_block(acc, audio, at, n, limiter, LIMITER_THRESHOLD, release)
            at += n
    return time.perf_counter() - start, audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--block", type=int, default=512, help="by-hand block size")
    parser.add_argument("--compare", type=Path, nargs="*", default=[], metavar="CHECKOUT")
    parser.add_argument("--no-scsynth", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    add_json_flag(parser)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    with figures_out(args.json) as figures:
        measure(args, figures)


def measure(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Run and print the comparison; each track count's medians go into `figures`."""
    if not args.no_scsynth and shutil.which("scsynth") is None:
        print("scsynth is not installed (Debian: supercollider-server): chronus alone")
        args.no_scsynth = True
    from chronus.dsp.render import Renderer

    Renderer(RATE, args.block).warm_up()
    checkouts = {"this checkout": ROOT, **{str(c): c.resolve() for c in args.compare}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for tracks in args.tracks:
            script = ANCHOR / f"acid{tracks}.chr"
            patch, events, frames = performed(script)
            rows: dict[str, list[float]] = {}

            def add(name: str, seconds: float, rows: dict[str, list[float]] = rows) -> None:
                rows.setdefault(name, []).append(seconds)

            for _ in range(args.runs):
                for name, checkout in checkouts.items():
                    add(f"chronus render, whole process ({name})",
                        whole_chronus(checkout, script, work / "c.wav"))  # fmt: skip
                if not args.no_scsynth:
                    add("scsynth -N 60 s, whole process",
                        scsynth(ANCHOR / f"score{tracks}_60s.osc", work / "s.wav"))  # fmt: skip
                    add("scsynth -N 1 s, whole process",
                        scsynth(ANCHOR / f"score{tracks}_1s.osc", work / "s1.wav"))  # fmt: skip
                for name, checkout in checkouts.items():
                    add(f"chronus render, in-process ({name})", in_process(checkout, script))
                seconds, stereo = by_hand(patch, events, frames, args.block, mono=False)
                add(f"by hand, stereo, block {args.block}", seconds)
                seconds, mono = by_hand(patch, events, frames, args.block, mono=True)
                add(f"by hand, dual-mono, block {args.block}", seconds)
                if not np.array_equal(stereo, mono):
                    raise SystemExit("the dual-mono chains do not render the stereo samples")
            figures[str(tracks)] = report(tracks, args.runs, rows)


def report(tracks: int, runs: int, rows: dict[str, list[float]]) -> dict[str, Any]:
    """Print the medians, and ratios to scsynth: a whole process to its whole process, a render
    to its render work (the 60 s run minus the 1 s run). Returns the medians by name, with
    scsynth's render work as `scsynth render work` (0 without scsynth)."""
    sc = median(rows.get("scsynth -N 60 s, whole process", [0.0]))
    sc_work = sc - median(rows.get("scsynth -N 1 s, whole process", [0.0]))
    print(f"\n{tracks} tracks, 60 s at {RATE} Hz, median of {runs}; scsynth's render work "
          f"{sc_work:.3f} s")  # fmt: skip
    for name, values in rows.items():
        ratio = ""
        if sc > 0 and not name.startswith("scsynth"):
            ratio = f"  {median(values) / (sc if 'whole' in name else sc_work):5.2f}×"
        print(f"  {name:<52} {median(values):7.3f} s{ratio}")
    return {"runs": runs, "scsynth render work": sc_work,
            **{name: median(values) for name, values in rows.items()}}  # fmt: skip


if __name__ == "__main__":
    main()
