"""Bounds on what one OSC packet may hold: bundles nest at most `MAX_NESTING` levels and hold
at most `MAX_ELEMENTS` messages; deeper, bigger or malformed packets are refused whole with a
`ProtocolError`, never with a RecursionError or another exception."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronus.protocol import MAX_ELEMENTS, MAX_NESTING, ProtocolError, encode_raw, parse_packet

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
