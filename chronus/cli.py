"""The `chronus` command and its subcommands."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from chronus import __version__
from chronus.engine.files import DEFAULT_FOLDER, FILES_ENV, default_folder
from chronus.engine.rates import PEER_RATE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from chronus.engine.client import EngineClient, EngineProcess
    from chronus.protocol import Message
    from chronus.session.script import Script

__all__ = ["main"]


def _example(name: str) -> Path:
    """An example script: shipped inside the wheel, or next to the package in a checkout."""
    here = Path(__file__).resolve().parent
    for folder in (here / "examples", here.parent / "examples"):
        if (folder / name).is_file():
            return folder / name
    return here.parent / "examples" / name


EXAMPLE = _example("pattern_song.chr")


def _endpoint(text: str, any_port: bool = False) -> tuple[str, int]:
    from chronus.engine.client import parse_endpoint

    try:
        return parse_endpoint(text, any_port)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _network(text: str) -> str:
    from chronus.engine.peers import parse_network

    try:
        return str(parse_network(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _peer_rate(text: str) -> int:
    try:
        rate = int(text)
    except ValueError:
        rate = -1
    if rate < 0:
        raise argparse.ArgumentTypeError(f"expected messages a second (0 = no limit), got {text!r}")
    return rate


def _server_endpoint(text: str) -> tuple[str, int]:
    return _endpoint(text, any_port=True)


def _add_engine_option(
    parser: argparse.ArgumentParser, help_text: str, subcommand: bool = True
) -> None:
    # A subcommand's own default would overwrite `chronus --engine H:P send …`'s value.
    default = argparse.SUPPRESS if subcommand else None
    parser.add_argument(
        "--engine", type=_endpoint, metavar="HOST:PORT", default=default, help=help_text
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="chronus",
        description="An instrument played by typing. With no subcommand: the interactive shell.",
    )
    parser.add_argument("--version", action="version", version=f"chronus {__version__}")
    _add_engine_option(
        parser, "attach the shell to a running engine instead of starting one", subcommand=False
    )
    parser.add_argument(
        "--backend", choices=("auto", "device", "null"), default="auto",
        help="audio backend of the engine the shell starts (default: auto)",
    )  # fmt: skip
    parser.add_argument(
        "--quiet", action="store_true",
        help="the shell does not tell what each line changed (errors and answers still show)",
    )  # fmt: skip
    parser.add_argument(
        "--name", default=None, metavar="NAME",
        help="what other shells on the engine call you (default: user@host)",
    )  # fmt: skip
    parser.add_argument(
        "--new-engine", action="store_true",
        help="start a fresh engine even if one already plays on the port (default: attach to it)",
    )  # fmt: skip
    parser.add_argument(
        "--port", dest="shell_port", type=int, default=57120, metavar="PORT",
        help="where the shell looks for a running engine on this machine, or starts one "
        "(default 57120)",
    )  # fmt: skip
    parser.add_argument(
        "--no-log", action="store_true",
        help="do not log the session of the engine the shell starts (by default it is logged "
        "to ~/.local/share/chronus/sessions/, under $XDG_DATA_HOME if set)",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("engine", help="run the audio engine in the foreground")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on, IPv4 or IPv6 (default 127.0.0.1; 0.0.0.0 or :: "
                   "listen on every interface)")  # fmt: skip
    p.add_argument("--allow", action="append", default=[], type=_network, metavar="ADDR/MASK",
                   help="with a wider --host: read OSC only from this network and from this "
                   "machine, over OSC and HTTP (repeatable, IPv4 or IPv6; default: from every "
                   "peer)")  # fmt: skip
    p.add_argument("--peer-rate", type=_peer_rate, default=PEER_RATE, metavar="N",
                   help="OSC messages a second one client may send, with a few seconds' burst; "
                   f"faster ones are dropped and counted (default {PEER_RATE}; 0 = no limit)",
                   )  # fmt: skip
    p.add_argument("--port", type=int, default=57120, help="OSC port, UDP and TCP (0 = any free)")
    p.add_argument("--link", action="store_true",
                   help="join the Ableton Link session: follow its tempo and bar lines "
                   "(`link on|off` in the shell, /link over OSC)")  # fmt: skip
    p.add_argument("--backend", choices=("auto", "device", "null"), default=argparse.SUPPRESS,
                   help="device: PortAudio; null: real-time clock, no device; auto (default): "
                   "device if one can be opened")  # fmt: skip
    p.add_argument("--rate", type=int, default=48000, help="sample rate in Hz (default 48000)")
    p.add_argument("--block", type=int, default=None,
                   help="frames per block (default: the JACK server's period when the device "
                   "is JACK's, else 128)")  # fmt: skip
    p.add_argument("--lead", type=int, default=2, help="blocks rendered ahead (default 2)")
    p.add_argument("--device", default=None, help="output device name or index (PortAudio)")
    p.add_argument("--files", default=default_folder(), metavar="DIR",
                   help="the folder the engine writes every file in: recordings and the "
                   f"session log (default ${FILES_ENV}, else ./{DEFAULT_FOLDER})")  # fmt: skip
    p.add_argument("--log", default=None, metavar="SESSION.log",
                   help="log each command and the sample it applied at, in --files")  # fmt: skip
    p.add_argument("--record", default=None, metavar="OUT.wav",
                   help="record all that plays, from block 0, to a WAV (in --files)")  # fmt: skip
    p.add_argument("--http", type=_server_endpoint, default=None, metavar="HOST:PORT",
                   help="serve plugin health and engine status as JSON over HTTP, read-only "
                   "(PORT alone: on 127.0.0.1; 0 = any free port)")  # fmt: skip
    p.add_argument("--modules", action="append", default=[], metavar="DIR",
                   help="a folder of user modules that `/plugins/load <name>` looks in "
                   "(repeatable; then ~/.config/chronus/modules)")  # fmt: skip
    p.add_argument("--plugin-store", default=None, metavar="DIR",
                   help="where loaded user modules are kept by version "
                   "(default ~/.cache/chronus/plugins)")  # fmt: skip

    p = sub.add_parser(
        "parse",
        help="show what commands would do (the OSC they become, or the error); sends nothing",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per command")
    p.add_argument(
        "commands",
        nargs="*",
        metavar="COMMAND",
        help="commands, sharing one context (default: one per line from stdin)",
    )

    p = sub.add_parser("send", help="parse commands and send them to a running engine")
    _add_engine_option(p, "engine address (default 127.0.0.1:57120)")
    p.add_argument("commands", nargs="+", metavar="COMMAND")

    p = sub.add_parser(
        "run", help="play a script, or replay a logged session, in real time through an engine"
    )
    _add_engine_option(p, "engine address (default: start one for this run)")
    p.add_argument(
        "--backend",
        choices=("auto", "device", "null"),
        default=argparse.SUPPRESS,  # else it would overwrite `chronus --backend null run …`
        help="backend of the engine started for this run (default: auto)",
    )
    p.add_argument("script", type=Path, metavar="SCRIPT|SESSION",
                   help="a .chr script, or a session log: a path, or a name that `chronus "
                   "sessions` lists (`last`: the newest)")  # fmt: skip

    p = sub.add_parser(
        "render",
        help="render a script, or the log of a live session, offline to a WAV file",
    )
    p.add_argument("script", type=Path, metavar="SCRIPT|SESSION",
                   help="a .chr script, or a session log: a path, or a name that `chronus "
                   "sessions` lists (`last`: the newest)")  # fmt: skip
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT.wav")
    p.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="length (default: the script's length plus the tail)",
    )
    p.add_argument(
        "--rate", type=int, default=None,
        help="sample rate of a script's render (default 48000; a session renders at its own)",
    )  # fmt: skip
    p.add_argument(
        "--tail",
        type=float,
        default=2.0,
        help="seconds after the script's end, for releases (default 2)",
    )
    p.add_argument("--pcm16", action="store_true", help="16-bit PCM instead of 32-bit float")

    sub.add_parser(
        "sessions", help="the logged sessions: when, how long, size, commands (newest last)"
    )

    p = sub.add_parser("health", help="the engine's health: processes, xruns, underruns")
    p.add_argument("--json", action="store_true", help="the raw status as JSON")
    _add_engine_option(p, "engine address (default 127.0.0.1:57120)")

    p = sub.add_parser("doctor", help="remove the shared memory that dead engines left in /dev/shm")
    p.add_argument(
        "--dry-run", action="store_true", help="only list what dead engines left; remove nothing"
    )

    p = sub.add_parser(
        "plugins",
        help="the engine's plugins: state, version, health; `plugins scan` lists the "
        "LADSPA plugins installed",
    )
    p.add_argument("name", nargs="?", help="one plugin in detail, with its history; or `scan`")
    p.add_argument("--json", action="store_true", help="the engine's reply (or the scan) as JSON")
    _add_engine_option(p, "engine address (default 127.0.0.1:57120)")

    p = sub.add_parser(
        "demo", help="play the example song if a sound device is present, and render it to a WAV"
    )
    p.add_argument("-o", "--output", type=Path, default=Path("chronus-demo.wav"))
    p.add_argument("--no-play", action="store_true", help="only render")
    p.add_argument(
        "--backend", choices=("device", "null"), default="device",
        help="play on the sound device (default), or on the null backend (silent, for timing)",
    )  # fmt: skip
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `chronus` console script."""
    args = build_parser().parse_args(argv)
    handlers = {
        None: _cmd_shell,
        "engine": _cmd_engine,
        "parse": _cmd_parse,
        "send": _cmd_send,
        "run": _cmd_run,
        "render": _cmd_render,
        "sessions": _cmd_sessions,
        "health": _cmd_health,
        "doctor": _cmd_doctor,
        "plugins": _cmd_plugins,
        "demo": _cmd_demo,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130


def _fail(text: str) -> int:
    print(f"chronus: error: {text}", file=sys.stderr)
    return 1


def _cmd_engine(args: argparse.Namespace) -> int:
    from chronus.dsp.rates import block_problem, rate_problem
    from chronus.engine.lifecycle import LOG_FORMAT

    given = args.block
    problem = rate_problem(args.rate) or (block_problem(given) if given is not None else None)
    if problem is not None:
        return _fail(problem)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    block, block_from = _engine_block(given, args.backend, args.device)
    settings = dict(
        host=args.host, port=args.port, backend=args.backend, rate=args.rate,
        block=block, block_from=block_from, lead=args.lead, device=args.device, log=args.log,
        record=args.record,
        files=args.files, allow=tuple(args.allow), peer_rate=args.peer_rate,
        http=args.http,
        modules=tuple(args.modules), plugin_store=args.plugin_store, link=args.link,
    )  # fmt: skip
    forks = os.environ.get("CHRONUS_TEMPLATE", "1") != "0"
    if forks and os.environ.get("CHRONUS_PARENT", "1") != "0":
        from chronus.engine.parent import run_parent

        code = run_parent(settings, _prepare_supervisor, f"engine :{args.port}")
        if code is not None:
            return code
    return _prepare_supervisor(settings, None)(None, 0, [])


def _engine_block(given: int | None, backend: str, device: str | None) -> tuple[int, str]:
    """The engine's block and where it comes from (`jack_period`), said on stderr."""
    from chronus.engine.jack_period import ask_period, choose_block, describe_block

    period = ask_period(device) if backend != "null" else None
    block, source = choose_block(given, period)
    logging.getLogger("chronus.engine").info("%s", describe_block(block, source, period))
    return block, source


def _prepare_supervisor(
    settings: dict[str, Any], link: Any
) -> Callable[[Any, int, list[int]], int]:
    """Start the process template of a supervisor (it warms up meanwhile: while this one
    loads, or while it waits in standby to take over); what runs the supervisor."""
    from chronus.engine.launcher import Launcher, spawn_context
    from chronus.engine.lifecycle import LOG_FORMAT
    from chronus.engine.reaped import ReapedCodes

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    forks = os.environ.get("CHRONUS_TEMPLATE", "1") != "0"
    reaped = ReapedCodes(link) if link is not None else None
    launcher = Launcher(
        spawn_context(), settings["rate"], settings["block"], template=forks, reaped=reaped
    )
    return functools.partial(_run_supervisor, settings, link, launcher)


def _run_supervisor(
    settings: dict[str, Any],
    link: Any,
    launcher: Any,
    manifest: Any,
    restarts: int,
    sockets: list[int],
) -> int:
    """Run one supervisor: start an engine, or re-attach to the running one of `manifest`
    on its listening `sockets` (under the engine's parent, which `link` leads to); its exit
    code."""
    from chronus.engine.titles import set_title

    port = settings["port"] if manifest is None else manifest.port
    set_title(f"supervisor :{port} (starting)")
    from chronus.engine.supervisor import EngineConfig, EngineStartError, Supervisor

    supervisor = Supervisor(EngineConfig(**settings), launcher, link, restarts)
    starting = [True]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if starting[0]:  # a first run can take seconds: stop now, what started is shut down
            raise KeyboardInterrupt
        supervisor.request_quit()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if manifest is None:
            ready = supervisor.start()
        else:
            taken = supervisor.reattach(manifest, sockets)
            logging.getLogger("chronus.engine").warning("%s", taken)
        starting[0] = False
        set_title(f"supervisor :{supervisor.port}")
    except EngineStartError as exc:
        supervisor.shutdown()
        return _fail(str(exc))
    except BaseException:
        supervisor.shutdown()
        raise
    if manifest is None:
        if supervisor.notice:
            print(f"chronus engine: notice: {supervisor.notice}", file=sys.stderr, flush=True)
        print(ready, flush=True)
    try:
        supervisor.serve_forever()
    finally:
        supervisor.shutdown()
    return 0


def _read_commands(given: list[str]) -> list[str]:
    return given if given else [line.rstrip("\n") for line in sys.stdin]


def _cmd_parse(args: argparse.Namespace) -> int:
    from chronus.lang.interpreter import Interpreter

    interpreter = Interpreter()
    failed = False
    for line in _read_commands(args.commands):
        result = interpreter.interpret(line)
        failed |= not result.ok
        if args.json:
            print(json.dumps(result.to_json_dict()))
        elif result.error is not None:
            print(result.error.render())
        else:
            print(f"> {line}")
            for message in result.messages:
                print("  " + " ".join(str(part) for part in message.to_list()))
            for note in result.notes:
                print(f"  ({note})")
    return 1 if failed else 0


def _cmd_send(args: argparse.Namespace) -> int:
    from chronus.engine.client import DEFAULT_ENGINE, EngineClient, EngineError
    from chronus.lang.context import Context
    from chronus.lang.intents import Midi, Plugin, Record
    from chronus.lang.interpreter import Interpreter
    from chronus.session.local_files import is_local, localised
    from chronus.session.recording import recording_of

    host, port = args.engine or DEFAULT_ENGINE
    with EngineClient(host, port) as client:
        try:
            interpreter = Interpreter(Context.from_engine(client.dump()))
        except EngineError as exc:
            return _fail(str(exc))
        results = [interpreter.interpret(command) for command in args.commands]
        bad = [r for r in results if not r.ok]
        if bad:
            for result in bad:
                assert result.error is not None
                print(result.error.render(), file=sys.stderr)
            print("chronus: nothing sent", file=sys.stderr)
            return 2
        local = is_local(host)
        rate = interpreter.context.rate
        messages: list[Message] = []
        plugins: list[Message] = []
        midi: list[Message] = []
        recordings: list[tuple[str, float | None]] = []
        for mapped in (mapped for result in results for mapped in result.mapped):
            out = localised(mapped) if local else mapped.messages
            if isinstance(mapped.intent, Midi):
                midi.extend(out)
            else:
                (plugins if isinstance(mapped.intent, Plugin) else messages).extend(out)
            if isinstance(mapped.intent, Record):
                recordings.append(recording_of(out[0], rate))
        quits = [m for m in messages if m.address == "/engine/quit"]
        messages = [m for m in messages if m.address != "/engine/quit"]
        client.send(messages)
        try:
            stamp, notes = client.sync()
        except EngineError as exc:
            return _fail(str(exc))
        if quits:  # last, and not synced: an engine that quits answers nothing more
            client.send(quits)
            print("sent /engine/quit: the engine stops")
        # After the sync, so that their answers, which come late, are not taken for its notes.
        plugins_failed = _send_plugins(client, plugins)
        plugins_failed = _send_midi(client, midi) or plugins_failed
    for address, reply_args in notes:
        print(f"chronus: {address[1:]}: {' '.join(str(a) for a in reply_args)}", file=sys.stderr)
    if messages or not quits:
        print(f"sent {len(messages)} message(s); they apply at sample {stamp}")
    refused = any(address == "/error" for address, _ in notes)
    for path, seconds in [] if refused else recordings:
        if seconds is None:
            print(f"recording to {path} until `stop recording`")
        else:
            print(f"recording {seconds:g} s to {path}; the engine stops it by itself")
    return 1 if refused or plugins_failed else 0


def _send_plugins(client: EngineClient, messages: list[Message]) -> bool:
    """Send plugin commands one by one, each waiting for the engine's answer (it comes once
    the module is checked and plays); print the answers; whether any failed."""
    from chronus.shell.plugins import ANSWER_TIMEOUT_S, answer, request_of
    from chronus.shell.views import format_plugin_reply

    failed = False
    for message in messages:
        request, _ = request_of(message)
        client.send([message])
        reply = answer(client, message, ANSWER_TIMEOUT_S)
        if reply is None:
            print(f"chronus: no answer to {request} within {ANSWER_TIMEOUT_S:g} s", file=sys.stderr)
        else:
            text = format_plugin_reply(reply[0], reply[1], request)
            print(text, file=sys.stderr if reply[0] == "/error" else sys.stdout)
        failed = failed or reply is None or reply[0] == "/error"
    return failed


def _send_midi(client: EngineClient, messages: list[Message]) -> bool:
    """Send MIDI requests one by one, each waiting for the engine's answer (`midi in`'s
    comes once its MIDI process has looked at the ports); print them; whether any failed."""
    from chronus.shell.midi import LEARN_TIMEOUT_S, TIMEOUT_S, midi_answer, wait_answer

    failed = False
    for message in messages:
        client.send([message])
        learn = message.address == "/midi/learn"
        reply = wait_answer(client, message, LEARN_TIMEOUT_S if learn else TIMEOUT_S)
        if reply is None:
            print(f"chronus: no answer to {message.address}", file=sys.stderr)
        else:
            print(midi_answer(*reply), file=sys.stderr if reply[0] == "/error" else sys.stdout)
        failed = failed or reply is None or reply[0] == "/error"
    return failed


def _load_script(path: Path) -> Script:
    """A script, or a session log as the script that replays it."""
    from chronus.session.replay import load_replay

    try:
        return load_replay(path)
    except OSError as exc:
        raise SystemExit(_fail(f"cannot read {path}: {exc.strerror}")) from None
    except ValueError as exc:  # a ScriptError, or a session log that is not right
        raise SystemExit(_fail(str(exc))) from None


def _session_or_script(path: Path) -> Path:
    """`path` if there is such a file, else the session log it names (`chronus sessions`)."""
    from chronus.session.logs import find_session

    if path.exists():
        return path
    try:
        return find_session(path)
    except FileNotFoundError as exc:
        raise SystemExit(_fail(str(exc))) from None


def _cmd_sessions(args: argparse.Namespace) -> int:
    from chronus.shell.sessions import sessions_text

    print(sessions_text())
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from chronus.engine.client import EngineError, EngineProcess

    args.script = _session_or_script(args.script)
    if args.engine:
        return _play(args.script, _load_script(args.script), *args.engine)
    print("starting an engine…", file=sys.stderr)
    engine = EngineProcess(port=0, backend=args.backend).start()  # it boots while we read
    try:
        script = _load_script(args.script)
        engine.wait_ready()
    except EngineError as exc:
        return _fail(str(exc))
    except BaseException:
        engine.quit()
        raise
    return _play(args.script, script, engine.host, engine.port, engine)


def _play(
    path: Path, script: Script, host: str, port: int, engine: EngineProcess | None = None
) -> int:
    """Play `script` in real time through the engine at host:port (quit `engine` after)."""
    from chronus.engine.client import EngineClient, EngineError
    from chronus.session.player import play_script

    if engine is not None:
        for notice in engine.notices:
            print(notice.rstrip(), file=sys.stderr)
    try:
        with EngineClient(host, port) as client:
            print(
                f"playing {path} ({float(script.duration):.1f} s) on the engine at {host}:{port}…",
                file=sys.stderr,
            )
            play_script(client, script, on_reply=_print_reply)
            status = client.status()
    except EngineError as exc:
        return _fail(str(exc))
    finally:
        if engine is not None:
            engine.quit()
    io = status.get("io", {})
    print(f"done: {io.get('blocks_played', 0)} blocks played, "
          f"{io.get('underruns', 0)} underruns, {io.get('xruns', 0)} xruns")  # fmt: skip
    return 0


def _print_reply(reply: tuple[str, tuple[object, ...]]) -> None:
    address, args = reply
    if address in ("/error", "/warning"):
        print(f"chronus: {address[1:]}: {' '.join(str(a) for a in args)}", file=sys.stderr)


def _cmd_render(args: argparse.Namespace) -> int:
    from chronus.dsp.rates import rate_problem
    from chronus.session.offline import script_chunks, script_frames
    from chronus.session.script import ScriptError

    if (args.seconds is not None and args.seconds < 0) or args.tail < 0:
        return _fail("--seconds and --tail must not be negative")
    from chronus.session.stamped_log import is_session_log

    args.script = _session_or_script(args.script)
    if is_session_log(args.script):
        return _render_session_log(args)
    script = _load_script(args.script)
    args.rate = 48000 if args.rate is None else args.rate
    if (problem := rate_problem(args.rate)) is not None:
        return _fail(problem)
    frames = script_frames(script, args.rate, args.seconds, args.tail)
    if (problem := _too_long(frames, args)) is not None:
        return _fail(problem)
    started = time.perf_counter()
    try:
        pieces = script_chunks(script, rate=args.rate, seconds=args.seconds, tail=args.tail)
    except ScriptError as exc:
        return _fail(str(exc))
    return _write_render(args, pieces, started)


def _too_long(frames: int, args: argparse.Namespace) -> str | None:
    """Why a render of `frames` cannot be written, or None."""
    from chronus.session.wav import max_frames

    most = max_frames(2, "pcm16" if args.pcm16 else "float32")
    if frames <= most:
        return None
    return (
        f"the render would last {frames / args.rate:,.0f} s; a WAV holds at most "
        f"{most / args.rate:,.0f} s at {args.rate} Hz (shorten it with --seconds)"
    )


def _render_session_log(args: argparse.Namespace) -> int:
    from chronus.session.offline import Refusals, session_chunks
    from chronus.session.stamped_log import read_stamped_log

    try:
        session = read_stamped_log(args.script)
    except (OSError, ValueError) as exc:
        return _fail(f"cannot read the session log: {exc}")
    if args.rate is not None and args.rate != session.rate:
        return _fail(f"{args.script} was played at {session.rate} Hz; it renders at that rate")
    args.rate = session.rate
    seconds = args.seconds if args.seconds is not None else session.end / session.rate + args.tail
    frames = max(0, round(seconds * session.rate))
    if (problem := _too_long(frames, args)) is not None:
        return _fail(problem)
    started = time.perf_counter()
    print(f"{args.script}: {len(session.commands)} commands, {len(session.commits)} commits")
    refusals = Refusals()
    code = _write_render(args, session_chunks(session, frames, refusals=refusals), started)
    if refusals.count:
        print(
            f"chronus: warning: {refusals.count} commands of the log were refused, as the "
            f"engine refused them live (first: {'; '.join(refusals.first)})",
            file=sys.stderr,
        )
    return code


def _write_render(
    args: argparse.Namespace, pieces: Iterable[npt.NDArray[np.float32]], started: float
) -> int:
    """Render and write piece by piece: the take is never whole in memory."""
    from chronus.session.wav import stream_wav

    try:
        frames, peak = stream_wav(
            args.output, pieces, args.rate, 2, "pcm16" if args.pcm16 else "float32"
        )
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    except ValueError as exc:  # a session whose plugins are gone, or whose commits overlap
        return _fail(str(exc))
    elapsed = time.perf_counter() - started
    print(f"wrote {args.output} ({frames / args.rate:.2f} s, {args.rate} Hz stereo, "
          f"peak {peak:.2f}) in {elapsed:.2f} s")  # fmt: skip
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
    from chronus.shell.views import format_health

    return _show(args, lambda client: client.status(), format_health)


def _cmd_doctor(args: argparse.Namespace) -> int:
    """List what dead engines left in /dev/shm and remove it (nothing of a live engine)."""
    from chronus.engine import leftovers

    found = leftovers.find_leftovers()
    for item in found:
        print(f"{item.path}  {item.bytes / 1e3:.1f} kB  (engine pid {item.owner.pid}, gone)")
    if not found:
        print("nothing of a dead engine in /dev/shm")
        return 0
    counts = leftovers.summary(found)
    what = (
        f"{counts['segments']} segments and {counts['semaphores']} semaphores "
        f"({counts['bytes'] / 1e6:.1f} MB) of {counts['engines']} dead engine(s)"
    )
    if args.dry_run:
        print(f"{what}: `chronus doctor` removes them")
        return 0
    done = leftovers.sweep()
    print(done.line() or f"{what}: already gone")
    return 1 if done.kept else 0


def _show(
    args: argparse.Namespace,
    fetch: Callable[[EngineClient], Any],
    view: Callable[[Any], str],
) -> int:
    """Print what `fetch` asks the engine of `--engine`: as `view` shows it, or with `--json`
    as the engine gave it. No engine there: say so and return 1."""
    from chronus.engine.client import DEFAULT_ENGINE, EngineClient, EngineError

    host, port = args.engine or DEFAULT_ENGINE
    try:
        with EngineClient(host, port) as client:
            data = fetch(client)
    except EngineError as exc:
        return _fail(str(exc))
    print(json.dumps(data, indent=2) if args.json else view(data))
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    from chronus.shell.views import format_plugin_health, format_plugins

    if args.name == "scan":
        from chronus.shell.native import format_scan, scan_for_chronus

        found = scan_for_chronus()
        print(json.dumps(found.to_dict(), indent=2) if args.json else format_scan(found))
        return 0
    if args.name is not None:
        return _show(args, lambda client: client.plugin_health(args.name), format_plugin_health)
    return _show(args, lambda client: client.plugins(), format_plugins)


def _cmd_demo(args: argparse.Namespace) -> int:
    from chronus.engine.client import EngineError, EngineProcess

    if args.no_play:
        return _render_demo(args.output)
    engine = EngineProcess(port=0, backend=args.backend).start()
    try:
        script = _load_script(EXAMPLE)  # while the engine boots
        engine.wait_ready()
    except EngineError as exc:
        said = [line for line in engine.notices if "error: " in line]
        code = _render_demo(args.output)
        if not code:
            print(f"not playing it live: {said[-1].split('error: ')[-1].strip() if said else exc}")
        return code
    except BaseException:
        engine.quit()
        raise
    # The song plays at once; its WAV is rendered meanwhile, in a process of its own.
    writer = subprocess.Popen([sys.executable, "-m", "chronus", "render", str(EXAMPLE),
                               "-o", str(args.output), "--pcm16"])  # fmt: skip
    with engine.client() as client:
        device = str(client.status().get("io", {}).get("device", args.backend))
    print(f"playing it live on {device.removeprefix('device: ')} (Ctrl-C stops)…")
    try:
        code = _play(EXAMPLE, script, engine.host, engine.port, engine)
    finally:
        writer.wait()
    if writer.returncode:
        return _fail(f"the demo song was not written to {args.output}")
    print(f"the demo song is in {args.output.resolve()} — open it with any audio player")
    return code


def _render_demo(output: Path) -> int:
    code = _cmd_render(argparse.Namespace(
        script=EXAMPLE, output=output, seconds=None, rate=48000, tail=2.0, pcm16=True,
    ))  # fmt: skip
    if not code:
        print(f"the demo song is in {output.resolve()} — open it with any audio player")
    return code


def _cmd_shell(args: argparse.Namespace) -> int:
    from chronus.shell.app import run_shell

    return run_shell(
        engine=args.engine,
        backend=args.backend,
        quiet=args.quiet,
        port=args.shell_port,
        new_engine=args.new_engine,
        log=not args.no_log,
        name=args.name,
    )
