"""An hour at the prompt: issue 16's "done when" played by a script, in a real terminal.

    python benchmarks/long_session.py [--minutes 60] [--every 5] [--seed 1] [--json]

Starts the real `chronus` (the shell, which starts its own engine on the device backend:
JACK) in a tmux terminal (`tests/terminal.py`), with a temporary home, files folder and
session folder, and plays a musician's hour on it: a patch is built (tempo, a bass through an
acid filter, a kick, a hat, a lead through a delay, patterns), then every few seconds a line
drawn from a repertoire: tweaks (`make it darker`, `set acid1 cutoff to 900 hz`), pattern
changes, modules added and removed, `show patch`, `show patterns` and a key, `show bass`,
`help`, completion with Tab, snapshots saved, diffed and loaded, a few bars recorded, undo and
redo, `health`, and now and then a typo, which must be refused with a helpful error and change
nothing in the engine (its `/engine/dump` before and after). Near the end the shell quits
leaving the music on, a new `chronus` attaches and shows the same patch, and `quit --stop`
ends it all.

On the screen it checks that every line got its answer (its feedback line, its picture or
its error) and times Enter → that answer; that the toolbar's bar:beat moves between looks;
that each recording's end is told once. It samples the engine's counters (`/engine/now`:
xruns, underruns, failovers) after every line, and the RSS of the shell and of every engine
process (found by their titles under the supervisor) at the start, every 10 minutes and at
the end, the shell's CPU time and the session log's size. At the end the session log is
rendered offline (`chronus render`): it must render without error to the session's length,
and every recording must be a valid WAV equal to the render at its place (a block may differ
only where the device had an underrun).

Before chronus starts, the same measuring is timed on a Python echo in a terminal of its own:
what the harness alone costs on the machine at the time (the floor of every latency).

The whole terminal output is kept in `<out>/terminal.log` (tmux `pipe-pane`), the lines and
their answers in `<out>/lines.jsonl`. On a machine shared with other work, underruns and
xruns say as much about the machine as about chronus: say so with the figures.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out

from chronus.engine.client import EngineClient, EngineError
from chronus.session.stamped_log import read_stamped_log
from chronus.session.wav import read_wav
from tests.terminal import Terminal, tmux_available

PROMPT = "chronus>"
"""The prompt as the screen shows it (trailing blanks stripped)."""
BLOCK = 128
ANSWER_S = 15.0
"""How long a line may take to be answered before it counts as unanswered."""
BURST = 100
"""Underruns between two lines that make a burst worth telling apart (by their causes)."""
ERROR = re.compile(r"^\s*\^$|^hint:|^which module\?|must be within|there is no|not finished")
TOOLBAR = re.compile(r"♩ ([\d.]+) · (?:(\d+):(\d)|stopped)")


@dataclasses.dataclass
class Line:
    """One line to type: what its answer must show (`told`, a regular expression) and
    whether it must be refused (`refused`: an error, and the engine's patch unchanged)."""

    text: str
    told: str
    kind: str = "tweak"
    refused: bool = False
    then_key: str | None = None
    """A key pressed once the answer shows (a live view ends on a key)."""
    either: bool = False
    """Its error is a right answer too (`nothing to undo` in a shell that just attached)."""


@dataclasses.dataclass
class Answer:
    line: str
    kind: str
    at_s: float
    latency_ms: float | None
    understood: bool
    refused: bool
    expected: bool
    block: list[str]
    patch_changed: bool | None = None
    engine: dict[str, Any] | None = None
    unanswered: str | None = None
    """Why no answer was counted, if none was: what the screen showed instead."""


# ---------------------------------------------------------------- the repertoire


BUILD = [
    Line("tempo 124", r"tempo \S+ → 124", kind="build"),
    Line("add a saw called bass through an acid filter", r"added bass", kind="build"),
    Line("bass: c2 c2 eb2 g2 c2 c3 bb2 g2", r"bass: pattern c2", kind="build"),
    Line("add a kick", r"added kick", kind="build"),
    Line("kick: x . . . x . . . x . . . x . . .", r"kick: pattern", kind="build"),
    Line("add a hat", r"added hat", kind="build"),
    Line("hat: . x . x . x . x", r"hat: pattern", kind="build"),
    Line("add a sine called lead through a delay", r"added lead", kind="build"),
    Line("lead: c4 . eb4 . g4 . bb4 . c5 . . . g4 . . .", r"lead: pattern", kind="build"),
]

BASS_LINES = [
    "c2 c2 eb2 g2 c2 c3 bb2 g2",
    "c2 . c2 eb2 . g2 bb2 c3",
    "f2 f2 ab2 c3 f2 eb3 c3 ab2",
    "g1 g2 g1 bb2 g1 d3 g1 f2",
    "c2 <eb2 f2> g2 c3",
]
KICKS = ["x . . . x . . . x . . . x . . .", "x . . x . . x . x . . x . . x .", "x . x . x . x ."]
HATS = [". x . x . x . x", "x x x x x x x x", ". . x . . . x ."]
LEADS = ["c4 . eb4 . g4 . bb4 . c5 . . . g4 . . .", "g4 . . bb4 . . c5 .", "eb5 d5 c5 bb4 g4 . . ."]
TYPOS = [
    "set bass cutof to 500 hz",
    "frobnicate the bass",
    "add a sawww",
    "set bass cutoff to 9000000 hz",
    "tempo fast please",
    "bass: c2 zz9 g2",
    "remove the tuba",
    "set acid1 resonance to",
]


class Repertoire:
    """Lines drawn at random, with adds and removes kept in step with the patch, snapshots
    named in turn and recordings numbered."""

    def __init__(self, rng: random.Random, dump: Callable[[], dict[str, Any] | None]) -> None:
        self.rng = rng
        self.dump = dump
        """The engine's state now (`/engine/dump`), so that a line changes something: a
        line that sets what is already there is not told, by design."""
        self.snapshots: list[str] = []
        self.takes = 0
        self.hat_muted = False
        self.playing = {"bass": BASS_LINES[0], "kick": KICKS[0], "hat": HATS[0], "lead": LEADS[0]}

    def next(self) -> list[Line]:
        """The next phrase: one line, or a few that belong together."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.30:
            return [self.tweak()]
        if roll < 0.45:
            return [self.pattern()]
        if roll < 0.50:
            return [self.add_or_remove()]
        if roll < 0.52:
            self.hat_muted = not self.hat_muted
            return [Line(f"{'mute' if self.hat_muted else 'unmute'} hat", r"hat mute")]
        if roll < 0.57:
            return [
                Line("undo", r"^undo|nothing to undo", kind="undo", either=True),
                Line("redo", r"^redo|nothing to redo", kind="undo", either=True),
            ]
        if roll < 0.62:
            return [self.snapshot()]
        if roll < 0.65:
            self.takes += 1
            bars = rng.choice([1, 2, 4])
            return [
                Line(f"record {bars} bars to take{self.takes}.wav", r"recording", kind="record")
            ]
        if roll < 0.72:
            return [self.view()]
        if roll < 0.75:
            return [Line("help", r"help topics", kind="view")]
        if roll < 0.78:
            topic = rng.choice(["patterns", "filters", "effects", "snapshots", "words"])
            return [Line(f"help {topic}", r"\S", kind="view")]
        if roll < 0.83:
            return [Line("", r"", kind="completion")]
        if roll < 0.86:
            return [Line("health", r"underruns", kind="view")]
        return [Line(rng.choice(TYPOS), "", refused=True, kind="typo")]

    def tweak(self) -> Line:
        """A change of sound, by name or by the words a musician uses."""
        rng = self.rng
        fresh = self.fresh
        choices: list[Callable[[], Line]] = [
            lambda: Line(f"set acid1 cutoff to {fresh('acid1', 'cutoff', 150, 3000, 10)} hz",
                         r"acid1 cutoff"),
            lambda: Line(f"set acid1 resonance to {fresh('acid1', 'res', 0.2, 0.9, 0.01)}",
                         r"acid1 res"),
            lambda: Line(f"set bass release to {fresh('bass', 'release', 0.05, 0.6, 0.01)} s",
                         r"bass release"),
            lambda: Line("open the filter a little on bass", r"cutoff \S+ → \S+ Hz"),
            lambda: Line("make bass darker", r"cutoff \S+ → \S+ Hz"),
            lambda: Line("make bass brighter", r"cutoff \S+ → \S+ Hz"),
            lambda: Line(f"set lead volume to {fresh('lead', 'volume', -18, -3, 1)} db",
                         r"lead volume"),
            lambda: Line(f"set hat volume to {fresh('hat', 'volume', -20, -6, 1)} db",
                         r"hat volume"),
            lambda: Line(f"swing {rng.randrange(5, 40)}% on bass", r"swing"),
            lambda: Line(f"tempo {rng.randrange(1180, 1320) / 10}", r"tempo \S+ → \S+"),
        ]  # fmt: skip
        return rng.choice(choices)()

    def fresh(self, module: str, param: str, low: float, high: float, step: float) -> str:
        """A value on the grid `step` from `low` to `high` other than the parameter's now."""
        state = self.dump() or {}
        now = state.get("modules", {}).get(module, {}).get("params", {}).get(param)
        while True:
            value = round(low + step * self.rng.randrange(int((high - low) / step) + 1), 2)
            if now is None or abs(value - now) > step / 2:
                return f"{value:g}"

    def pattern(self) -> Line:
        """A new pattern on one of the tracks, another than it plays."""
        track, steps = self.rng.choice(
            [("bass", BASS_LINES), ("kick", KICKS), ("hat", HATS), ("lead", LEADS)]
        )
        state = self.dump() or {}
        playing = state.get("tracks", {}).get(track, {}).get("pattern", self.playing[track])
        self.playing[track] = self.rng.choice([s for s in steps if s != playing])
        return Line(f"{track}: {self.playing[track]}", rf"{track}: pattern", kind="pattern")

    def add_or_remove(self) -> Line:
        """A reverb after the lead or a distortion after the bass: added if the patch has
        none (undo and snapshots add and remove them too), else removed."""
        kind, where = self.rng.choice([("reverb", "lead"), ("distortion", "bass")])
        modules = (self.dump() or {}).get("modules", {})
        there = sorted(name for name, module in modules.items() if module.get("type") == kind)
        if not there:
            return Line(f"add a {kind} after {where}", rf"added {kind}", kind="add")
        return Line(f"remove {there[0]}", rf"removed {there[0]}", kind="remove")

    def snapshot(self) -> Line:
        if not self.snapshots or self.rng.random() < 0.4:
            name = f"part{len(self.snapshots) + 1}"
            self.snapshots.append(name)
            return Line(f"snapshot save {name}", rf"saved snapshot {name}", kind="snapshot")
        name = self.rng.choice(self.snapshots)
        if self.rng.random() < 0.5:
            return Line(f"snapshot diff {name}", r"loading|same|no difference", kind="snapshot")
        return Line(f"load snapshot {name}", rf"loaded snapshot {name}", kind="snapshot")

    def view(self) -> Line:
        which = self.rng.choice(["patch", "patterns", "bass", "lead"])
        if which == "patterns":
            return Line("show patterns", r"patterns · bar \d+ beat", kind="view", then_key="q")
        if which == "patch":
            return Line("show patch", r"^patch · ", kind="view")
        return Line(f"show {which}", r"parameter\s+value", kind="view")


# ---------------------------------------------------------------- the engine's processes


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) of every process."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").strip()
        except OSError:
            continue
        table[int(entry)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmd.decode(errors="replace"))
    return table


