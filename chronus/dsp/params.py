"""Parameters declared as data: name, range, unit, smoothing."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MIX_SMOOTHING_MS", "ParamSpec", "mix_specs", "modulated_value", "smoothing_coef"]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of a module type.

    >>> ParamSpec("cutoff", 2000.0, 20.0, 20000.0, "hz").clamp(30000.0)
    (20000.0, True)
    """

    name: str
    default: float
    minimum: float
    maximum: float
    unit: str = ""
    smoothing_ms: float = 0.0
    """Time to cover 99 % of a change; 0 means the value applies at once."""
    doc: str = ""

    def clamp(self, value: float) -> tuple[float, bool]:
        """The value limited to `[minimum, maximum]`, and whether it had to be limited.

        `value` must be finite; callers reject NaN and infinities first.
        """
        value = float(value)
        if value < self.minimum:
            return self.minimum, True
        if value > self.maximum:
            return self.maximum, True
        return value, False

    @property
    def range_text(self) -> str:
        """The range with its unit, for messages and help: ``20–20000 hz``."""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.minimum:g}–{self.maximum:g}{unit}"


def smoothing_coef(smoothing_ms: float, sample_rate: int) -> float:
    """The per-sample coefficient of a one-pole smoother that covers 99 % in `smoothing_ms`.

    Returns 1.0 (jump at once) for a smoothing time of zero.
    """
    samples = smoothing_ms * 1e-3 * sample_rate
    if samples <= 1.0:
        return 1.0
    return 1.0 - math.exp(math.log(0.01) / samples)


MIX_SMOOTHING_MS = 20.0


def mix_specs(volume_db: float) -> tuple[ParamSpec, ...]:
    """`volume`, `pan`, `mute` and `solo`, which every sound module has; the graph applies them.

    Mute and solo switch at once (values ≥ 0.5 are on); the strip's gain smoothing fades.
    """
    return (
        ParamSpec(
            "volume",
            volume_db,
            -60.0,
            12.0,
            "db",
            MIX_SMOOTHING_MS,
            "level of the module in the mix; -60 dB is silent",
        ),
        ParamSpec("pan", 0.0, -1.0, 1.0, "", MIX_SMOOTHING_MS, "-1 left, 0 centre, 1 right"),
        ParamSpec("mute", 0.0, 0.0, 1.0, "", 0.0, "1 silences the module (with a short fade)"),
        ParamSpec("solo", 0.0, 0.0, 1.0, "", 0.0, "1 plays only soloed modules and their chains"),
    )


def modulated_value(spec: ParamSpec, center: float, amount: float) -> float:
    """`center` moved by `amount` (−1…1 swings over the whole range) of the parameter.

    Frequencies (unit ``hz``) move in the log domain, so a swing sounds even around the set
    value. The result is not clamped; `Module.modulate` clamps it.
    """
    if spec.unit == "hz" and spec.minimum > 0.0:
        span = math.log2(spec.maximum) - math.log2(spec.minimum)
        return float(2.0 ** (math.log2(max(center, spec.minimum)) + 0.5 * amount * span))
    return center + 0.5 * amount * (spec.maximum - spec.minimum)
