"""The DSP issue's reference workload, rendered by chronus and by SuperCollider's scsynth.

    python benchmarks/dsp_vs_scsynth.py [--voices 8 32 128] [--runs 5] [--seconds 60]

60 s at 48 kHz stereo of N acid voices (saw → resonant low-pass with a decaying cutoff
envelope → tanh drive → ADSR), one new note per voice every 16th at 120 bpm, gate 62.5 ms,
release 50 ms, exactly as `../shared/anchors/scsynth/README.md` describes. chronus plays it
as stamped commands through `chronus.dsp.render.render_offline`, the path `chronus render`
takes. Figures: median of `--runs`; whole-process time (a fresh interpreter that imports,
builds the commands, renders and writes a float WAV, like `chronus render`) and in-process
render time, with numba's compile or cache load timed separately. scsynth (Debian package
`supercollider-server`) renders the anchor scores, and a score for N = 128 generated here
with the same formula (checked byte for byte against the anchors' 8 and 32).

Also printed: µs per voice per 128-frame block for every module type in the catalogue.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from figures import add_json_flag, figures_out

ROOT = Path(__file__).resolve().parent.parent
ANCHORS = ROOT.parent / "shared" / "anchors" / "scsynth"
RATE = 48000
BPM = 120.0
STEP_SECONDS = 60.0 / BPM / 4.0
GATE_SECONDS = 0.0625
NOTES = (36, 36, 48, 36, 39, 36, 51, 43, 36, 46, 36, 48, 41, 36, 53, 39)
TRANSPOSE = (0, 7, 12, 3, 5, 10, -5, 15)
CUTOFF_CLASSES = 8
RQ = 0.15


def note_of(step: int, voice: int) -> int:
    """The MIDI note voice `voice` plays at 16th `step` (the anchors' formula)."""
    return NOTES[(step + voice) % 16] + TRANSPOSE[voice % 8] + 12 * ((voice // 8) % 2)


def cutoff_class(step: int, voice: int) -> int:
    """Index of the cutoff, 200 + 100 × index Hz, of voice `voice` at `step`."""
    return (5 * step + voice) % CUTOFF_CLASSES


def workload(voices: int, seconds: float) -> tuple[list[tuple[int, Any]], int]:
    """The reference workload as stamped chronus commands, and its length in frames.

    A synth's cutoff is a module parameter, not a per-note one, so the eight cutoffs of the
    formula are eight saw synths (`acid0` … `acid7`, cutoff 200 … 900 Hz) of N/8 voices
    each: every note goes to the synth of its cutoff. N voices still cost 8 kernel calls per
    block, and at most N voices sound, as in scsynth.
    """
    from chronus.protocol import validate

    per_synth = max(1, voices // CUTOFF_CLASSES)
    amp = min(1.0, 0.8 / voices * 2**0.5)  # 0.8/N per channel after the equal-power centre pan
    cmds: list[tuple[int, Any]] = []
    for c in range(CUTOFF_CLASSES):
        mid = f"acid{c}"
        cmds += [(0, validate("/patch/create", (mid, "saw"))),
                 (0, validate("/patch/connect", (mid, "master")))]  # fmt: skip
        params = {
            "voices": per_synth, "cutoff": 200 + 100 * c, "res": (2.0 - RQ) / 1.96,
            "attack": 0.003, "decay": 0.1, "sustain": 0.6, "release": 0.05,
            "env_amount": 6.0, "env_decay": 0.2, "drive": 3.0, "amp": amp, "volume": 0.0,
        }  # fmt: skip
        cmds += [(0, validate(f"/mod/{mid}/{k}", (float(v),))) for k, v in params.items()]
    step_frames = round(STEP_SECONDS * RATE)
    steps = round(seconds / STEP_SECONDS)
    for s in range(steps):
        for v in range(voices):
            msg = validate(f"/note/acid{cutoff_class(s, v)}", (note_of(s, v), 127, GATE_SECONDS))
            cmds.append((s * step_frames, msg))
    return cmds, round(seconds * RATE)


# -- scsynth scores --------------------------------------------------------------------------


def _osc_string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return raw + b"\0" * (-len(raw) % 4)


def _osc_message(address: str, *args: Any) -> bytes:
    tags = ","
    payload = b""
    for arg in args:
        if isinstance(arg, str):
            tags += "s"
            payload += _osc_string(arg)
        elif isinstance(arg, int):
            tags += "i"
            payload += struct.pack(">i", arg)
        elif isinstance(arg, float):
            tags += "f"
            payload += struct.pack(">f", arg)
        else:
            tags += "b"
            payload += struct.pack(">i", len(arg)) + arg + b"\0" * (-len(arg) % 4)
    return _osc_string(address) + _osc_string(tags) + payload


def _bundle(seconds: float, messages: list[bytes]) -> bytes:
    body = b"#bundle\0" + struct.pack(">Q", round(seconds * 2**32))
    body += b"".join(struct.pack(">i", len(m)) + m for m in messages)
    return struct.pack(">i", len(body)) + body


def make_score(voices: int, synthdef: bytes, seconds: float = 60.0) -> bytes:
    """An NRT score of the workload in the anchors' format (args at their default omitted)."""
    steps = round(seconds / STEP_SECONDS)
    out = []
    node = 1001
    for s in range(steps):
        t = s * STEP_SECONDS
        msgs = [] if s else [_osc_message("/d_recv", synthdef), _osc_message("/g_new", 1000, 0, 0)]
        ids = []
        for v in range(voices):
            args: list[Any] = []
            amp = 0.8 / voices
            if struct.pack(">f", amp) != struct.pack(">f", 0.1):
                args += ["amp", amp]
            cutoff = 200.0 + 100.0 * cutoff_class(s, v)
            if cutoff != 400.0:
                args += ["cutoff", cutoff]
            args += ["freq", 440.0 * 2.0 ** ((note_of(s, v) - 69) / 12)]
            msgs.append(_osc_message("/s_new", "acid", node, 0, 1000, *args))
            ids.append(node)
            node += 1
        out.append(_bundle(t, msgs))
        out.append(_bundle(t + GATE_SECONDS, [_osc_message("/n_set", i, "gate", 0.0) for i in ids]))
    out.append(_bundle(seconds, [b"\0\0\0\0,\0\0\0", b"\0\0\0\0,\0\0\0"]))
    return b"".join(out)


def anchor_synthdef() -> bytes:
    """The compiled `acid` SynthDef, taken from the /d_recv of the anchors' score8."""
    data = (ANCHORS / "score8.osc").read_bytes()
    at = data.index(b",b\0\0") + 4
    (size,) = struct.unpack(">i", data[at : at + 4])
    return data[at + 4 : at + 4 + size]


def scores(workdir: Path, voice_counts: list[int]) -> dict[int, Path]:
    """Score files per N: the anchors' where they exist, else generated (and checked)."""
    synthdef = anchor_synthdef()
    found: dict[int, Path] = {}
    for n in voice_counts:
        anchor = ANCHORS / f"score{n}.osc"
        if anchor.exists():
            if make_score(n, synthdef) != anchor.read_bytes():
                raise SystemExit(f"generator does not reproduce {anchor}")
            found[n] = anchor
        else:
            path = workdir / f"score{n}.osc"
            path.write_bytes(make_score(n, synthdef))
            found[n] = path
    return found


# -- timing ------------------------------------------------------------------------------------


def child(voices: int, seconds: float, out: str) -> None:
    """One whole `chronus render`-like run: import, build, render, write; prints its phases."""
    t0 = time.perf_counter()
    from chronus.dsp.render import Renderer, render_offline
    from chronus.session.wav import write_wav

    t1 = time.perf_counter()
    Renderer(RATE, 512).warm_up()  # numba's cache load (or compile) of every kernel
    t2 = time.perf_counter()
    cmds, frames = workload(voices, seconds)
    t3 = time.perf_counter()
    audio = render_offline(cmds, frames, RATE)
    t4 = time.perf_counter()
    write_wav(Path(out), audio, RATE, "float32")
    t5 = time.perf_counter()
    print(json.dumps({"import": t1 - t0, "jit": t2 - t1, "build": t3 - t2, "render": t4 - t3,
                      "write": t5 - t4}))  # fmt: skip


def whole_process(voices: int, seconds: float, out: Path) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(voices), "--seconds", str(seconds),
         "--out", str(out)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def in_process(voices: int, seconds: float, runs: int) -> list[float]:
    from chronus.dsp.render import Renderer, render_offline

    Renderer(RATE, 512).warm_up()  # JIT load is timed in the whole-process runs
    cmds, frames = workload(voices, seconds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        render_offline(cmds, frames, RATE)
        times.append(time.perf_counter() - start)
    return times


def scsynth_time(score: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["scsynth", "-i", "0", "-o", "2", "-N", str(score), "_", str(out), str(RATE), "WAV",
         "float"],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def per_module_costs(reps: int = 200) -> dict[str, float]:
    """µs per voice (synths) or per instance (others) per 128-frame block, while sounding.

    Processors are timed stereo, and the dual-mono ones also mono (`name (mono)`)."""
    import numpy as np

    from chronus.dsp.catalog import MODULE_TYPES
    from chronus.dsp.module import Module, Processor
    from chronus.dsp.synth import Synth

    block = 128
    mono = np.zeros(block)
    stereo_in = np.random.default_rng(0).standard_normal((block, 2)) * 0.3
    stereo_out = np.zeros((block, 2))
    mono_in = np.ascontiguousarray(stereo_in[:, 0])
    kinds: dict[str, type[Module]] = dict(MODULE_TYPES)
    try:  # effects may not be in the catalogue yet
        from chronus.dsp.effects import Delay, Distortion, Reverb

        for effect in (Distortion, Delay, Reverb):
            kinds.setdefault(effect.TYPE, effect)
    except ImportError:
        pass

    def one_block(module: Module, dual_mono: bool = False) -> None:
        if isinstance(module, Processor):
            if dual_mono:
                module.process_mono(mono_in, mono, block)
            else:
                module.process_stereo(stereo_in, stereo_out, block)
        else:
            module.process(mono, block)

    runs = [(name, cls, False) for name, cls in sorted(kinds.items())]
    runs += [(f"{name} (mono)", cls, True) for name, cls in sorted(kinds.items())
             if issubclass(cls, Processor) and cls.DUAL_MONO]  # fmt: skip
    results: dict[str, float] = {}
    for name, cls, dual_mono in runs:
        module = cls(RATE, block)
        per = 1
        if isinstance(module, Synth):
            per = 32
            for k, v in (("voices", per), ("env_amount", 6.0), ("drive", 3.0), ("res", 0.94)):
                module.set_param(k, v)
            for v in range(per):
                module.note_on(36 + v % 24, 127, -1)
        elif "decay" in module.params:
            module.set_param("decay", 2.0)
        for _ in range(20):
            one_block(module, dual_mono)
        best = float("inf")
        for _ in range(5):
            if not isinstance(module, Processor | Synth):
                module.note_on(60, 127, -1)
            start = time.perf_counter()
            for _ in range(reps):
                one_block(module, dual_mono)
            best = min(best, (time.perf_counter() - start) / reps)
        results[name] = best * 1e6 / per
    return results


def profile(voices: int, seconds: float, top: int = 8) -> None:
    """Where an in-process render spends its time: numba kernels against Python per block."""
    import cProfile
    import pstats

    from chronus.dsp.render import Renderer, render_offline

    Renderer(RATE, 512).warm_up()
    cmds, frames = workload(voices, seconds)
    profiler = cProfile.Profile()
    profiler.runcall(render_offline, cmds, frames, RATE)
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])  # type: ignore[attr-defined]
    print(f"\nprofile of N = {voices} (cProfile inflates Python calls; tottime, s):")
    for (path, line, name), (_, calls, tottime, _, _) in rows[:top]:
        where = f"{Path(path).name}:{line}({name})"
        print(f"  {tottime:7.3f} s {100 * tottime / total:5.1f} %  {calls:8d} calls  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--profile", type=int, metavar="N", help="also profile a render of N")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    add_json_flag(parser)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.seconds, args.out)
        return
    with figures_out(args.json) as figures:
        measure(args, figures)


def measure(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """Time and print the workload for each N; its medians go into `figures` by N."""
    have_sc = shutil.which("scsynth") is not None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        score_files = scores(work, args.voices) if have_sc and args.seconds == 60.0 else {}
        rows = []
        paired: dict[int, tuple[float, float]] = {}
        for n in args.voices:
            whole = [whole_process(n, args.seconds, work / "c.wav") for _ in range(args.runs)]
            # Alternate the two renderers run by run, so that a slow spell of this shared
            # machine slows both and not just whichever happened to run then.
            inproc: list[float] = []
            sc: list[float] = []
            for _ in range(args.runs):
                inproc += in_process(n, args.seconds, 1)
                if n in score_files:
                    sc.append(scsynth_time(score_files[n], work / "s.wav"))
            if sc:
                pairs = [c / s for c, s in zip(inproc, sc, strict=True)]
                paired[n] = (statistics.median(pairs), min(inproc) / min(sc))
            phases = {k: statistics.median(w[1][k] for w in whole) for k in whole[0][1]}
            rows.append((n, statistics.median(w[0] for w in whole), statistics.median(inproc),
                         statistics.median(sc) if sc else None, phases))  # fmt: skip
            figures[str(n)] = {
                "runs": args.runs, "scsynth_s": statistics.median(sc) if sc else None,
                "render_s": statistics.median(inproc), "whole_s": rows[-1][1],
                "paired_ratio": paired[n][0] if sc else None, "phases": phases,
            }  # fmt: skip
            os.sync()
        print(f"workload: {args.seconds:g} s at {RATE} Hz stereo, median of {args.runs}")
        print("N     scsynth -N   chronus whole   (ratio)  chronus render   (ratio)  RTF")
        for n, whole_s, render_s, sc_s, _ in rows:
            ratio_w = f"{whole_s / sc_s:5.2f}x" if sc_s else "   - "
            ratio_r = f"{render_s / sc_s:5.2f}x" if sc_s else "   - "
            sc_text = f"{sc_s:8.3f} s" if sc_s else "       - "
            print(f"{n:<5} {sc_text}   {whole_s:8.3f} s   {ratio_w}  {render_s:8.3f} s   "
                  f"{ratio_r}  {args.seconds / render_s:4.0f}x")  # fmt: skip
        for n, (median_ratio, best_ratio) in paired.items():
            print(f"N = {n}: render ratio, median of run-by-run pairs {median_ratio:.2f}x, "
                  f"best against best {best_ratio:.2f}x")  # fmt: skip
        print("\nwhole process by phase (s): import / jit load / build commands / render / write")
        phase_names = ("import", "jit", "build", "render", "write")
        for n, *_, ph in rows:
            print(f"{n:<5} " + " / ".join(f"{ph[k]:.3f}" for k in phase_names))
    print("\nµs per 128-frame block (synths: per voice, 32 voices sounding; others: per module)")
    for name, us in per_module_costs().items():
        print(f"  {name:<19} {us:7.2f} µs")
    if args.profile:
        profile(args.profile, args.seconds)


if __name__ == "__main__":
    main()
