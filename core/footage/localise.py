"""Visual localisation of a frame that was not reconstructed (paper section 4.1).

The frame (the *query*) is paired with its nearest reconstructed frames (the *references*). The network's
prediction of the ordered pair ``(query, reference)`` holds both pointmaps in the query's camera frame:
``X^q`` (the query's pixels) and ``X^r`` (the reference's pixels). That gives 2-D/3-D correspondences
without a separate matcher:

* the 3-D side is the reconstruction: the reference pixel's WORLD point, from the alignment;
* the 2-D side is where that reference pixel appears in the query: ``X^r`` projected with the focal that
  the query's own pointmap implies in this pair (so both pointmaps of the pair agree, sub-pixel), kept when
  the query's pointmap at that pixel sees the same surface (depth within ``OCCLUSION_TOLERANCE``) and both
  are confident.

Then a robust absolute-pose solve with the shot's known intrinsics (:func:`.pnp.solve_pnp_ransac`: RANSAC,
then Levenberg-Marquardt on the reprojection error). A pose with too few inliers, or too far from its
neighbours, is not trusted: the caller flags it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..geometry import estimate_focal_knowing_depth, invert_rigid
from ..predictions import PairPrediction
from .pnp import PnPResult, solve_pnp_ransac

OCCLUSION_TOLERANCE = 0.05
MAX_CORRESPONDENCES = 3000
MIN_INLIERS = 30
MIN_INLIER_RATIO = 0.25


@dataclass(frozen=True)
class Correspondences:
    """``uv (M, 2)`` query pixels (index coordinates), ``X_world (M, 3)``, ``X_cam (M, 3)`` (pair scale)."""

    uv: np.ndarray
    X_world: np.ndarray
    X_cam: np.ndarray

    @staticmethod
    def concatenate(parts: Sequence[Correspondences]) -> Correspondences:
        if not parts:
            return Correspondences(np.zeros((0, 2)), np.zeros((0, 3)), np.zeros((0, 3)))
        return Correspondences(
            *(np.concatenate([getattr(p, k) for p in parts]) for k in ("uv", "X_world", "X_cam"))
        )


def pair_correspondences(
    pred: PairPrediction,
    ref_world_pts: np.ndarray,
    ref_conf: np.ndarray,
    principal_point: np.ndarray,
    min_conf: float,
    max_count: int = MAX_CORRESPONDENCES,
) -> Correspondences:
    """2-D/3-D correspondences of the query ``pred.i`` from its pair with the reference ``pred.j``.

    Args:
        pred: the ordered pair (query, reference), both pointmaps in the query's frame.
        ref_world_pts: ``(H, W, 3)`` the reference's world points (the reconstruction).
        ref_conf: ``(H, W)`` their confidence after alignment.
        principal_point: ``(2,)`` the shot's principal point, network index coordinates.
        min_conf: pixels at or below this confidence (in the pair or the reconstruction) are not used.
        max_count: at most this many correspondences (a regular subsample).
    """
    Xq, Xr = np.asarray(pred.pts3d_i, np.float64), np.asarray(pred.pts3d_j, np.float64)
    H, W = Xq.shape[:2]
    pp = np.asarray(principal_point, dtype=np.float64)
    f_pair = estimate_focal_knowing_depth(Xq, pp, weights=pred.conf_i > min_conf)
    keep = (pred.conf_j > min_conf) & (np.asarray(ref_conf) > min_conf) & (Xr[..., 2] > 1e-9)
    keep &= np.isfinite(ref_world_pts).all(axis=-1)
    if not np.isfinite(f_pair) or not keep.any():
        return Correspondences.concatenate([])
    idx = np.flatnonzero(keep)
    stride = max(1, len(idx) // max_count)
    idx = idx[::stride]
    Xr_flat = Xr.reshape(-1, 3)[idx]
    uv = Xr_flat[:, :2] / Xr_flat[:, 2:3] * f_pair + pp
    col, row = np.round(uv[:, 0]).astype(np.int64), np.round(uv[:, 1]).astype(np.int64)
    inside = (col >= 0) & (col < W) & (row >= 0) & (row < H)
    col, row = np.clip(col, 0, W - 1), np.clip(row, 0, H - 1)
    zq = Xq[row, col, 2]
    visible = (
        inside
        & (np.abs(Xr_flat[:, 2] - zq) < OCCLUSION_TOLERANCE * np.abs(zq))
        & (pred.conf_i[row, col] > min_conf)
    )
    return Correspondences(
        uv=uv[visible],
        X_world=np.asarray(ref_world_pts, np.float64).reshape(-1, 3)[idx][visible],
        X_cam=Xr_flat[visible],
    )


@dataclass(frozen=True)
class Localisation:
    """A localised frame: ``world_from_cam`` ``(4, 4)``, the solve's figures, and whether to trust it."""

    world_from_cam: np.ndarray
    num_correspondences: int
    num_inliers: int
    rms_px: float
    trusted: bool
    note: str


def localise_frame(
    correspondences: Correspondences, K: np.ndarray, inlier_px: float, seed: int = 0
) -> Localisation | None:
    """The query's pose from its correspondences with the known intrinsics ``K`` (network pixels).

    Returns None when no pose can be found at all (too few correspondences or inliers).
    """
    c = correspondences
    result: PnPResult | None = solve_pnp_ransac(K, c.uv, c.X_world, c.X_cam, inlier_px, seed=seed)
    if result is None:
        return None
    ratio = result.num_inliers / max(len(c.uv), 1)
    trusted = result.num_inliers >= MIN_INLIERS and ratio >= MIN_INLIER_RATIO
    note = f"localised: {result.num_inliers}/{len(c.uv)} inliers, {result.rms_px:.2f} px rms"
    if not trusted:
        note = f"localisation unreliable ({result.num_inliers}/{len(c.uv)} inliers)"
    return Localisation(
        world_from_cam=invert_rigid(result.cam_from_world),
        num_correspondences=len(c.uv),
        num_inliers=result.num_inliers,
        rms_px=result.rms_px,
        trusted=trusted,
        note=note,
    )


def default_inlier_px(net_size: tuple[int, int]) -> float:
    """Inlier threshold for a network image of ``(W, H)`` pixels: 1 % of its long side, at least 1.5 px."""
    return max(1.5, 0.01 * max(net_size))
