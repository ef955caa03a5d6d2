"""The interactive shell: a prompt_toolkit prompt in front of an engine."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import WordCompleter
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

from chronus.engine.client import EngineClient, EngineError
from chronus.lang.context import Context
from chronus.lang.intents import Plugin, Record, Replay, ShellCommand, Snapshot, StopRecording
from chronus.lang.interpreter import Interpretation, Interpreter
from chronus.lang.modules import module_types, param_names, plugin_types
from chronus.lang.parser import UNIT_WORDS, keywords
from chronus.lang.sounds import sound_words
from chronus.protocol import Message
from chronus.session.local_files import is_local, localised
from chronus.session.recording import Recorder, recording_of
from chronus.session.replay import Replayer
from chronus.session.snapshots import SnapshotStore
from chronus.shell.help import HELP
from chronus.shell.plugins import PluginRequests, Watcher, plugin_message
from chronus.shell.sessions import attached_notice, logged_notice, sessions_text, start_log
from chronus.shell.snapshot_words import SnapshotWords
from chronus.shell.starting import EngineStart, Gate, asks_to_quit, local_answer
from chronus.shell.views import (
    format_health,
    format_patch,
    format_plugin_health,
    format_plugins,
    plugin_rows,
)

__all__ = ["HELP", "Shell", "completion_words", "run_shell"]


def completion_words() -> list[str]:
    """What the prompt completes: the grammar's keywords, module types, named sounds,
    parameters, units."""
    words = set(keywords()) | set(UNIT_WORDS) | set(module_types()) | set(sound_words())
    for module_type in module_types():
        words.update(param_names(module_type))
    return sorted(word for word in words if word.replace("_", "").isalpha())


class Shell:
    """What the shell does with one line, apart from the terminal.

    `write` receives everything meant for the user (from background timers too). Returns
    False from `handle` on quit. Snapshots live in `snapshot_dir`.
    """

    def __init__(
        self,
        client: EngineClient,
        interpreter: Interpreter,
        write: Callable[[str], None],
        snapshot_dir: Path | None = None,
        local: bool = True,
        owns_engine: bool = False,
    ) -> None:
        self.client = client
        self.interpreter = interpreter
        self.write = write
        self.snapshots = SnapshotStore(snapshot_dir or Path("snapshots"))
        self.recorder = Recorder(client, write, on_stop=self._recording_stopped)
        self.replayer = Replayer(client.address, write)
        self.local = local
        """Whether the engine runs on this machine (relative record paths are made absolute)."""
        self.owns_engine = owns_engine
        """Whether the engine stops when the shell quits (it started it)."""
        self.plugins = PluginRequests(client.address, write)
        self.watcher = Watcher(self._reload, write)
        self.snapshot_words = SnapshotWords(self.snapshots, client, write, self._resync)
        self._words: list[str] | None = None

    def handle(self, line: str) -> bool:
        """Interpret one line and act on it; False when the user asked to quit."""
        if self.replayer.finished.is_set():
            self.replayer.finished.clear()
            self._resync()
        if self.plugins.changed.is_set():
            # A plugin came or went: its type, and the modules the engine made or removed.
            self.plugins.changed.clear()
            self._resync(undoable=False)
        result = self.interpreter.interpret(line)
        if result.error is not None:
            self.write(result.error.render() + self._still_loading(line))
            return True
        return self.act(result)

    def _still_loading(self, line: str) -> str:
        """A word for a line that names a plugin whose load has not been answered yet."""
        words = set(line.lower().replace(";", " ").split())
        loading = [asked for asked in self.plugins.awaited if asked.split()[-1] in words]
        if not loading:
            return ""
        return f"\n({loading[0]} is under way: the engine answers once it has checked it)"

    def act(self, result: Interpretation) -> bool:
        """Act on a line interpreted without error; False when it asks to quit."""
        if asks_to_quit(result):
            self.recorder.finish(engine_stops=self.owns_engine)
            self.watcher.close()
            return False
        plugin_messages = self._plugin_messages(result)
        if plugin_messages is None:
            if self._localised(result):
                self._resync(undoable=False)  # the mirror took the line; the engine did not
            return True
        messages = self._localised(result)
        if messages and not self._send(messages):
            return True
        for message in plugin_messages:
            self.plugins.send(message)
        for note in result.notes:
            self.write(note)
        for mapped in result.mapped:
            intent = mapped.intent
            if isinstance(intent, ShellCommand):
                self._shell_command(intent)
            elif isinstance(intent, Snapshot):
                self._snapshot(intent)
            elif isinstance(intent, Record):
                sent = localised(mapped) if self.local else mapped.messages
                path, seconds = recording_of(sent[0], self.interpreter.context.rate)
                self.recorder.started(path, seconds)
            elif isinstance(intent, StopRecording):
                self.recorder.cancel()
            elif isinstance(intent, Replay):
                self._replay(intent)
        return True

    def _recording_stopped(self) -> None:
        self.interpreter.context.recording = None

    def _send(self, messages: list[Message]) -> bool:
        self.client.send(messages)
        try:
            _, notes = self.client.sync(timeout=2.0)
        except EngineError as exc:
            self.write(f"error: {exc}")
            return False
        for address, args in notes:
            self.write(f"{address[1:]}: {' '.join(str(a) for a in args)}")
        if any(address == "/error" for address, _ in notes):
            # The engine refused something: believe the engine, not the mirror.
            self._resync(undoable=False)
        return True

    def _localised(self, result: Interpretation) -> list[Message]:
        """The line's messages but the plugins' (sent on their own); a recording's file made
        absolute when the engine is local."""
        return [
            message
            for mapped in result.mapped
            if not isinstance(mapped.intent, Plugin)
            for message in (localised(mapped) if self.local else mapped.messages)
        ]

    def _plugin_messages(self, result: Interpretation) -> list[Message] | None:
        """The line's plugin messages, a module's file made absolute when the engine is
        local; None (and why written) if such a file is not there: then nothing is sent."""
        out: list[Message] = []
        for mapped in result.mapped:
            if not isinstance(mapped.intent, Plugin):
                continue
            messages = localised(mapped) if self.local else mapped.messages
            if self.local and mapped.intent.file and not Path(str(messages[0].args[0])).is_file():
                self.write(f"error: there is no file {messages[0].args[0]} — nothing sent")
                return None
            out.extend(messages)
        return out

    def _reload(self, name: str) -> None:
        self.plugins.send(plugin_message("reload", name))

    def _resync(self, undoable: bool = True) -> None:
        """Rebuild the context from the engine (after a snapshot load, a replay, an error).

        The undo history is kept; if `undoable`, the state before is one more step back.
        """
        old = self.interpreter.context
        try:
            fresh = Context.from_engine(self.client.dump())
        except EngineError as exc:
            self.write(f"error: {exc}")
            return
        fresh.history = [*old.history, old.state()] if undoable else list(old.history)
        fresh.future = [] if undoable else list(old.future)
        fresh.focus = old.focus if old.focus in fresh.modules else None
        fresh.takes, fresh.key, fresh.scale = old.takes, old.key, old.scale
        fresh.recording = old.recording
        fresh.last_notes = {m: n for m, n in old.last_notes.items() if m in fresh.modules}
        fresh.group = tuple(m for m in old.group if m in fresh.modules)
        old.assign(fresh)

    def _shell_command(self, intent: ShellCommand) -> None:
        name = intent.name
        try:
            if name in ("health", "status"):
                self.write(format_health(self.client.status()))
            elif name == "show":
                only = None if intent.arg in (None, "patch") else intent.arg
                self.write(format_patch(self.client.dump(), only))
            elif name == "modules" and intent.arg is not None:
                self.write(format_plugin_health(self.client.plugin_health(intent.arg)))
            elif name == "modules":
                self.write(format_plugins(self.client.plugins()))
            elif name == "watch":
                self._watch(intent.arg or "")
            elif name == "unwatch":
                self._unwatch(intent.arg or "")
            elif name == "sessions":
                self.write(sessions_text(self.client))
            else:
                self.write(local_answer(intent, self.interpreter.context))
        except EngineError as exc:
            self.write(f"error: {exc}")

    def _watch(self, name: str) -> None:
        """Watch a plugin's file: the engine's listing says which file it loaded."""
        rows = {row["name"]: row for row in plugin_rows(self.client.plugins())}
        path = str(rows.get(name, {}).get("path") or "")
        if not path:
            known = " ".join(rows) or "none loaded"
            self.write(f'there is no plugin "{name}" (plugins: {known})')
            return
        if not self.local or not Path(path).is_file():
            self.write(f"cannot watch {name}: its file {path} is not on this machine")
            return
        self.watcher.watch(name, Path(path))
        self.write(f"watching {path}: {name} reloads when it changes (unwatch {name} stops)")

    def _unwatch(self, name: str) -> None:
        if self.watcher.unwatch(name):
            self.write(f"stopped watching {name}")
        else:
            watched = " ".join(self.watcher.names()) or "none"
            self.write(f'"{name}" is not watched (watched: {watched})')

    def _snapshot(self, intent: Snapshot) -> None:
        self.snapshot_words.act(intent)

    def _replay(self, intent: Replay) -> None:
        try:
            self.replayer.start(Path(intent.path))
        except OSError as exc:
            self.write(f"error: cannot read {intent.path}: {exc.strerror or exc}")
        except ValueError as exc:  # a ScriptError, or a session log that is not right
            self.write(f"error: {exc}")
        except RuntimeError as exc:
            self.write(f"error: {exc}")

    def completions(self) -> list[str]:
        """The words the prompt completes: the language's, then this patch's module ids."""
        if self._words is None:
            self._words = completion_words()
        plugins = [p.name for p in plugin_types()]
        return self._words + plugins + sorted(self.interpreter.context.modules)

    def toolbar(self) -> str:
        """The bottom line: engine, tempo, focus and whether a recording runs."""
        context = self.interpreter.context
        host, port = self.client.address
        focus = context.focus or "—"
        recording = ""
        if context.recording:
            left = self.recorder.left
            ends = "" if left is None else f" {left:.0f} s left"
            recording = f" · ● rec {Path(context.recording).name}{ends}"
        awaited = self.plugins.awaited
        plugins = f" · {awaited[0]}…" if awaited else ""
        watched = self.watcher.names()
        if watched:
            plugins += " · watching " + " ".join(watched)
        return (
            f" engine {host}:{port} · tempo {context.tempo:g} · focus {focus}{recording}"
            f"{plugins} · help · Ctrl-D quits"
        )


def run_shell(
    engine: tuple[str, int] | None = None,
    backend: str = "auto",
    input: Input | None = None,
    output: Output | None = None,
    history: History | None = None,
    write: Callable[[str], None] | None = None,
    log: bool = True,
) -> int:
    """The interactive shell; starts an engine unless `engine` names one to attach to.

    The prompt comes at once: an engine the shell starts boots in the background, and what
    is typed meanwhile plays as soon as it is up (`Gate`). `write` shows a line to the
    musician (default: print it). An engine the shell starts logs the session into the
    sessions folder unless `log` is False.
    """
    write = write or _print
    starting: EngineStart | None = None
    if engine is None:
        # A fresh engine's patch is empty: the mirror starts empty, no dump needed.
        gate = Gate(Interpreter(Context()), write)
        log_path = start_log(write) if log else None
        starting = EngineStart(backend, write, log=log_path)
        write("starting the engine… type away: what you play sounds as soon as it is up")
        if log_path is not None:
            write(logged_notice(log_path))
    else:
        try:
            client = EngineClient(*engine)
            context = Context.from_engine(client.dump())
        except EngineError as exc:
            print(f"chronus: error: {exc}", file=sys.stderr)
            return 1
        gate = Gate(Interpreter(context), write)
        gate.open(_attached(client, gate, write))
    words = completion_words()
    session: PromptSession[str] = PromptSession(
        history=history if history is not None else _history(),
        auto_suggest=AutoSuggestFromHistory(),
        completer=WordCompleter(
            lambda: (
                words + [p.name for p in plugin_types()] + sorted(gate.interpreter.context.modules)
            ),
            ignore_case=True,
        ),
        bottom_toolbar=lambda: _toolbar(gate, starting),
        input=input,
        output=output,
    )
    if starting is not None:
        starting.begin(lambda start: _started(start, gate, session))
    try:
        with patch_stdout():
            while not gate.failed:
                try:
                    line = session.prompt("chronus> ")
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                if not gate.handle(line):
                    break
    finally:
        if gate.shell is not None:
            gate.shell.recorder.finish(engine_stops=starting is not None)
            gate.shell.watcher.close()
            gate.shell.client.close()
        if starting is not None:
            write("stopping the engine…")
            starting.stop()
    return 1 if gate.failed else 0


def _print(text: str) -> None:
    print(text, flush=True)


def _attached(
    client: EngineClient, gate: Gate, write: Callable[[str], None], owns_engine: bool = False
) -> Shell:
    """The shell on an engine that answers at `client`'s address."""
    host, port = client.address
    shell = Shell(client, gate.interpreter, write, local=is_local(host), owns_engine=owns_engine)
    write(f"chronus on {host}:{port} — type `help`, or `add a saw called bass`")
    if not owns_engine and (notice := attached_notice(client)):
        write(notice)
    return shell


def _started(start: EngineStart, gate: Gate, session: PromptSession[str]) -> None:
    """The engine is up (or failed): open the gate, or end the prompt."""
    if start.engine is None:
        print(f"chronus: error: {start.error}", file=sys.stderr, flush=True)
        gate.fail(start.error)
        app = session.app
        if app.is_running and app.loop is not None:
            app.loop.call_soon_threadsafe(lambda: app.exit(exception=EOFError()))
        return
    for notice in start.engine.notices:
        gate.write(notice.rstrip())
    gate.open(_attached(start.engine.client(), gate, gate.write, owns_engine=True))


def _toolbar(gate: Gate, starting: EngineStart | None) -> str:
    if gate.shell is not None:
        return gate.shell.toolbar()
    if gate.failed:
        return " the engine did not start · Ctrl-D quits"
    progress = starting.progress if starting is not None else ""
    waiting = f" · {gate.waiting} line(s) waiting" if gate.waiting else ""
    return f" engine starting… {progress}{waiting} · help · Ctrl-D quits"


def _history() -> History:
    path = Path.home() / ".chronus_history"
    try:
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))
