"""The benchmark table of `docs/PERFORMANCE.md`: targets, rows, the Markdown, and its place
between two marker comments. Pure: nothing here runs a benchmark (`run.py` does)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

BEGIN = "<!-- benchmarks/run.py: begin -->"
END = "<!-- benchmarks/run.py: end -->"
COLUMNS = ("#", "figure", "target", "anchor (scsynth, same run)", "chronus", "met?", "how")

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Target:
    """A target as the table states it (`text`), checked as `value <op> limit`."""

    text: str
    op: str
    limit: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"a target compares with one of {sorted(_OPS)}, not {self.op!r}")

    def met(self, value: float) -> bool:
        """Whether `value`, exactly as measured (never rounded first), meets the target."""
        return _OPS[self.op](value, self.limit)


def below(limit: float, text: str) -> Target:
    """value < limit."""
    return Target(text, "<", limit)


def at_most(limit: float, text: str) -> Target:
    """value ≤ limit."""
    return Target(text, "<=", limit)


def none_of(text: str = "0") -> Target:
    """value == 0: no underrun, no death, no error."""
    return Target(text, "==", 0.0)


@dataclass(frozen=True)
class Row:
    """One figure of the table: what, its target, scsynth's figure, ours, how it was run.

    `value` is the number the target is checked against, in the target's unit; None when
    it was not measured (`chronus` then says why)."""

    item: str
    figure: str
    target: Target | None
    chronus: str
    value: float | None
    anchor: str = "—"
    how: str = ""

    @property
    def met(self) -> str:
        """yes or no from the figure; n/a without a target or a figure."""
        if self.target is None or self.value is None:
            return "n/a"
        return "yes" if self.target.met(self.value) else "no"

    def cells(self) -> tuple[str, ...]:
        """The row's cells, in `COLUMNS` order."""
        target = self.target.text if self.target else "—"
        return (self.item, self.figure, target, self.anchor, self.chronus, self.met, self.how)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or "—"


def render(title: str, header: list[str], rows: list[Row], notes: list[str]) -> str:
    """The section between the markers: a title, paragraphs above the table, the table, and
    paragraphs below it."""
    lines = [BEGIN, f"## {title}", ""]
    for paragraph in header:
        lines += [paragraph, ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    lines += ["| " + " | ".join(_cell(c) for c in row.cells()) + " |" for row in rows]
    lines.append("")
    for paragraph in notes:
        lines += [paragraph, ""]
    lines.append(END)
    return "\n".join(lines)


def replace_section(doc: str, section: str) -> str:
    """`doc` with the text from the begin marker to the end marker replaced by `section`
    (which holds both). Without markers, the section goes before the first `## ` heading
    (after the title and its paragraph), or at the end of a document that has none.

    Raises ValueError if only one marker is there, or they are out of order, or more than
    one of either: the document is not touched then."""
    begins, ends = doc.count(BEGIN), doc.count(END)
    if begins == ends == 0:
        at = doc.find("\n## ")
        if at < 0:
            return doc.rstrip("\n") + "\n\n" + section + "\n"
        return doc[: at + 1] + section + "\n\n" + doc[at + 1 :]
    if begins != 1 or ends != 1 or doc.index(BEGIN) > doc.index(END):
        raise ValueError(
            f"docs must hold one {BEGIN!r} and after it one {END!r} "
            f"(found {begins} and {ends}); fix the markers by hand"
        )
    start = doc.index(BEGIN)
    stop = doc.index(END) + len(END)
    return doc[:start] + section + doc[stop:]
