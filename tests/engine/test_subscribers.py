"""The subscriber registry and the announcer (`/notify`, `/clients`, `/changed`), with fakes
for the sockets: caps, expiry, numbering, who is told, and who may subscribe."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chronus.engine.announce import ENGINE_NAME, LINK_NAME, Announcer
from chronus.engine.subscribers import (
    MAX_SENDERS,
    MAX_SUBSCRIBERS,
    SubscriberError,
    Subscribers,
    clean_name,
)
from chronus.protocol import parse_packet, validate

ANA = ("127.0.0.1", 5000)
ANA_COMMANDS = ("127.0.0.1", 5001)
BEN = ("127.0.0.1", 6000)


def test_the_cap_refuses_one_more_and_changes_nothing() -> None:
    subs = Subscribers(limit=3)
    for port in range(3):
        subs.subscribe(("127.0.0.1", port + 1), f"c{port}", 0, now=0.0)
    with pytest.raises(SubscriberError, match="at most 3 clients"):
        subs.subscribe(("127.0.0.1", 99), "late", 0, now=0.0)
    assert len(subs) == 3
    subs.subscribe(("127.0.0.1", 1), "c0 again", 0, now=1.0)  # a renewal is not one more
    assert len(subs) == 3
    assert [row["name"] for row in subs.listing(1.0)] == ["c0_again", "c1", "c2"]


def test_the_default_cap_is_stated() -> None:
    assert Subscribers().limit == MAX_SUBSCRIBERS == 32


def test_a_silent_subscriber_expires_and_a_heard_one_stays() -> None:
    subs = Subscribers(expiry_s=30.0)
    subs.subscribe(ANA, "ana", ANA_COMMANDS[1], now=0.0)
    subs.subscribe(BEN, "ben", 0, now=0.0)
    subs.seen(ANA_COMMANDS, now=25.0)  # ana played: her commands' port counts as her
    assert subs.expire(now=29.0) == []
    assert [s.name for s in subs.expire(now=31.0)] == ["ben"]
    assert [s.name for s in subs.expire(now=56.0)] == ["ana"]
    assert len(subs) == 0 and subs.dropped == 2


def test_numbers_run_per_subscriber_and_skip_the_one_who_changed() -> None:
    subs = Subscribers()
    subs.subscribe(ANA, "ana", ANA_COMMANDS[1], now=0.0)
    subs.subscribe(BEN, "ben", 0, now=0.0)
    assert subs.targets(ANA_COMMANDS) == [(BEN, 1)]  # ana's command: ben alone
    assert subs.targets(BEN) == [(ANA, 1)]
    assert subs.targets(("127.0.0.1", 7)) == [(ANA, 2), (BEN, 2)]  # a stranger's: both
    subs.subscribe(BEN, "ben", 0, now=1.0)  # renewing keeps the numbering
    assert subs.targets(ANA) == [(BEN, 3)]
    subs.unsubscribe(BEN)
    subs.subscribe(BEN, "ben", 0, now=2.0)  # a new subscription numbers from 1
    assert subs.targets(None) == [(ANA, 3), (BEN, 1)]


def test_a_renewal_may_move_the_commands_port() -> None:
    subs = Subscribers()
    subs.subscribe(ANA, "ana", 5001, now=0.0)
    subs.subscribe(ANA, "ana", 5002, now=1.0)
    assert subs.name_of(("127.0.0.1", 5002)) == "ana"
    assert subs.name_of(("127.0.0.1", 5001)) == "127.0.0.1:5001"


def test_names_are_cleaned() -> None:
    assert clean_name("  ana  ", "x") == "ana"
    assert clean_name("\x1b[2J", "127.0.0.1:9") == "2J"
    assert clean_name("a" * 100, "x") == "a" * 32
    assert clean_name("", "127.0.0.1:9") == "127.0.0.1:9"


class _Wire:
    """What an announcer sent and replied, and which sends fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, list[tuple[str, tuple[Any, ...]]]]] = []
        self.replies: list[tuple[Any, str, tuple[Any, ...]]] = []
        self.failing: set[Any] = set()

    def send(self, addr: Any, packet: bytes) -> bool:
        if addr in self.failing:
            return False
        self.sent.append((addr, parse_packet(packet)))
        return True

    def reply(self, addr: Any, address: str, *args: Any) -> None:
        self.replies.append((addr, address, args))

    def error(self, addr: Any, address: str, text: str) -> None:
        self.replies.append((addr, "/error", (address, text)))

    def announcer(self) -> Announcer:
        return Announcer(self.send, self.reply, self.error)


def _notify(*args: Any) -> Any:
    return validate("/notify", args)