def _descendants(root: int, table: dict[int, tuple[int, str]]) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        children = [child for child, (parent, _) in table.items() if parent == pid]
        found += children
        todo += children
    return found


def underrun_causes(status: dict[str, Any]) -> dict[str, Any]:
    """What the engine's status says of its last underruns: their causes (of the last few
    it keeps), how far each slot was behind, and the host stalls its CPU stampers saw."""
    io = status.get("io") or {}
    recent = io.get("recent_underruns") or []
    behind: dict[str, int] = {}
    for underrun in recent:
        for slot, blocks in (underrun.get("behind") or {}).items():
            behind[slot] = max(behind.get(slot, 0), int(blocks))
    host = status.get("host") or {}
    return {
        "causes": dict(collections.Counter(str(u.get("cause")) for u in recent)),
        "most_behind": behind,
        "xruns_in_host_stalls": io.get("xruns_in_host_stalls"),
        "host_stalls": host.get("stalls"),
        "longest_host_stall_ms": host.get("longest_stall_ms"),
    }


def bursts(answers: list[Answer]) -> list[dict[str, Any]]:
    """The lines after which `BURST` or more underruns had come since the line before,
    with what the engine said of them."""
    found: list[dict[str, Any]] = []
    before = 0
    for answer in answers:
        engine = answer.engine or {}
        underruns = engine.get("underruns")
        if underruns is None:
            continue
        if underruns - before >= BURST:
            found.append({
                "at_s": answer.at_s, "line": answer.line, "latency_ms": answer.latency_ms,
                "underruns": underruns - before, **engine.get("underrun_causes", {}),
            })  # fmt: skip
        before = underruns
    return found


