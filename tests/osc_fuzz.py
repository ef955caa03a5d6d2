"""OSC packets of every shape, good and bad, for fuzzing the engine (`benchmarks/fuzz_osc.py`
and `tests/test_fuzz_protocol.py`): a raw encoder that writes any type tag (python-osc's
builder refuses what is wrong, and wrong is the point), and families of packets drawn from
a seeded `random.Random`."""

from __future__ import annotations

import math
import random
import struct
import time
from collections.abc import Callable, Sequence

import numpy as np

from chronus.protocol import (
    ADDRESS_SPACE,
    FLOAT32_MAX,
    SLOT_ONLY,
    ProtocolError,
    parse_packet,
    validate,
)

Item = tuple[str, object]
"""One argument: its OSC type tag and value (`T`, `F`, `N`, `I`, `[` and `]` carry none)."""

IDS = ("bass", "f", "kick", "master", "nobody")
NOT_IDS = ("", "Bass", "1x", "a" * 33, "bass/x", "é", "a b")
NUMBERS = (
    0.0, -0.0, 1e-45, -1.0, 0.5, 127.0, 128.0, 1e38, -1e38, FLOAT32_MAX, 3.5e38, 1e308,
    math.inf, -math.inf, math.nan, 2.0**31, -(2.0**31) - 1,
)  # fmt: skip
EXCLUDED = frozenset({
    "/engine/quit", "/record/start", "/record/stop", "/plugins/load", "/midi/in", "/midi/ports",
})  # fmt: skip
"""Addresses the families leave out: they stop the engine, or the run's own recording, or
start a sandbox (or a MIDI process) per packet."""
_FUZZED = tuple(spec for spec in ADDRESS_SPACE if spec.pattern not in EXCLUDED)


def osc_string(text: str | bytes) -> bytes:
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return raw + b"\0" * (4 - len(raw) % 4)


def _arg(tag: str, value: object) -> bytes:
    if tag == "i":
        return struct.pack(">i", int(value))  # type: ignore[call-overload]
    if tag == "f":
        with np.errstate(over="ignore"):  # beyond float32: the wire says inf
            return np.array(float(value), dtype=">f4").tobytes()  # type: ignore[arg-type]
    if tag == "d":
        return struct.pack(">d", float(value))  # type: ignore[arg-type]
    if tag in "ht":
        return struct.pack(">q", int(value))  # type: ignore[call-overload]
    if tag in "sS":
        return osc_string(value)  # type: ignore[arg-type]
    if tag == "b":
        blob = bytes(value)  # type: ignore[call-overload]
        return struct.pack(">i", len(blob)) + blob + b"\0" * (-len(blob) % 4)
    if tag in "rmc":
        return struct.pack(">I", int(value) & 0xFFFFFFFF)  # type: ignore[call-overload]
    return b""  # T F N I [ ]: no bytes


def message(address: str | bytes, items: Sequence[Item]) -> bytes:
    """An OSC message with exactly these type tags and values (wrong ones included)."""
    tags = "," + "".join(tag for tag, _ in items)
    return osc_string(address) + osc_string(tags) + b"".join(_arg(t, v) for t, v in items)


def bundle(elements: Sequence[bytes], timetag: int = 1) -> bytes:
    """A bundle of `elements` with this NTP time tag (1: at once)."""
    body = b"".join(struct.pack(">i", len(e)) + e for e in elements)
    return b"#bundle\0" + struct.pack(">Q", timetag & (2**64 - 1)) + body


def predicted_errors(packet: bytes) -> tuple[int, int]:
    """(`/error`s the engine must send for this packet's form, messages it may accept).

    A packet that cannot be read is one error; in one that can, each message the address
    space refuses is one, and one that only the engine may send its slots is another. What
    passes may still be refused by the engine (an unknown module, …).
    """
    try:
        raw = parse_packet(packet)
    except ProtocolError:
        return 1, 0
    errors = passed = 0
    for address, args in raw:
        try:
            msg = validate(address, args)
        except ProtocolError:
            errors += 1
            continue
        if msg.address in SLOT_ONLY:
            errors += 1
        else:
            passed += 1
    return errors, passed


def _address(rng: random.Random) -> str:
    spec = rng.choice(_FUZZED)
    fill = {"{id}": rng.choice(IDS), "{param}": rng.choice(("cutoff", "volume", "nope"))}
    fill["{name}"] = rng.choice(("x", "nobody"))
    parts = [fill.get(p, p) for p in spec.pattern.split("/")]
    return "/".join(parts)


def _any_item(rng: random.Random) -> Item:
    tag = rng.choice("ifsdhbTFNtrmc")
    if tag == "i":
        return tag, rng.randint(-(2**31), 2**31 - 1)
    if tag in "fd":
        return tag, rng.choice((*NUMBERS, rng.uniform(-1e6, 1e6)))
    if tag in "ht":
        return tag, rng.randint(-(2**63), 2**63 - 1)
    if tag == "s":
        return tag, rng.choice((*IDS, *NOT_IDS, "x . x .", "c2 eb2"))
    if tag == "b":
        return tag, rng.randbytes(rng.randint(0, 16))
    return tag, rng.getrandbits(32)


