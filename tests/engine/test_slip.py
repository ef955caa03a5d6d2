"""SLIP framing (OSC 1.1 over TCP): round trips, escapes, split reads, garbage."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chronus.engine.slip import END, ESC, ESC_END, ESC_ESC, BadFrame, SlipDecoder, encode

packets = st.binary(min_size=1, max_size=300)


def test_end_and_esc_are_escaped_and_nothing_else_is() -> None:
    assert encode(b"/a") == bytes([END]) + b"/a" + bytes([END])
    assert encode(bytes([END, ESC, 0x00, ESC_END, ESC_ESC])) == bytes(
        [END, ESC, ESC_END, ESC, ESC_ESC, 0x00, ESC_END, ESC_ESC, END]
    )


@given(st.lists(packets, min_size=1, max_size=8))
def test_several_packets_in_one_read_come_out_in_order(batch: list[bytes]) -> None:
    assert SlipDecoder().feed(b"".join(encode(p) for p in batch)) == batch


@given(st.lists(packets, min_size=1, max_size=5), st.data())
def test_packets_split_anywhere_across_reads(batch: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode(p) for p in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = SlipDecoder()
    out: list[bytes | BadFrame] = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += decoder.feed(stream[start:stop])
    assert out == batch
    assert decoder.buffered == 0


def test_every_byte_alone() -> None:
    packet = bytes([ESC, END, 1, ESC_END, END, ESC])
    decoder = SlipDecoder()
    out: list[bytes | BadFrame] = []
    for byte in encode(packet) + encode(b"/x"):
        out += decoder.feed(bytes([byte]))
    assert out == [packet, b"/x"]


def test_single_end_framing_and_empty_frames_are_tolerated() -> None:
    stream = b"/a" + bytes([END]) + b"/b" + bytes([END, END, END]) + b"/c" + bytes([END])
    assert SlipDecoder().feed(stream) == [b"/a", b"/b", b"/c"]
    assert SlipDecoder().feed(bytes([END] * 5)) == []


def test_a_frame_without_its_end_waits() -> None:
    decoder = SlipDecoder()
    assert decoder.feed(bytes([END]) + b"/half") == []
    assert decoder.buffered == 5
    assert decoder.feed(b"way" + bytes([END])) == [b"/halfway"]


def test_a_bad_escape_is_a_bad_frame_and_the_next_frame_is_fine() -> None:
    stream = bytes([END]) + b"/a" + bytes([ESC, 0x41, END]) + encode(b"/ok")
    out = SlipDecoder().feed(stream)
    assert len(out) == 2 and isinstance(out[0], BadFrame) and "ESC" in out[0].reason
    assert out[1] == b"/ok"
    trailing = SlipDecoder().feed(b"/a" + bytes([ESC, END]))
    assert len(trailing) == 1 and isinstance(trailing[0], BadFrame)
    double = SlipDecoder().feed(b"/a" + bytes([ESC, ESC, ESC_END, END]))
    assert len(double) == 1 and isinstance(double[0], BadFrame)


def test_an_oversized_frame_is_refused_without_being_kept() -> None:
    decoder = SlipDecoder(max_frame=100)
    out: list[bytes | BadFrame] = []
    for _ in range(1000):  # 1 MB of a frame that never ends
        out += decoder.feed(b"x" * 1000)
        assert decoder.buffered <= 200
    assert out == []
    out = decoder.feed(bytes([END]) + encode(b"/after"))
    assert len(out) == 2 and isinstance(out[0], BadFrame)
    assert "at most 100" in out[0].reason
    assert out[1] == b"/after"


def test_the_limit_is_on_the_packet_not_its_escaped_form() -> None:
    escapes = bytes([END]) * 100  # 200 bytes once escaped
    assert SlipDecoder(max_frame=100).feed(encode(escapes)) == [escapes]
    over = SlipDecoder(max_frame=100).feed(encode(escapes + b"!"))
    assert len(over) == 1 and isinstance(over[0], BadFrame)


@given(st.binary(max_size=2000))
def test_garbage_never_raises_and_stays_bounded(junk: bytes) -> None:
    decoder = SlipDecoder(max_frame=64)
    for item in decoder.feed(junk):
        assert isinstance(item, BadFrame) or 0 < len(item) <= 64
    assert decoder.buffered <= 128
    assert decoder.feed(encode(b"/next"))[-1] == b"/next"  # the stream recovers at the next END