def _why_unanswered(echoed: bool, prompt_back: bool, block: list[str], rows: list[str]) -> str:
    """What the screen showed of a line that got no answer within `ANSWER_S`."""
    tail = [row for row in rows if row.strip()][-4:]
    if not echoed:
        return f"its echo never showed; the screen ended with {tail}"
    if not prompt_back:
        return f"echoed, but the prompt did not come back; below it: {block[:4]}"
    if not block:
        return "echoed; the prompt came back with nothing told (it set what was there?)"
    return f"echoed and the prompt came back, but not with what it should tell: {block[:4]}"


def processes(port: int) -> dict[str, int]:
    """The engine's processes (title → pid): the supervisor on `port` and what it started."""
    table = _proc_table()
    supervisors = [
        pid for pid, (_, cmd) in table.items() if cmd.startswith(f"chronus: supervisor :{port}")
    ]
    found: dict[str, int] = {}
    for root in supervisors:
        found[table[root][1]] = root
        for pid in _descendants(root, table):
            title = table[pid][1]
            if title.startswith("chronus:"):
                # A slot's role changes with each swap; its RSS is followed by its name.
                found[re.sub(r" \((active|standby)\)$", "", title)] = pid
            else:
                found[f"{title[:40]} ({pid})"] = pid
    return found


