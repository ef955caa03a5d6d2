"""Keystroke → completion menu at the prompt, at a 64-chain patch.

    python benchmarks/completion.py [--chains 64] [--rounds 40]

A real PromptSession (the shell's completer, lexer and style, completion while typing) reads
keys from a pipe and draws into a VT100 output of 40×120 that goes nowhere, so the screen is
really rendered, escape codes and all. The patch is the shell's mirror of `--chains` chains
of a saw through an acid filter and a delay (3 modules each), built by the language offline:
the completer never asks the engine, so no engine is needed. 50 snapshots lie in the
snapshot folder. For each case (a line and one more key) the line is typed first; then the
key is fed to the pipe and the time runs until the first render after which the menu for
the new line is on screen (`Application.after_render`). Rounds alternate the shell's
completer with the flat word list it replaced (prompt_toolkit's `WordCompleter` over the
same words and module names), key for key, so that the two share the machine's mood.
The grammar's reading of the line is cached (`chronus.shell.scanning.scan`); the cache is
emptied before each timed key, so each is timed as the first key after a blank is (within a
word the line before it is read once). The completer's own time per call (`suggest()`, no
prompt, cache emptied) is given too. Target (issue 16):
keystroke → menu < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from figures import add_json_flag, figures_out
from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application
from prompt_toolkit.completion import CompleteEvent, Completer, WordCompleter
from prompt_toolkit.data_structures import Size
from prompt_toolkit.document import Document
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.session.snapshots import SnapshotStore
from chronus.shell.app import completion_words
from chronus.shell.colour import STYLE, CommandLexer
from chronus.shell.completion import CommandCompleter
from chronus.shell.scanning import scan

CASES: tuple[tuple[str, str, str], ...] = (
    ("command word", "", "s"),
    ("module name", "mute v", "3"),
    ("parameter of a module", "set v12 ", "c"),
    ("module after on", "play c3 on ", "v"),
    ("note in a pattern", "v5: c2 eb2 ", "g"),
    ("snapshot name", "snapshot load ", "s"),
    ("type after through", "add a saw called x through a ", "r"),
    ("file path", "record to ", "b"),
    ("second command", "set v12 cutoff 800; set acid3 ", "r"),
)
"""(what it completes, the line before, the key)."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def patch(chains: int) -> Context:
    """The shell's mirror of `chains` chains of three modules, built by the language."""
    interpreter = Interpreter(Context())
    for index in range(chains):
        line = f"add a saw called v{index} through an acid filter then a delay"
        result = interpreter.interpret(line)
        if not result.ok:
            raise SystemExit(f"could not build the patch: {line}: {result.error}")
    return interpreter.context


class Prompt:
    """One PromptSession on a pipe, and a way to time a key until its menu is drawn."""

    def __init__(self, pipe: PipeInput, completer: Completer, context: Context) -> None:
        self.pipe = pipe
        self.screen = io.StringIO()
        output = Vt100_Output(self.screen, lambda: Size(rows=40, columns=120), term="xterm")
        self.session: PromptSession[str] = PromptSession(
            input=pipe, output=output, history=InMemoryHistory(), completer=completer,
            complete_while_typing=True, lexer=CommandLexer(lambda: context), style=STYLE,
        )  # fmt: skip
        self.expected = ""
        self.drawn = asyncio.Event()
        self.drawn_at = 0.0
        self.task: asyncio.Future[str] | None = None
        self.session.app.after_render += self._rendered

    def start(self) -> None:
        """Show the prompt (again)."""
        self.task = asyncio.ensure_future(self.session.prompt_async("chronus> "))

    def _rendered(self, _: Application[str]) -> None:
        buffer = self.session.default_buffer
        state = buffer.complete_state
        if buffer.text == self.expected and state is not None and state.completions:
            if not self.drawn.is_set():
                self.drawn_at = time.perf_counter()
                self.drawn.set()

    async def settle(self, line: str) -> None:
        """Clear the line (Ctrl-U), type `line`, and wait until it is drawn and idle."""
        self.expected = "\0"  # no menu counts while the line is being typed
        self.pipe.send_text("\x15" + line)
        buffer = self.session.default_buffer
        for _ in range(1000):
            if buffer.text == line:
                break
            await asyncio.sleep(0.002)
        await asyncio.sleep(0.02)

    async def key(self, line: str, key: str) -> float:
        """Seconds from feeding `key` after `line` to the first render that shows its menu."""
        await self.settle(line)
        scan.cache_clear()  # cold: as at the first key after a blank, the line is read anew
        self.drawn.clear()
        self.expected = line + key
        start = time.perf_counter()
        self.pipe.send_text(key)
        await asyncio.wait_for(self.drawn.wait(), 10)
        return self.drawn_at - start

    async def close(self) -> None:
        self.pipe.send_text("\x15quit\r")
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)


