"""The parameter tables of the effects (`distortion`, `delay`, `reverb`), as pure data.

Like `chronus.dsp.specs`, this imports no numba, so the supervisor can validate cheaply.
"""

from __future__ import annotations

from chronus.dsp.params import ParamSpec, mix_specs

__all__ = ["DISTORTION_MODES", "EFFECT_SPECS", "MAX_DELAY_MS"]

DISTORTION_MODES: tuple[str, ...] = ("tanh", "hard", "fold", "bitcrush")
"""Names of the distortion `mode` values 0, 1, 2, 3."""

MAX_DELAY_MS = 2000.0
"""The longest delay; its buffer is allocated up front."""

DISTORTION_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("drive", 12.0, 0.0, 48.0, "db", 20.0, "gain into the shaper"),
    ParamSpec("tone", 8000.0, 200.0, 20000.0, "hz", 30.0, "low-pass after the shaper"),
    ParamSpec("mode", 0.0, 0.0, 3.0, "", 0.0, "0 tanh, 1 hard clip, 2 fold, 3 bitcrush (rounded)"),
    ParamSpec("mix", 1.0, 0.0, 1.0, "", 20.0, "0 dry, 1 only the distorted signal"),
    *mix_specs(0.0),
)

DELAY_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("time", 375.0, 1.0, MAX_DELAY_MS, "ms", 150.0, "delay time when sync is 0"),
    ParamSpec(
        "sync", 0.0, 0.0, 4.0, "beats", 0.0,
        "0 uses time; else the delay in beats at the tempo (0.75 = dotted 1/8)",
    ),
    ParamSpec("feedback", 0.4, 0.0, 0.95, "", 20.0, "how much of each echo comes back"),
    ParamSpec("damp", 0.3, 0.0, 1.0, "", 20.0, "low-pass in the feedback: darker repeats"),
    ParamSpec("mix", 0.35, 0.0, 1.0, "", 20.0, "0 dry, 1 only the echoes"),
    *mix_specs(0.0),
)  # fmt: skip

REVERB_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec("room", 0.6, 0.0, 1.0, "", 50.0, "room size: length of the tail"),
    ParamSpec("damp", 0.5, 0.0, 1.0, "", 50.0, "high-frequency damping of the tail"),
    ParamSpec("mix", 0.3, 0.0, 1.0, "", 20.0, "0 dry, 1 only the reverb"),
    ParamSpec("width", 1.0, 0.0, 2.0, "", 50.0, "stereo width of the tail: 0 mono, 2 wide"),
    *mix_specs(0.0),
)

EFFECT_SPECS: dict[str, tuple[ParamSpec, ...]] = {
    "distortion": DISTORTION_SPECS,
    "delay": DELAY_SPECS,
    "reverb": REVERB_SPECS,
}
"""Effect type → its parameters, in a stable order."""