def rss_mb(pid: int) -> float | None:
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return round(int(row.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wav_frames(path: Path) -> tuple[int, int, int, int]:
    """(frames, channels, rate, offset of the data) of a WAV, from its header alone (an hour
    of float32 stereo is 1.4 GB: it is read in place, not into memory)."""
    with open(path, "rb") as wav:
        head = wav.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{path}: not a WAV file")
        channels = rate = bits = 0
        while True:
            chunk = wav.read(8)
            if len(chunk) < 8:
                raise ValueError(f"{path}: no data chunk")
            tag, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if tag == b"fmt ":
                fmt = wav.read(size)
                _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
            elif tag == b"data":
                offset = wav.tell()
                size = min(size, path.stat().st_size - offset)
                return size // (channels * bits // 8), channels, rate, offset
            else:
                wav.seek(size + (size & 1), 1)


# ---------------------------------------------------------------- the musician


class Musician:
    """Types into the terminal and reads its answers."""

    def __init__(self, term: Terminal, port: int, out: Path) -> None:
        self.term = term
        self.port = port
        self.out = out
        self.began = time.monotonic()
        self.answers: list[Answer] = []
        self.toolbar: list[tuple[float, int, int]] = []
        self.frozen: list[str] = []
        self.no_toolbar = 0
        self.told_recordings: dict[str, int] = {}
        self.counters: list[dict[str, Any]] = []
        self.lines_file = open(out / "lines.jsonl", "w")

    def _look_at_toolbar(self, rows: list[str]) -> None:
        bottom = next((row for row in reversed(rows) if row.strip()), "")
        found = TOOLBAR.search(bottom)
        if found is None:
            self.no_toolbar += 1
            return
        if found.group(2) is None:
            return
        now = time.monotonic() - self.began
        bar, beat = int(found.group(2)), int(found.group(3))
        if (
            self.toolbar
            and now - self.toolbar[-1][0] >= 2.0
            and self.toolbar[-1][1:] == (bar, beat)
        ):
            self.frozen.append(f"{now:.0f} s: {bar}:{beat} since {self.toolbar[-1][0]:.0f} s")
        self.toolbar.append((now, bar, beat))

    def _count_recordings(self, rows: list[str]) -> None:
        for row in rows:
            told = re.match(r"^recorded [\d.]+ s to (\S+)$", row)
            if told:
                self.told_recordings.setdefault(told.group(1), 0)
        for path in self.told_recordings:
            seen = sum(
                1 for row in rows if re.match(rf"^recorded [\d.]+ s to {re.escape(path)}$", row)
            )
            self.told_recordings[path] = max(self.told_recordings[path], seen)

    def dump(self) -> dict[str, Any] | None:
        """The engine's state (`/engine/dump`), or None if it does not answer."""
        try:
            with EngineClient("127.0.0.1", self.port) as client:
                return client.dump(timeout=5.0)
        except (EngineError, OSError):
            return None

    def _patch(self) -> dict[str, Any] | None:
        """What a refused line must leave as it was: all but the moving transport."""
        dump = self.dump()
        return None if dump is None else {k: v for k, v in dump.items() if k != "transport"}

    def sample_counters(self) -> dict[str, Any]:
        """The engine's counters now; where underruns came since the last sample, what the
        engine says of them (`underrun_causes`)."""
        last = next((c for c in reversed(self.counters) if "underruns" in c), {})
        try:
            with EngineClient("127.0.0.1", self.port) as client:
                now = client.now(timeout=2.0)
                more = (now.get("underruns") or 0) > (last.get("underruns") or 0)
                status = client.status(timeout=5.0) if more else None
        except (EngineError, OSError) as error:
            return {"error": str(error)}
        sample = {
            "at_s": round(time.monotonic() - self.began, 1),
            **{key: now.get(key) for key in ("xruns", "underruns", "failovers", "active", "boot")},
        }
        if status is not None:
            sample["underrun_causes"] = underrun_causes(status)
        self.counters.append(sample)
        return sample

    def play(self, line: Line) -> Answer:
        if line.kind == "completion":
            return self.complete()
        before = self._patch() if line.refused else None
        self.term.clear_history()
        echo = f"{PROMPT} {line.text}".rstrip()
        seen = sum(1 for row in self.term.history() if row == echo)
        sent = time.monotonic()
        self.term.type(line.text)
        block: list[str] = []
        latency = None
        rows: list[str] = []
        echoed, end = False, None
        while time.monotonic() - sent < ANSWER_S:
            rows = self.term.history()
            echoes = [i for i, row in enumerate(rows) if row == echo]
            if len(echoes) > seen:
                echoed = True
                after = rows[echoes[-1] + 1 :]
                end = next((i for i, row in enumerate(after) if row.startswith(PROMPT)), None)
                block = [row for row in (after if end is None else after[:end]) if row.strip()]
                if line.then_key is not None:
                    block = [row for row in block if "♩" not in row]
                    if any(re.search(line.told, row) for row in block):
                        latency = time.monotonic() - sent
                        time.sleep(1.0)  # let the live view draw a few frames
                        self.term.keys(line.then_key)
                        break
                elif end is not None and block:
                    latency = time.monotonic() - sent
                    break
            time.sleep(0.02)
        rows = self.term.history()
        self._look_at_toolbar(rows)
        self._count_recordings(rows)
        if line.then_key is not None:
            self.wait_idle()
        errors = any(ERROR.search(row) for row in block)
        understood = (
            latency is not None
            and not errors
            and (not line.told or any(re.search(line.told, row) for row in block))
        )
        answer = Answer(
            line=line.text,
            kind=line.kind,
            at_s=round(sent - self.began, 1),
            latency_ms=None if latency is None else round(1000 * latency, 1),
            understood=understood,
            refused=errors,
            expected=(errors if line.refused else understood or (line.either and errors)),
            block=block[:12],
        )
        if latency is None:
            answer.unanswered = _why_unanswered(echoed, end is not None, block, rows)
        if line.refused:
            after = self._patch()
            answer.patch_changed = before != after
            answer.expected = answer.expected and not answer.patch_changed
        return self._keep(answer)

    def complete(self) -> Answer:
        """A few letters, Tab: the completion menu shows what fits; Ctrl-C clears the line."""
        typed, wanted = random.choice(
            [("set acid1 res", "resonance"), ("add a sa", "saw"), ("show ba", "bass"),
             ("load snapshot ", "part|snapshot"), ("set bass cu", "cutoff")]
        )  # fmt: skip
        sent = time.monotonic()
        self.term.type(typed, enter=False)
        self.term.keys("Tab")
        latency = None
        rows: list[str] = []
        while time.monotonic() - sent < ANSWER_S:
            rows = self.term.screen().splitlines()
            prompt_at = max((i for i, row in enumerate(rows) if row.startswith(PROMPT)), default=0)
            if any(re.search(wanted, row) for row in rows[prompt_at:]):
                latency = time.monotonic() - sent
                break
            time.sleep(0.02)
        self.term.keys("C-c")
        self.wait_idle()
        answer = Answer(
            line=f"{typed}<Tab>",
            kind="completion",
            at_s=round(sent - self.began, 1),
            latency_ms=None if latency is None else round(1000 * latency, 1),
            understood=latency is not None,
            refused=False,
            expected=latency is not None,
            block=rows[-6:],
        )
        return self._keep(answer)

    def wait_idle(self) -> None:
        """Until the last prompt on the screen is empty (a live view ended, a line cleared)."""
        deadline = time.monotonic() + ANSWER_S
        while time.monotonic() < deadline:
            prompts = [row for row in self.term.screen().splitlines() if row.startswith(PROMPT)]
            if prompts and prompts[-1] == PROMPT:
                return
            time.sleep(0.05)

    def _keep(self, answer: Answer) -> Answer:
        answer.engine = self.sample_counters()
        self.answers.append(answer)
        self.lines_file.write(json.dumps(dataclasses.asdict(answer)) + "\n")
        self.lines_file.flush()
        return answer


# ---------------------------------------------------------------- the hour


def _env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "CHRONUS_FILES": str(home / "files"),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "TERM": "xterm-256color",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }


def _start_shell(home: Path, port: int, backend: str, out: Path, name: str) -> Terminal:
    command = [sys.executable, "-m", "chronus", "--port", str(port), "--backend", backend]
    term = Terminal(command, _env(home), str(home), width=120, height=40)
    term.keep_output(str(out / f"terminal-{name}.log"))
    return term


ECHO = "import sys\nfor line in sys.stdin:\n    print('got', line.strip(), flush=True)"


def harness_floor(lines: int = 20) -> list[float]:
    """Enter → answer on the screen, in ms, for a program that answers at once (a Python
    echo in the same kind of terminal): what the measuring itself costs (two `send-keys`, a
    `capture-pane` every 20 ms) on this machine now."""
    term = Terminal([sys.executable, "-c", ECHO], {"PATH": os.environ["PATH"]}, "/tmp")
    times = []
    try:
        time.sleep(1.0)
        for n in range(lines):
            sent = time.monotonic()
            term.type(f"line {n}")
            while f"got line {n}" not in term.history():
                time.sleep(0.02)
            times.append(round(1000 * (time.monotonic() - sent), 1))
            time.sleep(0.2)
    finally:
        term.close()
    return times


def _shell_pid(term: Terminal) -> int:
    pane = term.pane_pid()
    table = _proc_table()
    for pid in [pane, *_descendants(pane, table)]:
        if "-m chronus" in table.get(pid, (0, ""))[1]:
            return pid
    return pane


def _state(pid: int) -> str:
    """A process's state letter (`Z`: a zombie, exited and not reaped), `?` if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def memory(port: int, shell: int, at_s: float) -> dict[str, Any]:
    """RSS (MB) of the shell and of each engine process now; the engine's zombies' pids."""
    engine = processes(port)
    return {
        "at_s": round(at_s),
        "load_average": os.getloadavg()[0],
        "shell": rss_mb(shell),
        **{title: rss_mb(pid) for title, pid in sorted(engine.items()) if _state(pid) != "Z"},
        "zombies": sorted(pid for pid in engine.values() if _state(pid) == "Z"),
    }


def told_in_output(out: Path) -> dict[str, int]:
    """How many times each recording's end was told in the terminals' whole output."""
    told: dict[str, int] = collections.Counter()
    for log in sorted(out.glob("terminal-*.log")):
        text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", log.read_text(errors="replace"))
        for found in re.finditer(r"recorded [\d.]+ s to (\S+\.wav)", text.replace("\r", "\n")):
            told[found.group(1)] += 1
    return dict(told)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def hour(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    home = out / "home"
    (home / "files").mkdir(parents=True)
    rng = random.Random(args.seed)
    random.seed(args.seed)
    floor = harness_floor()
    figures["harness_floor_ms_p50"] = percentile(floor, 0.5)
    figures["harness_floor_ms_max"] = max(floor)
    term = _start_shell(home, args.port, args.backend, out, "first")
    musician = Musician(term, args.port, out)
    try:
        term.wait_for(rf"chronus on 127\.0\.0\.1:{args.port}", 120)
        started = time.monotonic()
        musician.began = started
        shell = _shell_pid(term)
        shell_cpu0 = cpu_s(shell) or 0.0
        rss = [memory(args.port, shell, 0.0)]
        for line in BUILD:
            musician.play(line)
        musician.sample_counters()
        print(f"built the patch; {len(processes(args.port))} engine processes", flush=True)
        repertoire = Repertoire(rng, musician.dump)
        end = started + 60 * args.minutes
        leave_at = started + 60 * args.minutes * args.leave_at
        next_rss = started + 600
        left = False
        while time.monotonic() < end:
            for line in repertoire.next():
                answer = musician.play(line)
                if not answer.expected:
                    print(
                        f"  ! {answer.at_s:.0f} s {answer.line!r}: {answer.block[:4]}", flush=True
                    )
            counters = musician.sample_counters()
            if time.monotonic() >= next_rss:
                rss.append(memory(args.port, shell, time.monotonic() - started))
                next_rss += 600
                minutes = (time.monotonic() - started) / 60
                print(f"{minutes:.0f} min: {len(musician.answers)} lines, {counters}", flush=True)
            if not left and time.monotonic() >= leave_at:
                left = True
                shell_cpu = (cpu_s(shell) or 0.0) - shell_cpu0
                shell_wall = time.monotonic() - started
                rss.append(memory(args.port, shell, shell_wall))
                term, shell = leave_and_return(term, home, args, out, musician, figures)
            time.sleep(max(0.5, rng.uniform(args.every * 0.6, args.every * 1.4)))
        if not left:
            shell_cpu = (cpu_s(shell) or 0.0) - shell_cpu0
            shell_wall = time.monotonic() - started
        rss.append(memory(args.port, shell, time.monotonic() - started))
        last = musician.sample_counters()
        with EngineClient("127.0.0.1", args.port) as client:
            status = client.status()
        term.type("quit --stop")
        term.wait_finished(60)
        played_s = time.monotonic() - started
    finally:
        term.close()
        musician.lines_file.close()
    summarise(musician, figures, rss, last, status, shell_cpu / shell_wall, played_s)
    figures["recordings_told_in_output"] = told_in_output(out)
    print(f"recordings told in the terminal's output: {figures['recordings_told_in_output']}")
    render_and_check(home, out, figures, status)


def leave_and_return(
    term: Terminal,
    home: Path,
    args: argparse.Namespace,
    out: Path,
    musician: Musician,
    figures: dict[str, Any],
) -> tuple[Terminal, int]:
    """`quit --leave`: the music plays on; a new `chronus` attaches and shows the same patch."""
    before = musician._patch()
    term.type("quit --leave")
    term.wait_finished(60)
    leaving = term.screen()
    term.close()
    time.sleep(2.0)
    with EngineClient("127.0.0.1", args.port) as client:
        beat_a = client.now()["beat"]
        time.sleep(1.0)
        beat_b = client.now()["beat"]
    term = _start_shell(home, args.port, args.backend, out, "second")
    musician.term = term
    began = time.monotonic()
    term.wait_for(rf"attached to the engine playing at 127\.0\.0\.1:{args.port}", 60)
    attach_s = time.monotonic() - began
    shown = musician.play(Line("show patch", r"bass → ", kind="view"))
    figures["leave_and_return"] = {
        "told_music_plays_on": "the music plays on" in leaving,
        "played_on_while_away": beat_a is not None and beat_b is not None and beat_b > beat_a,
        "attached_after_s": round(attach_s, 2),
        "same_patch": before == musician._patch(),
        "show_patch_shows_it": shown.understood,
    }
    print(f"left and came back: {figures['leave_and_return']}", flush=True)
    return term, _shell_pid(term)


def summarise(
    musician: Musician,
    figures: dict[str, Any],
    rss: list[dict[str, Any]],
    last: dict[str, Any],
    status: dict[str, Any],
    shell_cpu_share: float,
    played_s: float,
) -> None:
    answers = musician.answers
    latencies = [
        a.latency_ms for a in answers if a.latency_ms is not None and a.kind != "completion"
    ]
    completion = [
        a.latency_ms for a in answers if a.latency_ms is not None and a.kind == "completion"
    ]
    surprises = [a for a in answers if not a.expected]
    typos = [a for a in answers if a.kind == "typo"]
    first = musician.counters[0] if musician.counters else {}
    figures.update({
        "minutes_played": round(played_s / 60, 1),
        "lines_typed": len(answers),
        "understood": sum(a.understood for a in answers),
        "refused": sum(a.refused for a in answers),
        "typos": len(typos),
        "typos_refused_and_nothing_changed": sum(a.expected for a in typos),
        "unanswered": sum(a.latency_ms is None for a in answers),
        "unanswered_lines": [
            {"at_s": a.at_s, "line": a.line, "why": a.unanswered}
            for a in answers
            if a.latency_ms is None
        ],
        "surprises": [{"at_s": a.at_s, "line": a.line, "shown": a.block[:6]} for a in surprises],
        "underrun_bursts": bursts(answers),
        "by_kind": dict(sorted(collections.Counter(a.kind for a in answers).items())),
        "latency_ms_by_kind": {
            kind: (percentile(times, 0.5), max(times))
            for kind, times in sorted(_latencies_by_kind(answers).items())
        },
        "latency_ms_p50": percentile(latencies, 0.5),
        "latency_ms_p99": percentile(latencies, 0.99),
        "latency_ms_max": max(latencies, default=None),
        "completion_ms_p50": percentile(completion, 0.5),
        "completion_ms_p99": percentile(completion, 0.99),
        "toolbar_looks": len(musician.toolbar),
        "toolbar_frozen": musician.frozen,
        "toolbar_missing": musician.no_toolbar,
        "recordings_told": musician.told_recordings,
        "xruns": last.get("xruns"),
        "underruns": last.get("underruns"),
        "failovers": last.get("failovers"),
        "engine_restarts": len({c.get("boot") for c in musician.counters if "boot" in c}) - 1,
        "counters_first": first,
        "shell_cpu_share": round(shell_cpu_share, 5),
        "rss_mb": rss,
        "status_io": status.get("io"),
    })  # fmt: skip
    growth = {
        key: round(rss[-1][key] - rss[0][key], 1)
        for key in rss[0]
        if key in rss[-1] and isinstance(rss[0][key], float) and isinstance(rss[-1][key], float)
    }
    figures["rss_growth_mb"] = growth
    print(readable(figures))


def _latencies_by_kind(answers: list[Answer]) -> dict[str, list[float]]:
    kinds: dict[str, list[float]] = collections.defaultdict(list)
    for answer in answers:
        if answer.latency_ms is not None:
            kinds[answer.kind].append(answer.latency_ms)
    return kinds


def readable(f: dict[str, Any]) -> str:
    """The summary of the hour's figures, as prose."""
    rows = [
        f"\n{f['minutes_played']} min, {f['lines_typed']} lines typed: {f['understood']} "
        f"understood, {f['refused']} refused; {f['typos']} typos, "
        f"{f['typos_refused_and_nothing_changed']} of them refused with nothing changed; "
        f"{f['unanswered']} unanswered; {len(f['surprises'])} surprises",
        f"Enter → answer on the screen: p50 {f['latency_ms_p50']} ms, p99 "
        f"{f['latency_ms_p99']} ms, max {f['latency_ms_max']} ms; Tab → menu p50 "
        f"{f['completion_ms_p50']} ms, p99 {f['completion_ms_p99']} ms; by kind (p50, max): "
        f"{f['latency_ms_by_kind']}; the harness alone (an echo): p50 "
        f"{f['harness_floor_ms_p50']} ms, max {f['harness_floor_ms_max']} ms",
        f"toolbar: {f['toolbar_looks']} looks, {len(f['toolbar_frozen'])} frozen, "
        f"{f['toolbar_missing']} without it; recordings told (most times seen at once): "
        f"{f['recordings_told']}",
        f"engine: {f['xruns']} xruns, {f['underruns']} underruns, {f['failovers']} failovers, "
        f"{f['engine_restarts']} restarts",
        f"shell CPU {100 * f['shell_cpu_share']:.2f} % of a CPU; RSS growth (MB) "
        f"{f['rss_growth_mb']}; the engine's zombies at the end: {f['rss_mb'][-1]['zombies']}",
    ]
    rows += [
        f"  unanswered at {u['at_s']:.0f} s (nothing within {ANSWER_S:g} s): {u['line']!r}: "
        f"{u['why']}"
        for u in f["unanswered_lines"]
    ]
    rows += [
        f"  {b['underruns']} underruns by {b['at_s']:.0f} s (after {b['line']!r}): causes of the "
        f"last {sum(b.get('causes', {}).values())} {b.get('causes')}, most behind "
        f"{b.get('most_behind')}; so far {b.get('host_stalls')} host stalls (longest "
        f"{b.get('longest_host_stall_ms')} ms), {b.get('xruns_in_host_stalls')} xruns in them"
        for b in f["underrun_bursts"]
    ]
    unanswered = {(u["at_s"], u["line"]) for u in f["unanswered_lines"]}
    rows += [
        f"  surprise at {s['at_s']:.0f} s: {s['line']!r} → {s['shown'][:4]}"
        for s in f["surprises"]
        if (s["at_s"], s["line"]) not in unanswered
    ]
    return "\n".join(rows)


def render_and_check(
    home: Path, out: Path, figures: dict[str, Any], status: dict[str, Any]
) -> None:
    """Render the session log offline; check its length and each recording against it."""
    logs = sorted((home / "data" / "chronus" / "sessions").glob("*.log"))
    figures["session_logs"] = [log.name for log in logs]
    if len(logs) != 1:
        print(f"expected one session log, found {logs}")
        return
    log = logs[0]
    figures["session_log_bytes"] = log.stat().st_size
    session = read_stamped_log(log)
    rendered = out / "render.wav"
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "chronus", "render", log.stem, "-o", str(rendered)],
        env={**os.environ, **_env(home)}, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    figures["render_s"] = round(time.monotonic() - began, 1)
    figures["render_ok"] = done.returncode == 0
    if done.returncode != 0:
        print(f"chronus render failed: {done.stderr[-2000:]}")
        return
    frames, channels, rate, offset = wav_frames(rendered)
    figures["render_seconds"] = round(frames / rate, 2)
    figures["log_end_seconds"] = round(session.end / rate, 2)
    audio = np.memmap(rendered, np.float32, "r", offset, (frames, channels))
    takes = []
    underruns = int(status["io"]["underruns"])
    for start, path in session.recordings:
        try:
            recorded, _ = read_wav(
                home / "files" / Path(path).name if not os.path.isabs(path) else path
            )
        except (OSError, ValueError) as error:
            takes.append({"path": path, "valid": False, "error": str(error)})
            continue
        offline = np.asarray(audio[start : start + len(recorded)])
        n = min(len(recorded), len(offline))
        differ = np.flatnonzero(np.any(recorded[:n] != offline[:n], axis=1))
        blocks = sorted({int(row) // BLOCK for row in differ})
        takes.append({
            "path": Path(path).name, "valid": True, "seconds": round(len(recorded) / rate, 3),
            "peak": round(float(np.abs(recorded).max(initial=0.0)), 3),
            "differing_blocks": len(blocks), "blocks": n // BLOCK,
        })  # fmt: skip
    figures["recordings"] = takes
    differing = sum(t.get("differing_blocks", 0) for t in takes)
    print(
        f"render: {figures['render_seconds']} s of audio in {figures['render_s']} s (the log "
        f"ends at {figures['log_end_seconds']} s); session log {figures['session_log_bytes']} "
        f"bytes; recordings: {len(takes)}, valid {sum(t['valid'] for t in takes)}, "
        f"{differing} blocks differ from the render ({underruns} underruns in the session)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=5.0, help="mean seconds between lines")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=57431)
    parser.add_argument("--backend", default="device", choices=["device", "null"])
    parser.add_argument("--leave-at", type=float, default=0.9, help="share of the run")
    parser.add_argument("--out", default=f"/tmp/{os.environ.get('USER', 'chronus')}/long_session")
    add_json_flag(parser)
    args = parser.parse_args()
    if not tmux_available():
        sys.exit("tmux is not installed")
    with figures_out(args.json) as figures:
        hour(args, figures)
    with open(Path(args.out) / "figures.json", "w") as kept:
        json.dump(figures, kept, indent=1)


if __name__ == "__main__":
    main()
