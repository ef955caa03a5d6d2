"""Hypothesis strategies for OSC packets of every shape (see `tests/osc_fuzz.py`)."""

from __future__ import annotations

from hypothesis import strategies as st

from chronus.protocol import ADDRESS_SPACE
from tests.osc_fuzz import EXCLUDED, IDS, NOT_IDS, bundle, message

WORDS = st.sampled_from((*IDS, *NOT_IDS, "cutoff", "volume", "x . x .", "c2"))
ITEMS = st.one_of(
    st.tuples(st.just("i"), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.sampled_from("fd"), st.floats(allow_nan=True, allow_infinity=True)),
    st.tuples(st.sampled_from("ht"), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("s"), st.one_of(WORDS, st.text(max_size=20))),
    st.tuples(st.just("b"), st.binary(max_size=12)),
    st.tuples(st.sampled_from("rmc"), st.integers(0, 2**32 - 1)),
    st.tuples(st.sampled_from("TFNI"), st.none()),
)
"""One argument of any OSC type tag, with values at and beyond every range."""


def _harmless(address: str) -> bool:
    """Not an address that would stop the engine or its recording, or start a sandbox (the
    address space reads `/engine/quit/` and `/quit` as `/engine/quit`)."""
    return not any(word in address for word in ("quit", "record", "plugins/load"))


@st.composite
def addresses(draw: st.DrawFn, live: bool = False) -> str:
    """A documented address with its path fields filled, rightly or wrongly; or any text.
    `live`: none that stops the engine (`EXCLUDED`)."""
    if draw(st.integers(0, 9)) == 0:
        text = draw(st.text(max_size=30))
        return text if not live or _harmless(text) else "/nothing"
    specs = [s for s in ADDRESS_SPACE if not live or s.pattern not in EXCLUDED]
    pattern = draw(st.sampled_from(specs)).pattern
    for field in ("{id}", "{param}", "{name}"):
        while field in pattern:
            pattern = pattern.replace(field, draw(WORDS), 1)
    return pattern


def messages(live: bool = False) -> st.SearchStrategy[bytes]:
    """Well-formed OSC messages with any tags at (mostly) documented addresses."""
    return st.builds(message, addresses(live), st.lists(ITEMS, max_size=5))


def packets(live: bool = False) -> st.SearchStrategy[bytes]:
    """Noise, messages, and bundles of them of any date, nested up to 12 levels."""
    nested = st.builds(
        lambda inner, tag, depth: _nest(inner, tag, depth),
        st.lists(messages(live), max_size=3),
        st.integers(0, 2**64 - 1),
        st.integers(1, 12),
    )
    return st.one_of(st.binary(max_size=200).filter(_harmless_bytes), messages(live), nested)


def _nest(inner: list[bytes], timetag: int, depth: int) -> bytes:
    packet = bundle(inner, timetag)
    for _ in range(depth - 1):
        packet = bundle([packet], timetag)
    return packet


def _harmless_bytes(data: bytes) -> bool:
    return _harmless(data.decode("latin-1"))
