"""Property tests of the engine's front door: whatever arrives, `parse_packet` and `validate`
either give canonical messages or raise `ProtocolError` (the documented error), never
anything else; and what they pass is what the engine will send on (it encodes and decodes to
itself)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from chronus.protocol import (
    Message,
    ProtocolError,
    decode,
    encode,
    parse_packet,
    validate,
)
from tests.osc_fuzz import Item, bundle, message, predicted_errors
from tests.osc_strategies import ITEMS, WORDS, addresses

NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
)
ANYTHING = st.one_of(NUMBER, st.text(max_size=40), WORDS, st.binary(max_size=8), st.none(),
                     st.booleans(), st.lists(st.integers(), max_size=2))  # fmt: skip


def _canonical(msg: Message) -> None:
    """What validate passes is canonical: finite numbers, the same address and arguments'
    types after the wire, and once over the wire (floats are 32 bits there) it stays so."""
    for arg in msg.args:
        assert isinstance(arg, str) or math.isfinite(arg)
    [sent] = decode(encode(msg))
    assert sent.address == msg.address
    assert [type(a) for a in sent.args] == [type(a) for a in msg.args]
    assert decode(encode(sent)) == [sent]


@settings(max_examples=200)
@given(addresses(), st.lists(ANYTHING, max_size=4))
def test_validate_raises_only_the_documented_error(address: str, args: list[object]) -> None:
    try:
        msg = validate(address, args)
    except ProtocolError:
        return
    _canonical(msg)


@settings(max_examples=200)
@given(addresses(), st.lists(ITEMS, max_size=5))
def test_any_well_formed_message_parses_and_validates_or_is_refused(
    address: str, items: list[Item]
) -> None:
    packet = message(address, items)
    try:
        raw = parse_packet(packet)
    except ProtocolError:
        assert predicted_errors(packet) == (1, 0)
        return
    assert len(raw) == 1
    try:
        msg = validate(*raw[0])
    except ProtocolError:
        return
    _canonical(msg)


@settings(max_examples=200)
@given(
    st.lists(st.tuples(addresses(), st.lists(ITEMS, max_size=3)), min_size=0, max_size=4),
    st.integers(0, 2**64 - 1),
    st.integers(1, 12),
)
def test_bundles_of_any_date_and_depth_parse_in_order_or_are_refused(
    elements: list[tuple[str, list[Item]]], timetag: int, depth: int
) -> None:
    messages = [message(a, items) for a, items in elements]
    packet = bundle(messages, timetag)
    for _ in range(depth - 1):
        packet = bundle([packet], timetag)
    try:
        raw = parse_packet(packet)
    except ProtocolError:
        return
    assert len(raw) == len(messages)
    singles = []
    for m in messages:
        singles += parse_packet(m)
    assert [a for a, _ in raw] == [a for a, _ in singles]
