"""The equal-power crossfade of a commit, shared by the audio I/O and the offline replay.

Both compute it with the same numpy operations in the same order, so a session rendered
offline crossfades bit for bit as the live engine did.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["crossfade_into"]


def crossfade_into(
    out: npt.NDArray[np.float32],
    old: npt.NDArray[np.float32],
    new: npt.NDArray[np.float32],
    first: int,
    total: int,
    scratch: tuple[npt.NDArray[np.float64], npt.NDArray[np.float32], npt.NDArray[np.float32],
                   npt.NDArray[np.float32], npt.NDArray[np.float64]],
) -> None:  # fmt: skip
    """`out` = `old`·cos θ + `new`·sin θ, θ = (i + ½)·π/(2·`total`) for the frames
    i = `first`, `first` + 1, … of a crossfade `total` frames long.

    `scratch` is preallocated (no allocation here, for the audio callback): θ (frames × 1,
    float64), the two gains (frames × 1, float32), a mix (frames × channels, float32) and the
    frame offsets 0, 1, … (frames × 1, float64).
    """
    theta, gain_old, gain_new, mix, offsets = scratch
    np.add(offsets, first + 0.5, out=theta)
    np.multiply(theta, 0.5 * np.pi / total, out=theta)
    np.cos(theta, out=gain_old)
    np.sin(theta, out=gain_new)
    np.multiply(old, gain_old, out=out)
    np.multiply(new, gain_new, out=mix)
    np.add(out, mix, out=out)