def test_subscribing_is_answered_with_the_name_and_the_number_so_far() -> None:
    wire = _Wire()
    announcer = wire.announcer()
    announcer.request(_notify(1, "ana", 5001), ANA)
    assert wire.replies[-1] == (ANA, "/notify", (1, "ana", 0))
    announcer.request(_notify(1, "ben"), BEN)
    announcer.changed(validate("/tempo", (140,)), BEN)
    announcer.request(_notify(1, "ana", 5001), ANA)  # a renewal
    assert wire.replies[-1] == (ANA, "/notify", (1, "ana", 1))
    announcer.request(_notify(0), ANA)
    assert wire.replies[-1] == (ANA, "/notify", (0, "127.0.0.1:5000"))
    announcer.request(validate("/clients", ()), BEN)
    rows = json.loads(wire.replies[-1][2][0])
    assert [(row["name"], row["address"], row["sent"]) for row in rows] == [
        ("ben", "127.0.0.1:6000", 0)
    ]


def test_a_change_goes_to_the_others_with_who_made_it() -> None:
    wire = _Wire()
    announcer = wire.announcer()
    announcer.request(_notify(1, "ana", 5001), ANA)
    announcer.request(_notify(1, "ben"), BEN)
    announcer.changed(validate("/mod/bass/cutoff", (280,)), ANA_COMMANDS)
    announcer.changed(validate("/patch/create", ("lead", "saw")), BEN)
    announcer.changed(validate("/patch/remove", ("lead",)), None)
    assert wire.sent == [
        (BEN, [("/changed", (1, "ana", "/mod/bass/cutoff", 280.0))]),
        (ANA, [("/changed", (1, "ben", "/patch/create", "lead", "saw"))]),
        (ANA, [("/changed", (2, ENGINE_NAME, "/patch/remove", "lead"))]),
        (BEN, [("/changed", (2, ENGINE_NAME, "/patch/remove", "lead"))]),
    ]


def test_a_named_sender_and_the_link_session_are_told_by_name() -> None:
    """The MIDI process sends changes without subscribing: told as the name the engine gave
    it, not its address; a tempo the Link session moved to, as `link`."""
    wire = _Wire()
    announcer = wire.announcer()
    announcer.request(_notify(1, "ana", 5001), ANA)
    midi = ("127.0.0.1", 7000)
    announcer.changed(validate("/mod/lead/cutoff", (900,)), midi)
    announcer.subscribers.name_sender(midi, "midi keys:out")
    announcer.changed(validate("/mod/lead/cutoff", (1200,)), midi)
    announcer.changed(validate("/tempo", (133,)), None, LINK_NAME)
    assert [args[1] for _, [(_, args)] in wire.sent] == ["127.0.0.1:7000", "midi keys:out", "link"]
    for k in range(MAX_SENDERS + 1):  # only the latest few names are kept
        announcer.subscribers.name_sender(("127.0.0.1", 8000 + k), f"midi {k}")
    assert announcer.subscribers.name_of(("127.0.0.1", 8000)) == "127.0.0.1:8000"
    assert announcer.subscribers.name_of(("127.0.0.1", 8001)) == "midi 1"


def test_notes_and_gates_are_played_not_told() -> None:
    wire = _Wire()
    announcer = wire.announcer()
    announcer.request(_notify(1, "ben"), BEN)
    announcer.changed(validate("/note/bass", (60, 100)), ANA)
    announcer.changed(validate("/gate/bass", (0,)), ANA)
    assert wire.sent == []


def test_a_udp_subscriber_on_another_machine_is_refused() -> None:
    wire = _Wire()
    announcer = wire.announcer()
    announcer.request(_notify(1, "far"), ("192.0.2.7", 5000))
    assert wire.replies[-1][1] == "/error"
    assert "subscribes over TCP" in wire.replies[-1][2][1]
    assert len(announcer.subscribers) == 0


def test_one_more_than_the_cap_gets_an_error() -> None:
    wire = _Wire()
    announcer = wire.announcer()
    for port in range(MAX_SUBSCRIBERS):
        announcer.request(_notify(1, f"c{port}"), ("127.0.0.1", 10000 + port))
    announcer.request(_notify(1, "late"), ("127.0.0.1", 9999))
    assert wire.replies[-1][1] == "/error"
    assert "at most 32 clients" in wire.replies[-1][2][1]


def test_a_stream_that_cannot_take_a_change_is_dropped_a_datagram_is_counted() -> None:
    wire = _Wire()
    announcer = wire.announcer()
    stream = object()  # a TCP peer
    announcer.request(_notify(1, "tcp"), stream)
    announcer.request(_notify(1, "ben"), BEN)
    wire.failing |= {stream, BEN}
    announcer.changed(validate("/tempo", (100,)), None)
    assert [s.name for s in announcer.subscribers] == ["ben"]
    assert announcer.status() == {"subscribers": 1, "dropped": 1, "sent": 0, "lost": 2}


def test_the_examples_in_the_docstrings() -> None:
    import doctest

    from chronus.engine import announce, subscribers

    result = doctest.testmod(subscribers)
    assert result.attempted >= 4 and result.failed == 0
    result = doctest.testmod(announce)
    assert result.attempted >= 3 and result.failed == 0
