"""Network-image maps (depth, confidence) -> the ORIGINAL photo's pixel grid, through the crop the network saw.

Each photo pixel centre (continuous coordinates ``(x0 + 0.5, y0 + 0.5)``) is mapped to the network image by
:func:`~core.geometry.photo.net_from_photo_pixels` (the one definition of that mapping). Photo pixels whose
centre falls outside the network image's footprint (index coordinates ``[-0.5, W2 - 0.5] x [-0.5, H2 - 0.5]``:
what the centre crop cut away) are NaN. Inside, values are interpolated bilinearly between the four
surrounding network pixels when their depths agree (the rule of
:func:`~core.geometry.surface.surface_quads`: ``max <= min * (1 + max_jump)``), and taken from the nearest
network pixel where they do not (a depth edge: no value between a foreground and a background), or where one
of the four is NaN. Within half a network pixel of the footprint's edge the edge pixel is extended.

The mapping is separable (scale and offset per axis), so the work is two 1-D gathers per map: about ten passes
over the output image, no per-pixel Python.
"""

from __future__ import annotations

import numpy as np

from .photo import PhotoCrop, net_from_photo_pixels
from .surface import DEPTH_JUMP


def _axis_samples(n_photo: int, n_net: int, axis: int, crop: PhotoCrop):
    """For each photo pixel along one axis: (seen, lower index, upper index, weight of the upper, nearest)."""
    centres = np.zeros((n_photo, 2))
    centres[:, axis] = np.arange(n_photo) + 0.5
    pos = net_from_photo_pixels(centres, crop)[:, axis]
    seen = (pos >= -0.5) & (pos <= n_net - 0.5)
    clipped = np.clip(pos, 0.0, n_net - 1.0)
    lo = np.minimum(np.floor(clipped).astype(np.int64), max(n_net - 2, 0))
    hi = np.minimum(lo + 1, n_net - 1)
    weight = (clipped - lo).astype(np.float32)
    nearest = np.clip(np.floor(pos + 0.5).astype(np.int64), 0, n_net - 1)
    return seen, lo, hi, weight, nearest


def resample_to_photo(
    depth: np.ndarray, others: tuple[np.ndarray, ...], crop: PhotoCrop, max_jump: float = DEPTH_JUMP
) -> tuple[np.ndarray, ...]:
    """``depth`` and each map of ``others`` at the photo's resolution.

    Args:
        depth: ``(H2, W2)`` depth of the network pixels (positive; NaN where unknown); it also decides where
            the maps have an edge.
        others: more ``(H2, W2)`` maps resampled with the same weights and edges (e.g. the confidence).
        crop: how the photo became the network image (``crop.net_size == (W2, H2)``).
        max_jump: relative depth difference above which four neighbours are an edge.

    Returns:
        ``(depth, *others)``, each ``(H0, W0)`` float32 with ``crop.photo_size == (W0, H0)``; NaN outside the
        crop.

    Raises:
        ValueError: a map's shape is not ``(H2, W2)``.
    """
    w2, h2 = (int(v) for v in crop.net_size)
    w0, h0 = (int(v) for v in crop.photo_size)
    maps = [np.asarray(m, dtype=np.float32) for m in (depth, *others)]
    for m in maps:
        if m.shape != (h2, w2):
            raise ValueError(f"maps must have the network image's shape {(h2, w2)}, got {m.shape}")
    seen_x, x0, x1, wx, xn = _axis_samples(w0, w2, 0, crop)
    seen_y, y0, y1, wy, yn = _axis_samples(h0, h2, 1, crop)
    wy = wy[:, None]

    d = maps[0]
    with np.errstate(invalid="ignore"):
        lo_x, hi_x = np.fmin(d[:, x0], d[:, x1]), np.fmax(d[:, x0], d[:, x1])  # NaN only if both are
        low = np.fmin(lo_x[y0], lo_x[y1])
        high = np.fmax(hi_x[y0], hi_x[y1])
        any_nan_x = np.isnan(d[:, x0]) | np.isnan(d[:, x1])
        any_nan = any_nan_x[y0] | any_nan_x[y1]
        smooth = ~any_nan & (low > 0) & (high <= low * np.float32(1.0 + max_jump))
    outside = ~(seen_y[:, None] & seen_x[None, :])
    out = []
    for m in maps:
        rows = m[:, x0] * (1.0 - wx) + m[:, x1] * wx  # (H2, W0): along x
        value = rows[y0] * (1.0 - wy) + rows[y1] * wy  # (H0, W0): along y
        nearest = m[:, xn][yn]
        np.copyto(value, nearest, where=~smooth)
        value[outside] = np.nan
        out.append(value)
    return tuple(out)
