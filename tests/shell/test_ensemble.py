"""Hearing the other clients of an engine: the listener against a socket that plays the
engine, and the shell's mirror and lines for what it hears (`[ana] …`)."""

from __future__ import annotations

import doctest
import socket
import time
from collections.abc import Callable
from typing import Any

from chronus.engine.client import EngineClient
from chronus.lang.context import Context
from chronus.lang.interpreter import Interpreter
from chronus.protocol import encode_raw, parse_packet, validate
from chronus.shell import ensemble as ensemble_module
from chronus.shell.app import Shell
from chronus.shell.ensemble import Ensemble, Heard
from tests.shell.fake_engine import FakeEngine


def _until(test: Callable[[], bool], what: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


class _Engine:
    """A UDP socket that takes the listener's `/notify` and sends it `/changed`."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5.0)
        self.address = ("127.0.0.1", int(self.sock.getsockname()[1]))

    def subscribed(self) -> tuple[tuple[str, int], tuple[Any, ...]]:
        data, sender = self.sock.recvfrom(65536)
        [(address, args)] = parse_packet(data)
        assert address == "/notify"
        return sender, args

    def send(self, to: tuple[str, int], address: str, *args: Any) -> None:
        self.sock.sendto(encode_raw(address, *args), to)


def _listening(engine: _Engine, renew_s: float = 10.0) -> tuple[Ensemble, list[Any]]:
    heard: list[Any] = []
    listener = Ensemble(
        engine.address, "ben", 4242, heard.append, lambda n: heard.append(("missed", n)),
        renew_s=renew_s,
    )  # fmt: skip
    return listener.start(), heard


def test_it_subscribes_with_its_name_and_commands_port_and_groups_what_it_hears() -> None:
    engine = _Engine()
    listener, heard = _listening(engine)
    try:
        sender, args = engine.subscribed()
        assert args == (1, "ben", 4242)
        engine.send(sender, "/notify", 1, "ben", 0)
        packets = [
            (1, "ana", "/patch/create", "lead", "saw"),
            (2, "ana", "/patch/connect", "lead", "master"),
            (3, "cid", "/tempo", 140.0),
        ]
        for packet in packets:
            engine.send(sender, "/changed", *packet)
        _until(lambda: sum(len(group) for batch in heard for _, group in batch) == 3, heard)
        names = [name for batch in heard for name, _ in batch]
        assert names in (["ana", "cid"], ["ana", "ana", "cid"])  # together when read together
        assert ("missed", 0) not in heard
    finally:
        listener.close()
        engine.sock.close()


def test_a_knob_turned_is_told_once_where_it_went() -> None:
    engine = FakeEngine()
    written: list[str] = []
    shell = Shell(EngineClient(*engine.address), Interpreter(Context()), written.append)
    talker = _Engine()
    listener = Ensemble(talker.address, "ben", 4242, shell.others, lambda n: None).start()
    try:
        shell.interpreter.interpret("add a saw called bass")
        sender, _ = talker.subscribed()
        for number in range(1, 41):  # a knob swept over 0.4 s, a message each 10 ms
            talker.send(sender, "/changed", number, "midi", "/mod/bass/cutoff", 400.0 + 10 * number)
            time.sleep(0.01)
        _until(lambda: shell.interpreter.context.params["bass"]["cutoff"] == 800.0, written)
        # One line, or a few where the host stalled this test's sender for over KNOB_GAP_S.
        assert 1 <= len(written) <= 4 and written[-1].endswith("→ 800 Hz"), written
        assert all(line.startswith("[midi] bass cutoff ") for line in written), written
        knob_lines = len(written)
        talker.send(sender, "/changed", 41, "ana", "/tempo", 90.0)  # not a knob: at once
        _until(lambda: len(written) == knob_lines + 1, written)
        assert written[-1] == "[ana] tempo 120 → 90"
    finally:
        listener.close()
        talker.sock.close()
        shell.client.close()
        engine.close()


def test_a_gap_in_the_numbers_or_a_forgetful_engine_is_told_as_missed() -> None:
    engine = _Engine()
    listener, heard = _listening(engine, renew_s=0.2)
    try:
        sender, _ = engine.subscribed()
        engine.send(sender, "/changed", 1, "ana", "/tempo", 100.0)
        engine.send(sender, "/changed", 4, "ana", "/tempo", 110.0)  # 2 and 3 lost
        _until(lambda: ("missed", 2) in heard, heard)
        engine.subscribed()  # the renewal
        engine.send(sender, "/notify", 1, "ben", 0)  # it numbers from 0 again: it forgot
        _until(lambda: ("missed", 0) in heard, heard)
        assert listener.last == 0
    finally:
        listener.close()
        engine.sock.close()


def test_others_changes_update_the_mirror_and_are_told_with_their_name() -> None:
    engine = FakeEngine()
    written: list[str] = []
    shell = Shell(EngineClient(*engine.address), Interpreter(Context()), written.append)
    try:
        shell.interpreter.interpret("add a saw called bass")  # mine: in the undo history
        context = shell.interpreter.context
        history = list(context.history)
        changes: list[Heard] = [
            ("ana", [validate("/patch/create", ("lead", "saw")),
                     validate("/patch/connect", ("lead", "master"))]),
            ("ben", [validate("/mod/bass/cutoff", (280,))]),
            ("ben", [validate("/panic", ())]),
        ]  # fmt: skip
        shell.others(changes)
        assert written[0] == "[ana] added lead (saw) → master"
        assert written[1].startswith("[ben] bass cutoff ") and written[1].endswith("→ 280 Hz")
        assert written[2] == "[ben] /panic"
        assert context.modules["lead"] == "saw" and context.params["bass"]["cutoff"] == 280
        assert context.focus == "bass"  # others' modules do not take this shell's focus
        assert len(context.history) == len(history)  # others' lines are not this shell's
        undo = shell.interpreter.interpret("undo")  # nor does undo take back what others did
        assert [m.to_list() for m in undo.messages] == [["/patch/remove", "bass"]]
        assert "lead" in shell.completions()
    finally:
        shell.client.close()
        engine.close()


def test_who_lists_the_clients_this_shell_marked() -> None:
    text = ensemble_module.clients_text(
        [
            {"name": "ana", "address": "127.0.0.1:5000", "since": 3600, "idle_s": 0.25},
            {"name": "ben", "address": "tcp:10.0.0.2:7000", "since": 7200, "idle_s": 4},
        ],
        "ben",
    )
    assert text.splitlines() == [
        "clients on this engine: 2",
        "  ana  127.0.0.1:5000  since 01:00:00  last heard 0.2 s ago",
        "  ben (this shell)  tcp:10.0.0.2:7000  since 02:00:00  last heard 4.0 s ago",
    ]


def test_the_examples_in_the_docstrings() -> None:
    result = doctest.testmod(ensemble_module)
    assert result.attempted >= 2 and result.failed == 0


def test_who_is_a_shell_word() -> None:
    from chronus.lang.intents import ShellCommand

    result = Interpreter().interpret("who")
    assert result.error is None and result.intents == [ShellCommand("who")]
    assert result.messages == []
