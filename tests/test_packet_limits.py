"""Bounds on what one OSC packet may hold: bundles nest at most `MAX_NESTING` levels and hold
at most `MAX_ELEMENTS` messages, a message at most `MAX_ARGS` arguments of type tags python-osc
knows, numbers what OSC's 32 bits carry; deeper, bigger or malformed packets are refused whole
with a `ProtocolError`, never with a RecursionError, an OverflowError or a log line."""

from __future__ import annotations

import logging
import re
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronus.protocol import (
    FLOAT32_MAX,
    MAX_ARGS,
    MAX_ELEMENTS,
    MAX_NESTING,
    ProtocolError,
    encode_raw,
    parse_packet,
    validate,
)

CUTOFF = encode_raw("/mod/bass/cutoff", 500.0)


def bundle(*elements: bytes) -> bytes:
    """An immediate bundle (time tag 1) of `elements`."""
    body = b"".join(struct.pack(">i", len(e)) + e for e in elements)
    return b"#bundle\0" + struct.pack(">Q", 1) + body


def nested(levels: int, element: bytes = CUTOFF) -> bytes:
    packet = element
    for _ in range(levels):
        packet = bundle(packet)
    return packet


def test_bundles_nested_to_the_limit_are_read() -> None:
    assert parse_packet(nested(MAX_NESTING)) == [("/mod/bass/cutoff", (500.0,))]


@pytest.mark.parametrize("levels", [MAX_NESTING + 1, 330, 400, 5000])
def test_deeper_nesting_is_refused_without_recursing(levels: int) -> None:
    with pytest.raises(ProtocolError, match=f"nested deeper than {MAX_NESTING} levels"):
        parse_packet(nested(levels))


def test_a_bundle_of_too_many_messages_is_refused() -> None:
    assert len(parse_packet(bundle(*[CUTOFF] * MAX_ELEMENTS))) == MAX_ELEMENTS
    with pytest.raises(ProtocolError, match=f"more than {MAX_ELEMENTS} messages"):
        parse_packet(bundle(*[CUTOFF] * (MAX_ELEMENTS + 1)))
    with pytest.raises(ProtocolError, match=f"more than {MAX_ELEMENTS} messages"):
        parse_packet(bundle(bundle(*[CUTOFF] * 3000), bundle(*[CUTOFF] * 3000)))


@pytest.mark.parametrize(
    "data",
    [
        b"#bundle\0" + b"\0" * 7,  # a time tag cut short
        bundle(CUTOFF)[:-4],  # an element longer than what is left
        bundle(CUTOFF) + b"\0\0",  # a size cut short
        b"#bundle\0" + struct.pack(">Qi", 1, -8) + CUTOFF,  # a negative size
        b"#bundle\0" + struct.pack(">Qi", 1, 0),  # an empty element
        bundle(b"garbage\0"),  # an element that is neither a message nor a bundle
    ],
)
def test_malformed_bundles_are_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_packet(data)


def test_an_empty_bundle_holds_nothing() -> None:
    assert parse_packet(bundle()) == []


trees = st.recursive(
    st.sampled_from([CUTOFF, encode_raw("/tempo", 120.0), b"\0\0\0\0", b"/x\0\0"]),
    lambda children: st.lists(children, max_size=3).map(lambda parts: bundle(*parts)),
    max_leaves=40,
)


@given(trees, st.integers(0, 64), st.binary(max_size=8))
def test_any_tree_of_bundles_parses_or_is_refused(packet: bytes, cut: int, junk: bytes) -> None:
    for data in (packet, packet[: len(packet) - cut] + junk):
        try:
            parsed = parse_packet(data)
        except ProtocolError:
            continue
        assert all(isinstance(address, str) for address, _ in parsed)


def raw_message(address: str, tags: str, payload: bytes) -> bytes:
    """An OSC message of any type tags, whatever its payload."""

    def padded(text: str) -> bytes:
        raw = text.encode() + b"\0"
        return raw + b"\0" * (-len(raw) % 4)

    return padded(address) + padded("," + tags) + payload


def test_unknown_type_tags_are_refused_before_anything_logs_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    packet = raw_message("/mod/bass/cutoff", "x" * 60_000, b"")
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(ProtocolError, match=f"more than {MAX_ARGS} arguments"):
            parse_packet(packet)
        with pytest.raises(ProtocolError, match="unknown OSC type tag 'x'"):
            parse_packet(raw_message("/mod/bass/cutoff", "fx", struct.pack(">f", 1.0)))
    assert caplog.records == []


def test_a_message_may_carry_up_to_the_argument_limit() -> None:
    ints = raw_message("/x", "i" * MAX_ARGS, struct.pack(f">{MAX_ARGS}i", *range(MAX_ARGS)))
    assert parse_packet(ints) == [("/x", tuple(range(MAX_ARGS)))]
    more = raw_message("/x", "d" * (MAX_ARGS + 1), b"\0" * 8 * (MAX_ARGS + 1))
    with pytest.raises(ProtocolError, match=f"more than {MAX_ARGS} arguments"):
        parse_packet(more)


@pytest.mark.parametrize(
    ("address", "args", "why"),
    [
        ("/mod/bass/cutoff", (1e39,), "value must be within ±3.403e+38"),
        ("/mod/bass/cutoff", (1e308,), "value must be within ±3.403e+38"),
        ("/mod/bass/cutoff", (-1e308,), "value must be within ±3.403e+38"),
        ("/engine/sync", (2**40,), "token must fit in 32 bits"),
        ("/engine/sync", (-(2**31) - 1,), "token must fit in 32 bits"),
    ],
)
def test_numbers_the_wire_cannot_carry_are_refused(
    address: str, args: tuple[object, ...], why: str
) -> None:
    with pytest.raises(ProtocolError, match=re.escape(why)):
        validate(address, args)


def test_the_largest_numbers_the_wire_carries_pass() -> None:
    assert validate("/engine/sync", (2**31 - 1,)).args == (2**31 - 1,)
    assert validate("/engine/sync", (-(2**31),)).args == (-(2**31),)
    assert validate("/mod/bass/cutoff", (FLOAT32_MAX,)).args == (FLOAT32_MAX,)
