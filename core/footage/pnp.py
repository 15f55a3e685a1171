"""Absolute pose of a camera with known intrinsics from 2-D/3-D correspondences (numpy only, no OpenCV).

``solve_pnp_ransac``:

1. hypotheses: RANSAC over minimal samples of 3 correspondences, each giving ``cam_from_world`` in closed
   form from the points' 3-D positions in the camera frame (what a DUSt3R pair predicts) against their world
   positions (Umeyama, batched over all samples); this also works on planar scenes, where 6-point linear
   PnP degenerates;
2. scoring: every hypothesis reprojects all world points through the known ``K``; inliers are within
   ``inlier_px`` pixels of their 2-D observation;
3. refinement: Levenberg-Marquardt on the reprojection error of the best hypothesis's inliers (pose only,
   6 parameters, Cauchy-weighted), then the inliers are recounted. The final pose depends only on the 2-D
   positions and the world points: the network's depths only seed it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.procrustes import batched_umeyama
from ..geometry.transforms import make_rigid, skew

SCORING_POINTS = 500  # correspondences on which the RANSAC hypotheses are ranked


@dataclass(frozen=True)
class PnPResult:
    """``cam_from_world`` ``(4, 4)`` float64; ``inliers`` ``(M,)`` bool; ``rms_px`` of the inliers' residuals."""

    cam_from_world: np.ndarray
    inliers: np.ndarray
    rms_px: float

    @property
    def num_inliers(self) -> int:
        return int(self.inliers.sum())


def rotation_from_vector(omega: np.ndarray) -> np.ndarray:
    """Rodrigues: ``(3,)`` axis-angle (radians) -> ``(3, 3)`` rotation."""
    theta = float(np.linalg.norm(omega))
    K = skew(np.asarray(omega, dtype=np.float64) / max(theta, 1e-300))
    return np.eye(3) + np.sin(theta) * K + (1 - np.cos(theta)) * K @ K


