"""When to replace a dead slot worker: immediately, after 2 s, after 10 s, or not at all.

A worker that served for a while and then died is replaced at once: that is a crash, and the
standby already covered it. A worker that dies young (within `young_s` of starting to serve)
hints at a crash loop — a module that kills every slot it runs in — so each young death moves
one step down the ladder, and past its end the engine stops respawning (Suspended) and plays on
with the slot it has. Independently, more than `max_restarts` respawns within `window_s` is a
crash loop whatever the ages (the restart intensity of an OTP supervisor). A worker that
serves `young_s` without dying brings the ladder back to its first step.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["RespawnDecision", "RespawnPolicy"]


@dataclass(frozen=True, slots=True)
class RespawnDecision:
    """`delay_s` before the respawn, or `suspended` with the reason."""

    delay_s: float
    suspended: bool = False
    reason: str = ""

    def describe(self) -> str:
        """One line for the log and for health."""
        if self.suspended:
            return f"suspended: {self.reason}"
        if self.delay_s == 0:
            return "respawning now"
        return f"respawning in {self.delay_s:g} s ({self.reason})"


@dataclass(slots=True)
class RespawnPolicy:
    """The backoff ladder and the restart-intensity window."""

    steps: tuple[float, ...] = (0.0, 2.0, 10.0)
    young_s: float = 3.0
    window_s: float = 60.0
    max_restarts: int = 30
    _step: int = 0
    _recent: deque[float] = field(default_factory=deque)

    def on_death(self, now: float, served_s: float) -> RespawnDecision:
        """Decide what follows the death of a worker that served `served_s` seconds."""
        while self._recent and now - self._recent[0] > self.window_s:
            self._recent.popleft()
        if len(self._recent) >= self.max_restarts:
            return RespawnDecision(
                0.0, True, f"{len(self._recent)} restarts within {self.window_s:g} s"
            )
        if served_s >= self.young_s:
            self._step = 0
            reason = ""
        else:
            reason = f"the last worker died after {served_s:.2f} s"
            if self._step >= len(self.steps):
                return RespawnDecision(0.0, True, f"crash loop ({reason})")
        decision = RespawnDecision(self.steps[self._step], False, reason)
        self._step += 1 if served_s < self.young_s else 0
        self._recent.append(now)
        return decision

    def reset(self) -> None:
        """Forget past deaths (after a manual resume)."""
        self._step = 0
        self._recent.clear()
