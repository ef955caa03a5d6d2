"""The supervisor's outer guard: a packet whose handling raises (a bug, a RecursionError,
a MemoryError's cousins) is counted, logged a bounded number of times and answered with
`/error`; the serve loop goes on with the next packet."""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from chronus.engine.announce import Announcer
from chronus.engine.supervisor import Supervisor
from chronus.protocol import encode_raw


class FakeEndpoints:
    """Packets in, replies out: the part of `OscEndpoints` that `_read_osc` uses."""

    def __init__(self, packets: list[bytes]) -> None:
        self.packets = packets
        self.replies: list[tuple[Any, str, tuple[object, ...]]] = []

    def ready(self, key: object, mask: int) -> Iterator[tuple[Any, bytes]]:
        for packet in self.packets:
            yield ("127.0.0.1", 9), packet

    def reply(self, addr: Any, address: str, *args: object) -> None:
        self.replies.append((addr, address, args))

    def charge(self, addr: Any, messages: int) -> None:
        """A bundle's other messages, charged to its peer's rate: none is limited here."""


def _supervisor(packets: list[bytes]) -> tuple[Supervisor, FakeEndpoints]:
    supervisor = Supervisor.__new__(Supervisor)  # no processes: only the serving path
    osc = FakeEndpoints(packets)
    supervisor._osc = osc  # type: ignore[assignment]
    supervisor._received = supervisor._errors = supervisor._internal_errors = 0
    supervisor._announcer = Announcer(lambda addr, packet: True, osc.reply, osc.reply)
    return supervisor, osc


def test_a_packet_that_raises_is_counted_answered_and_the_rest_handled(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor, osc = _supervisor([b"boom", b"fine", b"boom"])
    handled: list[bytes] = []

    def handle(data: bytes, addr: Any) -> None:
        if data == b"boom":
            raise RecursionError("maximum recursion depth exceeded")
        handled.append(data)

    monkeypatch.setattr(supervisor, "handle_packet", handle)
    with caplog.at_level(logging.ERROR, logger="chronus.engine"):
        supervisor._read_osc(None, 0)  # type: ignore[arg-type]
    assert handled == [b"fine"]
    assert supervisor._received == 3
    assert supervisor._internal_errors == 2
    assert supervisor._errors == 2
    errors = [args for _, address, args in osc.replies if address == "/error"]
    wanted = "internal error: RecursionError('maximum recursion depth exceeded')"
    assert errors == [("", wanted)] * 2
    assert sum("internal error handling a packet" in r.getMessage() for r in caplog.records) == 2


def test_the_log_holds_only_the_first_internal_errors(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor, osc = _supervisor([b"boom"] * 50)

    def handle(data: bytes, addr: Any) -> None:
        raise ValueError(data)

    monkeypatch.setattr(supervisor, "handle_packet", handle)
    with caplog.at_level(logging.ERROR, logger="chronus.engine"):
        supervisor._read_osc(None, 0)  # type: ignore[arg-type]
    assert supervisor._internal_errors == 50
    assert len(osc.replies) == 50
    assert sum("internal error handling a packet" in r.getMessage() for r in caplog.records) == 10


def test_a_bundle_of_messages_that_raise_logs_a_bounded_number(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    message = encode_raw("/mod/bass/cutoff", 500.0)
    bundle = b"#bundle\0" + struct.pack(">Q", 1) + (struct.pack(">i", len(message)) + message) * 50
    supervisor, osc = _supervisor([bundle])

    def command(message: object, addr: Any) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(supervisor, "_command", command)
    with caplog.at_level(logging.ERROR, logger="chronus.engine"):
        supervisor._read_osc(None, 0)  # type: ignore[arg-type]
    assert supervisor._internal_errors == 50
    assert [args[0] for _, address, args in osc.replies if address == "/error"] == [
        "/mod/bass/cutoff"
    ] * 50
    assert len(caplog.records) == 10