def random_bytes(rng: random.Random) -> bytes:
    """Noise, sometimes dressed as OSC (an address or a bundle's head in front)."""
    noise = rng.randbytes(rng.randint(0, 600))
    head = rng.choice(
        (b"", b"/", b"/mod/bass/cutoff\0\0\0\0", b"#bundle\0", b"#bundle\0" + bytes(8))
    )
    return head + noise


def wrong_types(rng: random.Random) -> bytes:
    """A documented address with arguments of any type and count."""
    items = [_any_item(rng) for _ in range(rng.choice((0, 1, 2, 3, 4, 8, 65)))]
    return message(_address(rng), items)


def extremes(rng: random.Random) -> bytes:
    """Numbers at and beyond what the wire and the parameters carry."""
    address = rng.choice(
        (
            "/mod/bass/cutoff",
            "/mod/f/res",
            "/note/bass",
            "/tempo",
            "/engine/sync",
            "/gate/bass",
            "/seq/bass/step",
            "/seq/bass/swing",
        )
    )
    tag = rng.choice("fdih")
    value: object = rng.choice(NUMBERS)
    if tag in "ih":
        value = rng.choice((2**31 - 1, -(2**31), 2**40, -(2**63), 0, 1))
        value = value if tag == "h" else max(-(2**31), min(2**31 - 1, int(value)))  # type: ignore[call-overload]
    items: list[Item] = [(tag, value)]
    if address == "/note/bass":
        items.append(("f", rng.choice(NUMBERS)))
    return message(address, items)


def big_strings(rng: random.Random) -> bytes:
    """Strings up to what one datagram holds, where ids, patterns and paths go."""
    size = rng.choice((1024, 8192, 32768, 65000))
    text = rng.choice(("a", "x ", "[", "é", "\0"))
    body = (text * size)[: size // len(text.encode())]  # bytes, not characters: one datagram
    address = rng.choice(
        ("/patch/create", "/seq/bass/pattern", "/seq/bass/lane", "/plugins/x/health")
    )
    if address == "/seq/bass/lane":
        return message(address, [("s", "cutoff"), ("s", body)])
    if address == "/patch/create":
        return message(address, [("s", body), ("s", "saw")])
    return message(address, [("s", body)] if address != "/plugins/x/health" else [])


def bundles(rng: random.Random) -> bytes:
    """Nested bundles (to beyond the limit) and bundles dated in the past or the future."""
    inner = message("/mod/bass/cutoff", [("f", rng.uniform(200, 2000))])
    now_ntp = (int(time.time()) + 2208988800) << 32
    tag = rng.choice(
        (
            0,
            1,
            2,
            now_ntp - (5 << 32),
            now_ntp + (1 << 31),
            now_ntp + (365 * 86400 << 32),
            2**64 - 1,
        )
    )
    packet = inner
    for _ in range(rng.choice((1, 2, 8, 9, 50, 400))):
        packet = bundle([packet], tag)
    if rng.random() < 0.2:  # an element whose size lies
        packet = packet[:20] + struct.pack(">i", rng.choice((-1, 0, 1 << 30))) + packet[24:]
    return packet


def boundaries(rng: random.Random) -> bytes:
    """A documented address with each argument at, or just beyond, its stated range."""
    spec = rng.choice(_FUZZED)
    address = spec.pattern.replace("{id}", rng.choice(IDS)).replace("{param}", "cutoff")
    address = address.replace("{name}", "nobody")
    items: list[Item] = []
    for arg in spec.args:
        if arg.optional and rng.random() < 0.5:
            break
        if arg.kind == "s":
            items.append(("s", rng.choice((*IDS, *NOT_IDS))))
            continue
        low = arg.minimum if arg.minimum is not None else -FLOAT32_MAX
        high = arg.maximum if arg.maximum is not None else FLOAT32_MAX
        value = rng.choice(
            (low, high, low - 1e-3, high + 1e-3, low - 1, high + 1, (low + high) / 2)
        )
        items.append(
            (arg.kind, value if arg.kind == "f" else max(-(2**31), min(2**31 - 1, round(value))))
        )
    if rng.random() < 0.1:
        items.append(("i", 1))  # one too many
    return message(address, items)


def patterns(rng: random.Random) -> bytes:
    """Mini-notation a parser may choke on: deep, long, huge numbers, odd characters."""
    depth = rng.choice((10, 100, 1000))
    text = rng.choice((
        "[" * depth + "x" + "]" * depth,
        "x(1000000,1000001)",
        "x*100000",
        "c-1 g99 x:999 x@1e9",
        " ".join("x" for _ in range(rng.choice((100, 5000)))),
        "<" * depth + "x" + ">" * depth,
        "x(3,8,-5) [x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x]",
        "\x00\x01\x02",
        "x . " * 2000,
    ))  # fmt: skip
    if rng.random() < 0.3:
        return message("/seq/bass/lane", [("s", "cutoff"), ("s", text)])
    return message("/seq/bass/pattern", [("s", text)])


FAMILIES: dict[str, Callable[[random.Random], bytes]] = {
    "random_bytes": random_bytes,
    "wrong_types": wrong_types,
    "extremes": extremes,
    "big_strings": big_strings,
    "bundles": bundles,
    "boundaries": boundaries,
    "patterns": patterns,
}
"""Each family by a short name (its function's docstring says what it sends)."""
