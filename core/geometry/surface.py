"""Which neighbouring pixels of a view's pointmap make a surface: the one rule for "no face across a depth jump".

Pure numpy. Used by the Blender surfaces (textured per-view meshes), the glTF export's ``--mesh`` and the depth
export's resampling (which interpolates only between pixels that this rule would join).
"""

from __future__ import annotations

import numpy as np

DEPTH_JUMP = 0.05  # neighbours are not joined when max/min depth of their group exceeds 1 + DEPTH_JUMP


def surface_quads(valid: np.ndarray, depth: np.ndarray, max_jump: float = DEPTH_JUMP) -> np.ndarray:
    """Quads over a pixel grid, as ``(F, 4)`` int64 row-major pixel indices, counter-clockwise seen from the camera.

    A quad joins four neighbouring pixels when all four are ``valid``, their depths are positive and
    ``max(depth) <= min(depth) * (1 + max_jump)``.

    Args:
        valid: ``(H, W)`` bool, pixels that may be used.
        depth: ``(H, W)`` positive depths (camera z).
        max_jump: relative depth jump beyond which neighbours are not joined.
    """
    valid = np.asarray(valid, dtype=bool)
    depth = np.asarray(depth, dtype=np.float64)
    if valid.shape != depth.shape or valid.ndim != 2:
        raise ValueError(f"valid and depth must be the same (H, W), got {valid.shape} and {depth.shape}")
    h, w = depth.shape
    idx = np.arange(h * w).reshape(h, w)
    # Corners of each cell (j, i): top-left, bottom-left, bottom-right, top-right. Image y points down, so this
    # order is counter-clockwise as the camera sees it: the front side faces the camera.
    corners = [idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]]
    flat_valid = valid.ravel()
    flat_depth = np.where(valid, depth, np.nan).ravel()
    ok = np.ones((h - 1, w - 1), dtype=bool)
    for c in corners:
        ok &= flat_valid[c]
    d = np.stack([flat_depth[c] for c in corners], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok &= (d.min(-1) > 0) & (d.max(-1) <= d.min(-1) * (1.0 + max_jump))
    return np.stack([c[ok] for c in corners], axis=-1)


def quads_to_triangles(quads: np.ndarray) -> np.ndarray:
    """``(F, 4)`` quads -> ``(2F, 3)`` triangles ``(a, b, c), (a, c, d)`` with the same winding."""
    quads = np.asarray(quads)
    return np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]], axis=0)
