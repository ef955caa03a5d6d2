"""SLIP framing of OSC packets on a byte stream (OSC 1.1 over TCP), as pure functions.

Each packet is sent as END + the packet with END and ESC escaped + END. A reader tolerates
single- or double-END framing: empty frames between two ENDs are skipped.

>>> framed = encode(b"/a\\xc0\\xdb")
>>> framed
b'\\xc0/a\\xdb\\xdc\\xdb\\xdd\\xc0'
>>> SlipDecoder().feed(framed[:3] + framed[3:])
[b'/a\\xc0\\xdb']
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["END", "ESC", "ESC_END", "ESC_ESC", "BadFrame", "SlipDecoder", "encode"]

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD

_END = bytes([END])
_ESC = bytes([ESC])
_ESCAPED_END = bytes([ESC, ESC_END])
_ESCAPED_ESC = bytes([ESC, ESC_ESC])


def encode(packet: bytes) -> bytes:
    """One packet framed for the stream: END, the escaped packet, END."""
    body = packet.replace(_ESC, _ESCAPED_ESC).replace(_END, _ESCAPED_END)
    return b"".join((_END, body, _END))


@dataclass(frozen=True, slots=True)
class BadFrame:
    """A frame that could not be decoded; `reason` says why, for an `/error` reply."""

    reason: str


def _unescape(raw: bytes) -> bytes | BadFrame:
    if _ESC not in raw:
        return raw
    # In a well-formed frame every ESC starts a two-byte pair whose second byte is ESC_END or
    # ESC_ESC, so the pairs never overlap and counting them checks the whole frame.
    if raw.count(_ESC) != raw.count(_ESCAPED_END) + raw.count(_ESCAPED_ESC):
        return BadFrame("malformed SLIP frame: ESC (0xDB) not followed by 0xDC or 0xDD")
    return raw.replace(_ESCAPED_END, _END).replace(_ESCAPED_ESC, _ESC)


class SlipDecoder:
    """Turns the bytes of a stream, as they arrive in pieces, into packets.

    A frame longer than `max_frame` bytes is not kept: its bytes are dropped as they come
    and its END yields a `BadFrame`, so memory stays bounded whatever the peer sends.
    """

    def __init__(self, max_frame: int = 1 << 16) -> None:
        self.max_frame = max_frame
        self._partial = bytearray()
        self._skipped = 0
        """Bytes of the current frame dropped because it is too long (0: none)."""

    @property
    def buffered(self) -> int:
        """Bytes held for a frame whose END has not come yet."""
        return len(self._partial)

    def feed(self, data: bytes) -> list[bytes | BadFrame]:
        """The complete frames that `data` finishes, in order (empty frames skipped)."""
        pieces = data.split(_END)
        out: list[bytes | BadFrame] = []
        for index, piece in enumerate(pieces):
            self._grow(piece)
            if index == len(pieces) - 1:
                break  # no END after the last piece: the frame goes on in the next read
            if self._skipped:
                size = self._skipped
                self._skipped = 0
                out.append(BadFrame(f"frame of more than {size} bytes; at most {self.max_frame}"))
            elif self._partial:
                frame = _unescape(bytes(self._partial))
                self._partial.clear()
                if isinstance(frame, bytes) and len(frame) > self.max_frame:
                    frame = BadFrame(f"frame of {len(frame)} bytes; at most {self.max_frame}")
                out.append(frame)
        return out

    def _grow(self, piece: bytes) -> None:
        if self._skipped:
            self._skipped += len(piece)
        elif len(self._partial) + len(piece) > 2 * self.max_frame:
            # Escaping at most doubles a packet; past that it cannot fit, so stop keeping it.
            self._skipped = len(self._partial) + len(piece)
            self._partial.clear()
        else:
            self._partial += piece
