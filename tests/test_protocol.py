"""The canonical address space: validation, aliases, encode/decode round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronus.protocol import (
    ADDRESS_SPACE,
    IMMEDIATELY,
    Arg,
    Message,
    ProtocolError,
    as_wire,
    decode,
    encode,
    encode_raw,
    on_the_wire,
    parse_packet,
    parse_timed,
    validate,
)


@pytest.mark.parametrize(
    ("address", "args", "expected"),
    [
        ("/patch/create", ("bass", "saw"), ("/patch/create", ("bass", "saw"))),
        ("/patch/connect", ("bass", "master"), ("/patch/connect", ("bass", "master"))),
        ("/mod/bass/cutoff", (800,), ("/mod/bass/cutoff", (800.0,))),
        ("/mod/bass/frequency", (220.5,), ("/mod/bass/freq", (220.5,))),
        ("/mod/bass/resonance", (0.5,), ("/mod/bass/res", (0.5,))),
        ("/gate/bass", (1,), ("/gate/bass", (1,))),
        ("/note/bass", (48, 100), ("/note/bass", (48.0, 100.0))),
        ("/note/bass", (48, 100, 0.5), ("/note/bass", (48.0, 100.0, 0.5))),
        ("/note_on/bass", (48, 100), ("/note/bass", (48.0, 100.0))),
        ("/tempo", (128,), ("/tempo", (128.0,))),
        ("/engine/status", (), ("/engine/status", ())),
        ("/engine/dump", (), ("/engine/dump", ())),
        ("/engine/quit", (), ("/engine/quit", ())),
        ("/record/start", ("x.wav",), ("/record/start", ("x.wav",))),
        ("/record/start", ("x.wav", 1440000), ("/record/start", ("x.wav", 1440000))),
        ("/record/start", ("x.wav", 480.0), ("/record/start", ("x.wav", 480))),
        ("/record/start", ("x.wav", 2**31 - 1), ("/record/start", ("x.wav", 2**31 - 1))),
    ],
)
def test_valid_messages_become_canonical(address, args, expected) -> None:
    message = validate(address, args)
    assert (message.address, message.args) == expected


@pytest.mark.parametrize(
    ("address", "args", "needle"),
    [
        ("/nope", (), "unknown address"),
        ("mod/bass/cutoff", (1,), "starts with '/'"),
        ("/mod/Bass/cutoff", (1,), "unknown address"),
        ("/mod/bass/cutoff", (), "takes <value>"),
        ("/mod/bass/cutoff", ("loud",), "must be a number"),
        ("/mod/bass/cutoff", (math.nan,), "finite"),
        ("/gate/bass", (2,), "≤ 1"),
        ("/gate/bass", (0.5,), "whole number"),
        ("/tempo", (1000,), "≤ 400"),
        ("/note/bass", (200, 100), "≤ 127"),
        ("/patch/create", ("bass", 3), "must be a string"),
        ("/patch/create", ("Bass Line", "saw"), "identifier"),
        ("/engine/status", (1,), "takes no arguments"),
        ("/record/start", ("x.wav", 0), "frames must be ≥ 1, got 0"),
        ("/record/start", ("x.wav", -48000), "frames must be ≥ 1, got -48000"),
        ("/record/start", ("x.wav", 1.5), "frames must be a whole number"),
        ("/record/start", ("x.wav", "30 s"), "frames must be a number"),
        ("/record/start", ("x.wav", math.inf), "frames must be finite"),
        ("/record/start", ("x.wav", 2**31), "frames must be ≤"),
        ("/record/start", ("x.wav", 10, 1), "takes <path> <frames>"),
    ],
)
def test_invalid_messages_say_why(address, args, needle) -> None:
    with pytest.raises(ProtocolError, match=needle):
        validate(address, args)


def test_every_spec_documents_its_arguments() -> None:
    for spec in ADDRESS_SPACE:
        assert spec.doc
        assert spec.signature.startswith(spec.pattern.split("{")[0])
        assert all(arg.doc for arg in spec.args)


def test_encode_decode_round_trip() -> None:
    for message in (
        validate("/note/bass", (48, 100, 0.25)),
        validate("/patch/create", ("bass", "saw")),
        validate("/gate/bass", (1,)),
        validate("/engine/sync", (7,)),
    ):
        assert decode(encode(message)) == [message]


@given(st.floats(min_value=20.0, max_value=300.0), st.integers(0, 1))
def test_on_the_wire_is_what_a_slot_decodes(bpm: float, ramp: int) -> None:
    """A message the engine makes itself (a Link tempo) is logged as `on_the_wire` says: the
    slots get exactly that, so the offline render of the log plays what they played."""
    made = validate("/tempo", (bpm, ramp))
    assert decode(encode(made)) == [on_the_wire(made)]
    assert on_the_wire(on_the_wire(made)) == on_the_wire(made)


def test_as_wire_rounds_what_a_32_bit_float_cannot_hold() -> None:
    assert as_wire(133.126) != 133.126
    assert as_wire(as_wire(133.126)) == as_wire(133.126)
    assert as_wire(0.25) == 0.25


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"/mod\x00", b"#bundle\x00\x00", b"/a\x00\x00,f\x00\x00\x01"]
)
def test_malformed_packets_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode(data)


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_protocol_error(data: bytes) -> None:
    try:
        messages = decode(data)
    except ProtocolError:
        return
    assert all(isinstance(m, Message) for m in messages)


def test_bundles_are_flattened_in_order() -> None:
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    bundle = OscBundleBuilder(IMMEDIATELY)
    for value in (1.0, 2.0):
        m = OscMessageBuilder("/mod/bass/cutoff")
        m.add_arg(value)
        bundle.add_content(m.build())
    assert parse_packet(bundle.build().dgram) == [
        ("/mod/bass/cutoff", (1.0,)),
        ("/mod/bass/cutoff", (2.0,)),
    ]


def test_encode_raw_carries_strings_and_numbers() -> None:
    assert parse_packet(encode_raw("/error", "/x", "bad")) == [("/error", ("/x", "bad"))]


osc_args = st.lists(
    st.one_of(
        st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",))),
        st.integers(-(2**31) + 1, 2**31 - 1),
        st.floats(width=32),
        st.booleans(),
        st.integers(2**31, 2**40),
    ),
    max_size=5,
)


def _pythonosc(address: str, args: list[Arg]) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address=address)
    for value in args:
        builder.add_arg(value)
    return builder.build().dgram


@given(st.from_regex(r"/[a-z/]{0,20}", fullmatch=True), osc_args)
def test_encode_raw_writes_the_bytes_python_osc_writes(address: str, args: list[Arg]) -> None:
    assert encode_raw(address, *args) == _pythonosc(address, args)


def _read_by_python_osc(data: bytes) -> object:
    from pythonosc.osc_message import OscMessage

    try:
        message = OscMessage(data)
        return (message.address, tuple(message.params))
    except Exception as exc:  # what python-osc rejects, parse_packet must reject too
        return type(exc)


def _has_unknown_type_tag(data: bytes) -> bool:
    """Whether a message's type tag string (read as OSC lays it out) holds a tag that is not
    one of OSC 1.0's and 1.1's that python-osc reads."""
    end = data.find(b"\0")
    start = (end // 4 + 1) * 4
    if end < 0 or data[start : start + 1] != b",":
        return False
    stop = data.find(b"\0", start)
    try:
        tags = data[start + 1 : stop].decode()
    except UnicodeDecodeError:
        return False
    return stop > 0 and any(tag not in "ihfdsbrmtTFN[]" for tag in tags)


@given(st.from_regex(r"/[a-z/]{0,20}", fullmatch=True), osc_args, st.data())
def test_parse_packet_reads_what_python_osc_reads(
    address: str, args: list[Arg], data: st.DataObject
) -> None:
    packet = bytearray(_pythonosc(address, args))
    for _ in range(data.draw(st.integers(0, 3))):  # damaged packets too
        packet[data.draw(st.integers(1, len(packet) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(packet)))
    packet = packet[:cut]
    if _has_unknown_type_tag(bytes(packet)):  # refused by chronus's own rule, whatever else
        with pytest.raises(ProtocolError):  # is wrong with it (python-osc 1.10 skips them)
            parse_packet(bytes(packet))
        return
    expected = _read_by_python_osc(bytes(packet))
    try:
        got: object = parse_packet(bytes(packet))[0]
    except ProtocolError:
        assert isinstance(expected, type)
        return
    if isinstance(expected, tuple):
        assert repr(got) == repr(expected)  # NaN floats compare by their text
    else:
        raise AssertionError(f"python-osc raised {expected}, parse_packet read {got}")


def test_a_large_reply_round_trips() -> None:
    text = '{"modules": ' + "x" * 500_000 + "}"
    packet = encode_raw("/engine/dump", text)
    assert parse_packet(packet) == [("/engine/dump", (text,))]


def _dated(tag: int, *contents: bytes) -> bytes:
    """A bundle with an NTP time tag, written out by hand."""
    elements = b"".join(len(c).to_bytes(4, "big") + c for c in contents)
    return b"#bundle\0" + tag.to_bytes(8, "big") + elements


def test_time_tags_come_with_each_message() -> None:
    from pythonosc.osc_bundle_builder import IMMEDIATELY as AT_ONCE
    from pythonosc.osc_bundle_builder import OscBundleBuilder

    a, b, c = (encode_raw("/mod/x/cutoff", v) for v in (1.0, 2.0, 3.0))
    assert parse_timed(a) == [(IMMEDIATELY, "/mod/x/cutoff", (1.0,))]
    assert parse_timed(_dated(1, a)) == [(IMMEDIATELY, "/mod/x/cutoff", (1.0,))]
    assert parse_timed(_dated(0, a))[0][0] == IMMEDIATELY  # as some senders write it
    python_osc = OscBundleBuilder(AT_ONCE)
    assert parse_timed(python_osc.build().dgram) == []
    packet = _dated(100 << 32, a, _dated(200 << 32, b), _dated(50 << 32, c))
    assert parse_timed(packet) == [
        (100 << 32, "/mod/x/cutoff", (1.0,)),
        (200 << 32, "/mod/x/cutoff", (2.0,)),  # a later inner tag applies
        (100 << 32, "/mod/x/cutoff", (3.0,)),  # an earlier one is the outer's
    ]
    assert parse_timed(_dated(1, _dated(7 << 32, a))) == [(7 << 32, "/mod/x/cutoff", (1.0,))]
    assert parse_packet(packet) == [(address, v) for _, address, v in parse_timed(packet)]