def reprojection_errors(
    K: np.ndarray, cam_from_world: np.ndarray, uv: np.ndarray, X: np.ndarray
) -> np.ndarray:
    """Pixel distances ``(..., M)`` between ``uv (M, 2)`` and the world points ``X (M, 3)`` projected through
    ``cam_from_world`` (``(4, 4)`` or a batch ``(B, 4, 4)``); points behind the camera give ``inf``."""
    T = np.asarray(cam_from_world, dtype=np.float64)
    Xc = np.matmul(X, np.swapaxes(T[..., :3, :3], -1, -2)) + T[..., None, :3, 3]
    z = Xc[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = K[0, 0] * Xc[..., 0] / z + K[0, 2]
        v = K[1, 1] * Xc[..., 1] / z + K[1, 2]
    err = np.hypot(u - uv[:, 0], v - uv[:, 1])
    return np.where(z > 1e-9, err, np.inf)


def _hypotheses(X_cam: np.ndarray, X_world: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    m = len(X_cam)
    samples = np.argsort(rng.random((count, m)), axis=1)[:, :3] if m < 64 else rng.integers(0, m, (count, 3))
    samples = samples[
        (samples[:, 0] != samples[:, 1]) & (samples[:, 1] != samples[:, 2]) & (samples[:, 0] != samples[:, 2])
    ]
    s, R, t = batched_umeyama(X_world[samples], X_cam[samples])  # cam ~ s R world + t
    ok = np.isfinite(s) & (s > 0)
    T = np.tile(np.eye(4), (int(ok.sum()), 1, 1))
    # cam_from_world up to the pair's scale: divide by s (the rotation is the pose's; t scales with s)
    T[:, :3, :3] = R[ok]
    T[:, :3, 3] = t[ok] / s[ok, None]
    return T


def refine_pose(
    K: np.ndarray,
    cam_from_world: np.ndarray,
    uv: np.ndarray,
    X: np.ndarray,
    scale_px: float,
    iterations: int = 15,
) -> np.ndarray:
    """Levenberg-Marquardt on the Cauchy-weighted reprojection error (scale ``scale_px``), pose only.

    Returns the refined ``(4, 4)`` ``cam_from_world``.
    """
    R, t = cam_from_world[:3, :3].copy(), cam_from_world[:3, 3].copy()
    fx, fy = K[0, 0], K[1, 1]
    lam = 1e-3

    def cost(R_, t_):
        e = reprojection_errors(K, make_rigid(R_, t_), uv, X)
        return float(np.sum(np.log1p((np.where(np.isfinite(e), e, 1e6) / scale_px) ** 2)))

    current = cost(R, t)
    for _ in range(iterations):
        RX = X @ R.T
        Xc = RX + t
        z = np.maximum(Xc[:, 2], 1e-9)
        res = np.concatenate([fx * Xc[:, 0] / z + K[0, 2] - uv[:, 0], fy * Xc[:, 1] / z + K[1, 2] - uv[:, 1]])
        J_proj = np.zeros((2 * len(X), 3))
        J_proj[: len(X), 0], J_proj[: len(X), 2] = fx / z, -fx * Xc[:, 0] / z**2
        J_proj[len(X) :, 1], J_proj[len(X) :, 2] = fy / z, -fy * Xc[:, 1] / z**2
        dX_domega = -skew(RX)  # left perturbation R <- exp(omega) R
        rows = np.concatenate([np.arange(len(X))] * 2)
        J = np.concatenate([np.einsum("mi,mij->mj", J_proj, dX_domega[rows]), J_proj], axis=1)
        r2 = (res[: len(X)] ** 2 + res[len(X) :] ** 2) / scale_px**2
        w = np.concatenate([1.0 / (1.0 + r2)] * 2)
        H = J.T @ (w[:, None] * J)
        g = J.T @ (w * res)
        while True:
            delta = -np.linalg.solve(H + lam * np.diag(np.diag(H) + 1e-12), g)
            R_new = rotation_from_vector(delta[:3]) @ R
            t_new = rotation_from_vector(delta[:3]) @ t + delta[3:]
            new = cost(R_new, t_new)
            if new <= current:
                R, t, current, lam = R_new, t_new, new, max(lam / 10, 1e-9)
                break
            lam *= 10
            if lam > 1e8:
                return make_rigid(R, t)
        if np.linalg.norm(delta) < 1e-12:
            break
    return make_rigid(R, t)


def solve_pnp_ransac(
    K: np.ndarray,
    uv: np.ndarray,
    X_world: np.ndarray,
    X_cam: np.ndarray,
    inlier_px: float,
    hypotheses: int = 256,
    seed: int = 0,
) -> PnPResult | None:
    """Robust ``cam_from_world`` of a camera with intrinsics ``K`` (module docstring).

    Args:
        K: ``(3, 3)`` intrinsics (pixels, the coordinates of ``uv``).
        uv: ``(M, 2)`` observed pixels; X_world: ``(M, 3)`` their world points.
        X_cam: ``(M, 3)`` the same points in the camera frame, at any scale (seeds the hypotheses only).
        inlier_px: inlier threshold and robust scale, pixels.
        hypotheses: RANSAC samples.

    Returns:
        The pose, or None when fewer than 6 correspondences are given or no hypothesis has 6 inliers.
    """
    uv = np.asarray(uv, dtype=np.float64)
    X_world = np.asarray(X_world, dtype=np.float64)
    X_cam = np.asarray(X_cam, dtype=np.float64)
    if len(uv) < 6:
        return None
    rng = np.random.default_rng(seed)
    T = _hypotheses(X_cam, X_world, hypotheses, rng)
    if len(T) == 0:
        return None
    # score every hypothesis on a random subset (enough to rank them), then the best one on all points
    subset = rng.choice(len(uv), min(len(uv), SCORING_POINTS), replace=False)
    counts = (reprojection_errors(K, T, uv[subset], X_world[subset]) < inlier_px).sum(axis=1)
    pose = T[int(np.argmax(counts))]
    inliers = reprojection_errors(K, pose, uv, X_world) < inlier_px
    if inliers.sum() < 6:
        return None
    for _ in range(2):  # refine on the inliers, recount, refine again
        pose = refine_pose(K, pose, uv[inliers], X_world[inliers], inlier_px)
        e = reprojection_errors(K, pose, uv, X_world)
        if (e < inlier_px).sum() < 6:
            break
        inliers = e < inlier_px
    e = reprojection_errors(K, pose, uv, X_world)
    return PnPResult(cam_from_world=pose, inliers=inliers, rms_px=float(np.sqrt(np.mean(e[inliers] ** 2))))
