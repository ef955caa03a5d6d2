"""The interactive shell: a prompt_toolkit prompt in front of an engine."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

from chronus.engine.client import DEFAULT_ENGINE, EngineClient, EngineError
from chronus.engine.files import default_folder
from chronus.lang.context import Context
from chronus.lang.intents import (
    LinkQuantum,
    LinkSession,
    LinkStartStop,
    Midi,
    Plugin,
    Record,
    Replay,
    ShellCommand,
    Snapshot,
    StopRecording,
)
from chronus.lang.interpreter import Interpretation, Interpreter
from chronus.lang.modules import module_types, param_names, plugin_types
from chronus.lang.parser import UNIT_WORDS, keywords, warm_up
from chronus.lang.sounds import sound_words
from chronus.protocol import Message
from chronus.session.focus import keep_focus
from chronus.session.local_files import is_local, localised
from chronus.session.recording import Recorder, recording_of, takes_made
from chronus.session.replay import Replayer
from chronus.session.snapshots import SnapshotStore
from chronus.shell.colour import STYLE, CommandLexer
from chronus.shell.completion import CommandCompleter
from chronus.shell.ensemble import Ensemble, Heard, clients_text, default_name
from chronus.shell.examples import example_lines
from chronus.shell.feedback import BeatNow, Moment, Teller, others_line
from chronus.shell.help import HELP
from chronus.shell.keys import key_bindings, panic
from chronus.shell.leaving import (
    STOP,
    ask_stop_or_leave,
    attach_context,
    attached_line,
    find_engine,
    left_playing,
)
from chronus.shell.live import terminal_runner
from chronus.shell.liveness import Liveness, back_line, lost_line
from chronus.shell.midi import MidiAnswers
from chronus.shell.native import scan_later
from chronus.shell.plugins import PluginRequests, Watcher, plugin_message
from chronus.shell.sessions import (
    attached_notice,
    local_log,
    logged_notice,
    sessions_text,
    start_log,
)
from chronus.shell.showing import Show
from chronus.shell.snapshot_words import SnapshotWords
from chronus.shell.starting import EngineStart, Gate, asks_to_quit, local_answer, quit_how
from chronus.shell.toolbar import REFRESH_S, Extras, LiveStatus, draw_toolbar, tempo_due
from chronus.shell.views import (
    format_health,
    format_link,
    format_plugin_health,
    format_plugins,
    plugin_rows,
)

__all__ = ["HELP", "Shell", "completion_words", "run_shell"]

Write = Callable[[str], None]
_BOOT_WAIT_S = 120.0
"""How long a quit waits for a starting engine to play the lines typed meanwhile (as long as
a boot may take: a first run compiles the kernels)."""


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
        quiet: bool = False,
        beat_now: BeatNow | None = None,
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
        self.midi = MidiAnswers(client.address, write)
        self.watcher = Watcher(self._reload, write)
        self.snapshot_words = SnapshotWords(self.snapshots, client, write, self._resync)
        self._words: list[str] | None = None
        self.pictures = Show(write, live=terminal_runner())
        """`show …`; its `beat_now` places the playhead of `show patterns`."""
        self.live: LiveStatus | None = None
        """What plays now, polled in the background for the toolbar (the prompt sets it)."""
        self.feedback = Teller(quiet, beat_now)
        """What a line changed, told in one line (only the notes when quiet)."""
        self.quit_how: str | None = None
        """After a quit: `stop`, `leave`, or None (the prompt asks)."""
        self.focus_log: str | None = None
        """The engine's session log, beside which the focus is kept for the next shell
        (None: not kept; see `chronus.session.focus`)."""
        self._kept_focus: str | None = None
        self.tempo_due: tuple[float, int | None] | None = None
        """A tempo sent while the transport ran, waiting for its bar: (bpm, bar), for the
        toolbar."""
        self.ensemble: Ensemble | None = None
        """What the other clients of the engine change, heard in the background."""

    def handle(self, line: str) -> bool:
        """Interpret one line and act on it; False when the user asked to quit."""
        if self.replayer.finished.is_set():
            self.replayer.finished.clear()
            self._resync()
        if self.plugins.changed.is_set():
            # A plugin came or went: its type, and the modules the engine made or removed.
            self.plugins.changed.clear()
            self._resync(undoable=False)
        before = Moment.of(self.interpreter.context)
        result = self.interpreter.interpret(line)
        if result.error is not None:
            self.write(result.error.render() + self._still_loading(line) + self._saved(line))
            return True
        return self.act(result, before)

    def _saved(self, line: str) -> str:
        """The snapshots there are, after a snapshot line that failed (`snapshot save`)."""
        words = line.lower().split()[:2]
        asked = words[:1] == ["snapshot"] or (
            words[:1] in (["save"], ["load"], ["diff"]) and words[1:] in ([], ["snapshot"])
        )
        names = self.snapshots.names() if asked else []
        return f"\nsnapshots saved: {' '.join(names)}" if names else ""

    def _still_loading(self, line: str) -> str:
        """A word for a line that names a plugin whose load has not been answered yet."""
        words = set(line.lower().replace(";", " ").split())
        loading = [asked for asked in self.plugins.awaited if asked.split()[-1] in words]
        if not loading:
            return ""
        return f"\n({loading[0]} is under way: the engine answers once it has checked it)"

    def act(
        self, result: Interpretation, before: Moment | None = None, after: Moment | None = None
    ) -> bool:
        """Act on a line interpreted without error; False when it asks to quit.

        `before` (and `after`, default: the mirror once sent) are the mirror around the line,
        for the feedback line; without them only the line's notes are written.
        """
        if asks_to_quit(result):
            self.quit_how = quit_how(result)
            if self.quit_how is not None:  # else the prompt asks first (and may come back)
                self.recorder.finish(engine_stops=self.quit_how == STOP)
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
        for mapped in result.mapped:
            if isinstance(mapped.intent, Midi):
                for message in mapped.messages:
                    self.midi.send(message)
        for note in self.feedback.lines(result, before, after or self._moment(before)):
            self.write(note)
        running = before is not None and before.state.transport
        self.tempo_due = tempo_due(messages, running, self.feedback.next_bar, self.tempo_due)
        self.keep_focus()
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
            elif isinstance(intent, LinkSession | LinkQuantum | LinkStartStop):
                self._show_link()
        return True

    def _show_link(self) -> None:
        """Ableton Link as the engine has it now, in one line."""
        try:
            self.write(format_link(self.client.status()["engine"].get("link", {})))
        except EngineError as exc:
            self.write(f"error: {exc}")

    def keep_focus(self, log: str | None = None) -> None:
        """Keep the focus beside the session log when it changed (`log`: keep it beside
        this log from now on), for a shell that attaches later."""
        if log is not None:
            self.focus_log, self._kept_focus = log, None
        focus = self.interpreter.context.focus
        if self.focus_log is not None and (focus != self._kept_focus or log is not None):
            keep_focus(self.focus_log, focus)
            self._kept_focus = focus

    def _moment(self, before: Moment | None) -> Moment | None:
        return None if before is None else Moment.of(self.interpreter.context)

    def _recording_stopped(self) -> None:
        self.interpreter.context.recording = None

    def _send(self, messages: list[Message]) -> bool:
        self.pictures.sent(messages)
        try:
            self.client.send(messages)
            _, notes = self.client.sync(timeout=2.0)
        except EngineError as exc:
            self.write(f"error: {exc}")
            return False
        except OSError as exc:  # an engine gone away: its port refuses datagrams
            host, port = self.client.address
            self.write(f"error: the engine at {host}:{port} is gone ({exc.strerror or exc})")
            return False
        for address, args in notes:
            self.write(f"{address[1:]}: {' '.join(str(a) for a in args)}")
        if any(address == "/error" for address, _ in notes):
            # The engine refused something: believe the engine, not the mirror.
            self._resync(undoable=False)
        return True

    def _localised(self, result: Interpretation) -> list[Message]:
        """The line's messages but the plugins' and MIDI's (sent on their own); a
        recording's file made absolute when the engine is local."""
        return [
            message
            for mapped in result.mapped
            if not isinstance(mapped.intent, Plugin | Midi)
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

    def engine_back(self, restarted: bool) -> None:
        """The engine answers again after it went away (or restarted): rebuild the mirror from
        it and say so. After a restart `undo` puts back the patch the mirror had."""
        before = self.interpreter.context.state()
        self._resync(undoable=restarted)
        context = self.interpreter.context
        undoable = restarted and context.state() != before
        if restarted and not undoable:
            context.history = context.history[:-1]  # the same patch: nothing to put back
        self.write(back_line(self.client.address, restarted, len(context.modules), undoable))

    def others(self, changes: list[Heard]) -> None:
        """Other clients' changes: the mirror and its undo history follow them (`undo` then
        takes back this shell's lines only), and each client's are told in one line above the
        prompt."""
        context = self.interpreter.context
        for name, messages in changes:
            before = context.state()
            fresh = context.copy()  # swapped in whole: the completer may be reading this one
            fresh.heard(messages)
            context.assign(fresh)
            raw = [" ".join(str(part) for part in message.to_list()) for message in messages]
            line = others_line(name, before, context.state(), raw)
            if line:
                self.write(line)

    def missed(self, count: int) -> None:
        """Others' changes were missed (a lost datagram, an engine that forgot this shell):
        the mirror is rebuilt from the engine."""
        self._resync(undoable=False)
        what = f"{count} change{'' if count == 1 else 's'} by others" if count else "changes"
        self.write(f"({what} not heard: resynced with the engine)")

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
        fresh.attached = old.attached
        fresh.last_notes = {m: n for m, n in old.last_notes.items() if m in fresh.modules}
        fresh.group = tuple(m for m in old.group if m in fresh.modules)
        old.assign(fresh)

    def _shell_command(self, intent: ShellCommand) -> None:
        name = intent.name
        try:
            if name in ("health", "status"):
                self.write(format_health(self.client.status()))
            elif name == "show":
                self.pictures(intent.arg, self.client.dump())
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
            elif name == "link":
                self._show_link()
            elif name == "who":
                me = self.ensemble.name if self.ensemble is not None else ""
                self.write(clients_text(self.client.clients(), me))
            elif name == "focus":
                pass  # the mapper moved the focus; its feedback line says so
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
        """The bottom line: what plays now (see `toolbar.py`), the focus, plugins under way,
        watched files."""
        context = self.interpreter.context
        host, port = self.client.address
        extras = Extras(
            focus=context.focus,
            awaited=self.plugins.awaited,
            watched=self.watcher.names(),
            recording=context.recording,
            left=self.recorder.left if context.recording else None,
            tempo=context.tempo,
            engine=f"{host}:{port}",
            tempo_due=self.tempo_due,
        )
        return draw_toolbar(self.live.latest if self.live else None, extras)


def run_shell(
    engine: tuple[str, int] | None = None,
    backend: str = "auto",
    input: Input | None = None,
    output: Output | None = None,
    history: History | None = None,
    write: Callable[[str], None] | None = None,
    quiet: bool = False,
    port: int = DEFAULT_ENGINE[1],
    new_engine: bool = False,
    watch_interval: float = 1.0,
    log: bool = True,
    name: str | None = None,
) -> int:
    """The interactive shell, on the engine at `engine`; without one, on the engine already
    answering at `port` on this machine (see `chronus.shell.leaving`), else on one it starts
    (`new_engine`: always).

    The prompt comes at once: an engine the shell starts boots in the background, and what
    is typed meanwhile plays as soon as it is up (`Gate`). `write` shows a line to the
    musician (default: print it); `quiet` leaves out the feedback lines. The engine is
    watched every `watch_interval` seconds (`Liveness`). Quitting asks whether to stop the
    music or leave it playing. An engine the shell starts logs the session into the
    sessions folder unless `log` is False. Other clients of the engine see this shell's
    changes as `name`'s (default: user@host), and it theirs (`Ensemble`).
    """
    write = write or _print
    name = name or default_name()
    scan_later()  # the LADSPA plugins, for `load plugin` and its completion
    starting: EngineStart | None = None
    found = None if engine is not None or new_engine else find_engine(port)
    watching: list[Liveness] = []
    if engine is None and found is None:
        # A fresh engine's patch is empty: the mirror starts empty, no dump needed. Its
        # files folder may hold takes of earlier sessions: `record` goes past them.
        gate = Gate(Interpreter(Context(takes=takes_made(default_folder()))), write)
        log_path = start_log(write) if log else None
        starting = EngineStart(backend, write, port, log=log_path)
        write("starting the engine… type away: what you play sounds as soon as it is up")
        if log_path is not None:
            write(logged_notice(log_path))
    else:
        try:
            client = found if found is not None else EngineClient(*(engine or DEFAULT_ENGINE))
            context = attach_context(client)
        except EngineError as exc:
            print(f"chronus: error: {exc}", file=sys.stderr)
            return 1
        gate = Gate(Interpreter(context), write)
        if found is not None:
            write(attached_line(context, client.address))
        gate.open(_attached(client, gate, write, quiet=quiet, name=name))
        watching.append(_watch(gate, write, watch_interval))
    session: PromptSession[str] = PromptSession(
        history=history if history is not None else _history(),
        auto_suggest=AutoSuggestFromHistory(),
        completer=CommandCompleter(
            lambda: gate.interpreter.context,
            lambda: gate.shell.snapshots.names() if gate.shell is not None else (),
        ),
        complete_while_typing=True,
        lexer=CommandLexer(lambda: gate.interpreter.context),
        style=STYLE,
        bottom_toolbar=lambda: _toolbar(gate, starting),
        refresh_interval=REFRESH_S,
        key_bindings=key_bindings(lambda: panic(gate.shell, write)),
        input=input,
        output=output,
    )
    if starting is not None:

        def then(start: EngineStart) -> None:
            _started(start, gate, session, quiet, name)
            if gate.shell is not None:
                watching.append(_watch(gate, write, watch_interval))

        starting.begin(then)
    # What the parser builds on first use is built while the musician reads the prompt:
    # after it is drawn, so that the first draw does not share the interpreter with it.
    warming = threading.Thread(target=_warm_up, name="warm-up", daemon=True)

    def drawn(_: object) -> None:
        if warming.ident is None:
            warming.start()

    session.app.after_render += drawn
    how: str | None = None
    try:
        with patch_stdout():
            while not gate.failed:
                try:
                    line = session.prompt("chronus> ")
                except KeyboardInterrupt:
                    continue  # Ctrl-C clears the line; it never quits
                except EOFError:
                    line = None  # Ctrl-D: quit, asking how
                if line is not None and gate.handle(line):
                    continue
                how = gate.quit_how if line is not None else None
                if gate.shell is None and gate.waiting and not gate.failed:
                    # Lines typed while it starts (a pasted or piped song) are played and
                    # logged before quitting, as they would have been a moment later.
                    write(f"(playing the {gate.waiting} line(s) typed meanwhile first)")
                    if not gate.settle(_BOOT_WAIT_S):
                        write(f"(the engine did not start within {_BOOT_WAIT_S:g} s)")
                if how is None:
                    how = _ask(gate, input, output)
                if how is not None:
                    break
    finally:
        for watcher in watching:
            watcher.close()
        _leave(gate, starting, how, write)
    return 1 if gate.failed else 0


def _warm_up() -> None:
    """The parser's states the help examples and a pattern line reach, the hints' table and
    the pattern notation (imported by the first pattern line)."""
    warm_up([*example_lines(), "bass: c2 . eb2 g2", "kick: x . x ."])
    import chronus.seq.notation  # noqa: F401


def _ask(gate: Gate, input: Input | None, output: Output | None) -> str | None:
    """Stop or leave (None: not quitting after all); no question when nothing plays yet."""
    if gate.shell is None:
        return STOP  # the engine is still starting (or failed): nothing plays yet
    return ask_stop_or_leave(input, output)


def _leave(gate: Gate, starting: EngineStart | None, how: str | None, write: Write) -> None:
    """Stop the engine or leave it playing (also when the shell ends on an error: the music
    outlives the shell unless the musician said stop)."""
    shell = gate.shell
    stop = how == STOP or shell is None
    if shell is not None:
        shell.recorder.finish(engine_stops=stop)
        shell.watcher.close()
        if shell.live is not None:
            shell.live.close()
        if shell.ensemble is not None:
            shell.ensemble.close()
        if stop and starting is None:
            try:
                shell.client.quit()
                write("stopped the engine")
            except EngineError as exc:
                write(f"error: {exc}")
        elif not stop:
            write(left_playing(shell.client.address))
        shell.client.close()
    if starting is not None and stop:
        write("stopping the engine…")
        starting.stop()


def _watch(gate: Gate, write: Write, interval: float) -> Liveness:
    """Watch the shell's engine: say when it goes, resync when it is back."""
    assert gate.shell is not None
    address = gate.shell.client.address
    return Liveness(address, lambda: write(lost_line(address)), gate.engine_back, interval).start()


def _print(text: str) -> None:
    print(text, flush=True)


def _attached(
    client: EngineClient,
    gate: Gate,
    write: Callable[[str], None],
    owns_engine: bool = False,
    quiet: bool = False,
    name: str = "",
) -> Shell:
    """The shell on an engine that answers at `client`'s address, hearing the others'
    changes as `name`."""
    host, port = client.address
    shell = Shell(
        client,
        gate.interpreter,
        write,
        local=is_local(host),
        owns_engine=owns_engine,
        quiet=quiet,
        beat_now=lambda: _beat(client),
    )
    shell.live = LiveStatus.for_engine(client.address, write, shell.recorder.reports).start()
    shell.ensemble = Ensemble(
        client.address, name or default_name(), client.local_port, gate.heard, gate.missed
    ).start()
    shell.pictures.beat_now = lambda: _beat(client)
    shell.keep_focus(local_log(client))
    write(f"chronus on {host}:{port} — type `help`, or `add a saw called bass`")
    if not owns_engine and (notice := attached_notice(client)):
        write(notice)
    return shell


def _beat(client: EngineClient) -> float | None:
    """Where the transport is now, asked of the engine (None while it is stopped)."""
    beat = client.now().get("beat")
    return None if beat is None else float(beat)


def _started(
    start: EngineStart,
    gate: Gate,
    session: PromptSession[str],
    quiet: bool = False,
    name: str = "",
) -> None:
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
    client = start.engine.client()
    gate.open(_attached(client, gate, gate.write, owns_engine=True, quiet=quiet, name=name))


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
