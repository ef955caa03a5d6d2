"""A slot renders one block deeper while its renders run heavy, and comes back after."""

from __future__ import annotations

from chronus.engine.depth import HEAVY_PER_WINDOW, HOLD_WINDOWS, RenderDepth

PERIOD_NS = 2_666_666
WINDOW = 375


def window(depth: RenderDepth, heavy: int, light_ns: int = 300_000) -> int:
    """Render one window of blocks, `heavy` of them over half a period; the lead after it."""
    for i in range(WINDOW):
        depth.rendered(2_000_000 if i < heavy else light_ns)
    return depth.lead


def test_a_light_patch_keeps_its_lead() -> None:
    depth = RenderDepth(2, PERIOD_NS, WINDOW)
    assert [window(depth, HEAVY_PER_WINDOW - 1) for _ in range(5)] == [2] * 5
    assert window(depth, 0, light_ns=1_300_000) == 2  # under half a period is not heavy


def test_heavy_renders_deepen_it_at_the_end_of_the_window() -> None:
    depth = RenderDepth(2, PERIOD_NS, WINDOW)
    for _ in range(WINDOW - 1):
        depth.rendered(2_000_000)
    assert depth.lead == 2  # decided once per window, not block by block
    depth.rendered(2_000_000)
    assert depth.lead == 3 == depth.deepest


def test_it_holds_the_deeper_lead_then_comes_back() -> None:
    depth = RenderDepth(2, PERIOD_NS, WINDOW)
    assert window(depth, HEAVY_PER_WINDOW) == 3
    leads = [window(depth, 0) for _ in range(HOLD_WINDOWS)]
    assert leads == [3] * (HOLD_WINDOWS - 1) + [2]
    assert window(depth, HEAVY_PER_WINDOW) == 3  # heavy again: deeper again
    assert window(depth, HEAVY_PER_WINDOW) == 3
