"""The sRGB transfer function (IEC 61966-2-1) both ways, numpy only: the one definition that the footage
reader (linear EXR -> network images), the scene's point reader (Blender's 8-bit sRGB colour attribute ->
linear colours) and the Blender export (linear colours -> sRGB) use."""

from __future__ import annotations

import numpy as np


def srgb_from_linear(linear: np.ndarray) -> np.ndarray:
    """Scene-linear values (any float array) -> sRGB-encoded values in ``[0, 1]`` (float32, same shape).

    Non-finite values become 0; values are clipped to ``[0, 1]`` first (as a viewer without a look does).
    """
    x = np.clip(np.nan_to_num(np.asarray(linear, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0), 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def linear_from_srgb(c: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The inverse: sRGB-encoded values in ``[0, 1]`` -> scene-linear, elementwise (float32; into ``out``
    when given, which saves an allocation on millions of points)."""
    c = np.asarray(c, dtype=np.float32)
    if out is None:
        out = np.empty_like(c)
    low = c <= np.float32(0.04045)
    np.multiply(c, np.float32(1 / 1.055), out=out)
    out += np.float32(0.055 / 1.055)
    np.power(out, np.float32(2.4), out=out)
    np.copyto(out, c * np.float32(1 / 12.92), where=low)
    return out
