"""Focal length from a camera-frame pointmap (paper section 3.3, "Recovering intrinsics").

With the principal point ``pp`` known (DUSt3R uses the image centre), each pixel ``(u, v)`` whose point is
``(x, y, z)`` should satisfy ``(u - cx, v - cy) = f * (x / z, y / z)``. Two robust 1-D estimators of ``f``:

* ``"median"``: the median of the ``2 * H * W`` votes ``(u - cx) * z / x`` and ``(v - cy) * z / y``
  (NaN votes ignored; for an even count the LOWER middle value, like ``torch.nanmedian``).
* ``"weiszfeld"``: minimise ``sum_p ||(u - cx, v - cy)_p - f r_p||`` (an L1 of 2-D residuals) with
  ``r = (x / z, y / z)`` (infinities and NaNs replaced by 0) by iteratively reweighted least squares:
  ``f0 = mean(r . d) / mean(|r|^2)``, then 10 times ``w = 1 / max(|d - f r|, 1e-8)``,
  ``f = mean(w r . d) / mean(w |r|^2)``, with ``d = (u - cx, v - cy)``.

The result is clipped to ``[min_focal * B, max_focal * B]`` with ``B = max(H, W) / (2 tan(30 deg))``, the
focal of a 60 degree field of view. Optional per-pixel ``weights`` (or a boolean mask) turn every mean
into a weighted mean (and the median into a weighted lower median); with no weights the result equals
the reference implementation's.
"""

from __future__ import annotations

import math

import numpy as np

from .cameras import pixel_grid

FOCAL_MODES = ("weiszfeld", "median")
WEISZFELD_ITERATIONS = 10


def focal_base(H: int, W: int) -> float:
    """``max(H, W) / (2 tan(30 deg))``: the unit of ``min_focal`` / ``max_focal`` (pixels)."""
    return max(H, W) / (2.0 * math.tan(math.radians(30.0)))


def estimate_focal_knowing_depth(
    pts3d: np.ndarray,
    pp: np.ndarray,
    focal_mode: str = "weiszfeld",
    min_focal: float = 0.0,
    max_focal: float = math.inf,
    weights: np.ndarray | None = None,
) -> float:
    """Focal length (pixels) of the camera that sees ``pts3d``.

    Args:
        pts3d: ``(H, W, 3)`` points in the CAMERA frame of that view (float32 or float64, any scale).
        pp: ``(2,)`` principal point ``(cx, cy)`` in index coordinates (DUSt3R: ``(W / 2, H / 2)``).
        focal_mode: ``"weiszfeld"`` or ``"median"``.
        min_focal, max_focal: clipping bounds in units of ``focal_base(H, W)``.
        weights: optional ``(H, W)`` non-negative weights or boolean mask; pixels with weight 0 are ignored.

    Returns:
        the focal length in pixels (float; NaN if no pixel can vote).

    Raises:
        ValueError: bad shapes, unknown mode, or weights that are negative / all zero.
    """
    pts3d = np.asarray(pts3d, dtype=np.float64)
    if pts3d.ndim != 3 or pts3d.shape[-1] != 3:
        raise ValueError(f"pts3d must be (H, W, 3), got {pts3d.shape}")
    if focal_mode not in FOCAL_MODES:
        raise ValueError(f"focal_mode must be one of {FOCAL_MODES}, got {focal_mode!r}")
    H, W = pts3d.shape[:2]
    pp = np.asarray(pp, dtype=np.float64).reshape(-1)
    if pp.shape != (2,):
        raise ValueError(f"pp must be (2,), got {pp.shape}")
    w = _check_weights(weights, (H, W))

    centred = (pixel_grid(H, W) - pp).reshape(-1, 2)  # (H*W, 2) d = (u - cx, v - cy)
    pts = pts3d.reshape(-1, 3)
    if w is not None:
        keep = w > 0
        centred, pts, w = centred[keep], pts[keep], w[keep]
    if focal_mode == "median":
        focal = _median_focal(pts, centred, w)
    else:
        focal = _weiszfeld_focal(pts, centred, w)

    base = focal_base(H, W)
    return float(np.clip(focal, min_focal * base, max_focal * base))


def _check_weights(weights: np.ndarray | None, hw: tuple[int, int]) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != hw:
        raise ValueError(f"weights must be {hw}, got {w.shape}")
    w = w.reshape(-1)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    if not np.any(w > 0):
        raise ValueError("weights are zero everywhere: no pixel to estimate the focal from")
    return w


def _median_focal(pts: np.ndarray, centred: np.ndarray, w: np.ndarray | None) -> float:
    """(Weighted) lower median of the per-axis votes ``d * z / (x, y)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        votes = (centred * pts[:, 2:3] / pts[:, :2]).T.reshape(-1)  # u votes then v votes
    vote_w = None if w is None else np.concatenate([w, w])
    valid = ~np.isnan(votes)
    votes = votes[valid]
    if votes.size == 0:
        return math.nan
    if vote_w is None:
        return float(np.partition(votes, (votes.size - 1) // 2)[(votes.size - 1) // 2])
    vote_w = vote_w[valid]
    order = np.argsort(votes, kind="stable")
    cum = np.cumsum(vote_w[order])
    k = int(np.searchsorted(cum, 0.5 * cum[-1], side="left"))
    return float(votes[order[min(k, votes.size - 1)]])


def _weiszfeld_focal(pts: np.ndarray, centred: np.ndarray, w: np.ndarray | None) -> float:
    """IRLS minimiser of ``sum w ||d - f r||`` (see the module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        xy_over_z = pts[:, :2] / pts[:, 2:3]
    xy_over_z = np.nan_to_num(xy_over_z, nan=0.0, posinf=0.0, neginf=0.0)
    dot_xy_px = np.sum(xy_over_z * centred, axis=1)
    dot_xy_xy = np.sum(xy_over_z**2, axis=1)
    base_w = np.ones_like(dot_xy_px) if w is None else w
    with np.errstate(divide="ignore", invalid="ignore"):
        focal = np.sum(base_w * dot_xy_px) / np.sum(base_w * dot_xy_xy)
        for _ in range(WEISZFELD_ITERATIONS):
            dist = np.linalg.norm(centred - focal * xy_over_z, axis=1)
            irls_w = base_w / np.maximum(dist, 1e-8)
            focal = np.sum(irls_w * dot_xy_px) / np.sum(irls_w * dot_xy_xy)
    return float(focal)
