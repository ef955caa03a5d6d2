"""Comparing a recording with its offline render, block by block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from chronus.session.stamped_log import _runs


def differing_blocks(
    recorded: npt.NDArray[np.float32],
    expected: npt.NDArray[np.float32],
    block: int,
    played: int,
) -> list[int]:
    """Blocks before `played` in which `recorded` and `expected` differ in any sample.

    `played` is the I/O's `blocks_played` from the status whose underrun count the caller
    checks the differences against: the recording runs on until the engine stops, and an
    underrun after that status would otherwise be a difference no counter accounts for.
    """
    n = min(len(recorded), len(expected), played * block)
    rows = np.flatnonzero(np.any(recorded[:n] != expected[:n], axis=1))
    return sorted({int(r) // block for r in rows})


def explained_blocks(io: Mapping[str, Any]) -> int:
    """How many blocks of a live recording may differ from its offline render by what the
    I/O counted: each underrun's fade-out and the fade-in after it, and each crossfade block
    one slot had not published (played from the other, spliced in) and the block after it."""
    return 2 * int(io["underruns"]) + 2 * int(io.get("one_sided_fades", 0))


def replay_story(
    session: Any,
    recorded: npt.NDArray[np.float32],
    expected: npt.NDArray[np.float32],
    differing: list[int],
    around: int = 40,
) -> str:
    """What a failing replay check needs to be told from: where the differences begin and
    how big they are, whether the recording is the render shifted by whole blocks (lost or
    doubled ones), and what the session log says near the first one (commands, commits,
    isolated modules' host starts and bypassed calls)."""
    if not differing:
        return "no block differs"
    block = int(session.block)
    first = differing[0]
    run = 1
    while run < len(differing) and differing[run] == first + run:
        run += 1
    lines = [f"first differing block {first}, {run} in a row, {len(differing)} in all"]
    for k in differing[:3]:
        a, b = recorded[k * block : (k + 1) * block], expected[k * block : (k + 1) * block]
        n = min(len(a), len(b))
        lines.append(f"  block {k}: max |diff| {float(np.abs(a[:n] - b[:n]).max()):.3g}")
    begin = first + 8 if run > 16 else first  # past a gap the recording may have there
    end = first + min(run, 108)
    for shift in (s for s in range(-64, 65) if s):
        lo = max(begin, -shift) * block
        hi = min(len(recorded), len(expected) - shift * block, end * block)
        moved = slice(lo + shift * block, hi + shift * block)
        if hi > lo and np.array_equal(recorded[lo:hi], expected[moved]):
            lines.append(f"  the recording there is the render shifted by {shift} blocks")
    near = range((first - around) * block, (first + around) * block)
    for sample, message in session.commands:
        if sample in near:
            lines.append(f"  command at block {sample / block:.2f}: {message}")
    for commit in session.commits:
        if commit.switch in near or commit.stamp in near:
            lines.append(
                f"  commit stamped at block {commit.stamp / block:.2f}, heard from "
                f"{commit.switch / block:.2f}: {len(commit.messages)} commands"
            )
    for module_id, calls in session.hosts.items():
        lives = [calls, *calls.later]
        for life, each in enumerate(lives):
            runs = _runs(tuple(each.bypassed))
            lines.append(
                f"  {module_id} (life {life}): hosts from calls {sorted(each.fresh)}, "
                f"bypassed {runs[:12]}{' …' if len(runs) > 12 else ''}, "
                f"ended down {each.ended_down}"
            )
    return "\n".join(lines)