async def keystrokes(context: Context, snapshots: SnapshotStore, rounds: int) -> dict:
    """Per completer and case, the seconds of each keystroke; rounds alternate completers."""
    shell = CommandCompleter(lambda: context, snapshots.names)
    words = completion_words()
    flat = WordCompleter(lambda: words + sorted(context.modules), ignore_case=True)
    times: dict[str, dict[str, list[float]]] = {"shell": {}, "word list": {}}
    with create_pipe_input() as pipe_a, create_pipe_input() as pipe_b:
        prompts = {
            "shell": Prompt(pipe_a, shell, context),
            "word list": Prompt(pipe_b, flat, context),
        }
        for round_ in range(rounds + 1):
            order = list(prompts) if round_ % 2 else list(reversed(prompts))
            for name in order:
                prompt = prompts[name]
                prompt.start()
                for case, line, key in CASES:
                    if name == "word list" and not _word_list_has_menu(flat, line + key):
                        continue
                    seconds = await prompt.key(line, key)
                    if round_:  # round 0 warms up
                        times[name].setdefault(case, []).append(seconds)
                await prompt.close()
    return times


def _word_list_has_menu(completer: WordCompleter, line: str) -> bool:
    """Whether the flat list offers anything for `line` (else no menu comes to be timed)."""
    return any(True for _ in completer.get_completions(Document(line), CompleteEvent()))


def direct(context: Context, snapshots: SnapshotStore, rounds: int) -> dict[str, list[float]]:
    """Seconds of each `suggest()` call for each case's line and key (no prompt)."""
    completer = CommandCompleter(lambda: context, snapshots.names)
    out: dict[str, list[float]] = {}
    for round_ in range(rounds + 1):
        for case, line, key in CASES:
            scan.cache_clear()
            start = time.perf_counter()
            completer.suggest(line + key)
            if round_:
                out.setdefault(case, []).append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=64, help="chains of 3 modules (64)")
    parser.add_argument("--rounds", type=int, default=40, help="rounds over the cases (40)")
    add_json_flag(parser)
    args = parser.parse_args()
    with figures_out(args.json) as figures:
        measure(args, figures)


def measure(args: argparse.Namespace, figures: dict[str, float]) -> None:
    """Time and print; the shell's keystroke → menu median and p99 (ms) go into `figures`."""
    context = patch(args.chains)
    with tempfile.TemporaryDirectory() as folder:
        snapshots = SnapshotStore(Path(folder))
        for index in range(50):
            snapshots.save(f"scene{index}", {"modules": {}})
        times = asyncio.run(keystrokes(context, snapshots, args.rounds))
        calls = direct(context, snapshots, args.rounds)
    print(
        f"keystroke → completion menu drawn, {args.chains} chains ({len(context.modules)} "
        f"modules), {args.rounds} rounds, ms"
    )
    print(f"  {'case':<24}{'shell p50':>10}{'p99':>8}{'suggest() p50':>15}{'word list p50':>15}")
    for case, _, _ in CASES:
        shell = [s * 1000 for s in times["shell"][case]]
        flat = [s * 1000 for s in times["word list"].get(case, [])]
        flat_text = f"{statistics.median(flat):.1f}" if flat else "no menu"
        print(
            f"  {case:<24}{statistics.median(shell):>10.1f}{percentile(shell, 99):>8.1f}"
            f"{statistics.median(calls[case]) * 1000:>15.2f}{flat_text:>15}"
        )
    every = [s * 1000 for case in times["shell"].values() for s in case]
    flat_every = [s * 1000 for case in times["word list"].values() for s in case]
    print(
        f"  {'all':<24}{statistics.median(every):>10.1f}{percentile(every, 99):>8.1f}"
        f"{'':>15}{statistics.median(flat_every):>15.1f}"
    )
    figures.update(
        chains=args.chains, modules=len(context.modules), keystrokes=len(every),
        p50_ms=statistics.median(every), p99_ms=percentile(every, 99), max_ms=max(every),
        word_list_p50_ms=statistics.median(flat_every),
        word_list_p99_ms=percentile(flat_every, 99),
    )  # fmt: skip
    verdict = "met" if percentile(every, 99) < 50 else "MISSED"
    print(f"target keystroke → menu < 50 ms (p99): {verdict}")


if __name__ == "__main__":
    main()
