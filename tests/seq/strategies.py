"""Hypothesis strategies for pattern texts: every form of the notation, nested."""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["PATTERNS"]

NOTE_NAMES = st.builds(
    lambda letter, accidental, octave: f"{letter}{accidental}{octave}",
    st.sampled_from("abcdefgABCDEFG"),
    st.sampled_from(["", "#", "b"]),
    st.integers(0, 8),
)
ATOMS = st.sampled_from(["x", "X", ".", "~"]) | NOTE_NAMES | st.integers(0, 127).map(str)


def postfixed(element: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(
        element,
        st.sampled_from(["", "", ":1", ":64", ":127"]),
        st.sampled_from(["", "", "*2", "*3"]),
        st.sampled_from(["", "", "", "(3,8)", "(2,5,1)", "(0,3)", "(4,4)", "(1,2,-1)"]),
    ).map("".join)


def groups(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    layers = st.lists(
        st.lists(children, min_size=1, max_size=3).map(" ".join), min_size=1, max_size=3
    )
    brackets = st.sampled_from(["[]", "<>"])
    return postfixed(st.tuples(brackets, layers).map(lambda t: t[0][0] + ",".join(t[1]) + t[0][1]))


PATTERNS = st.lists(
    st.recursive(postfixed(ATOMS), groups, max_leaves=8), min_size=1, max_size=5
).map(" ".join)
