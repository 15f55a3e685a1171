"""Radial lens distortion: OpenCV's model on normalised camera coordinates (INTERFACES.md).

A camera point ``(X, Y, Z)`` has normalised coordinates ``x_u = (X / Z, Y / Z)``; the lens moves it to
``x_d = x_u (1 + k1 r^2 + k2 r^4)`` with ``r = |x_u|``, and the pixel is ``K @ [x_d, 1]``. ``dist`` is the pair
``(k1, k2)`` (zeros: a pinhole). Pure numpy; the one place where this model is written down, so that the
refinement, the exports and the Blender side agree on it.
"""

from __future__ import annotations

import numpy as np


def _check_dist(dist) -> tuple[float, float]:
    try:
        k = np.asarray(dist, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        k = np.full(1, np.nan)
    if k.shape != (2,) or not np.isfinite(k).all():
        raise ValueError(f"dist must be two finite numbers (k1, k2), got {dist!r}")
    return float(k[0]), float(k[1])


def _check_xy(xy: np.ndarray) -> np.ndarray:
    xy = np.asarray(xy, dtype=np.float64)
    if xy.shape[-1:] != (2,):
        raise ValueError(f"normalised coordinates must have shape (..., 2), got {xy.shape}")
    return xy


def distort_normalized(xy_undistorted: np.ndarray, dist) -> np.ndarray:
    """``(..., 2)`` undistorted normalised coordinates -> distorted ones (float64, same shape)."""
    k1, k2 = _check_dist(dist)
    xy = _check_xy(xy_undistorted)
    r2 = np.sum(xy * xy, axis=-1, keepdims=True)
    return xy * (1.0 + k1 * r2 + k2 * r2 * r2)


def undistort_normalized(xy_distorted: np.ndarray, dist, iterations: int = 20) -> np.ndarray:
    """Inverse of :func:`distort_normalized` by fixed-point iteration (float64, same shape).

    Converges for the moderate distortion of real lenses (``|k1| r^2`` well below 1 over the image); the
    result then re-distorts to ``xy_distorted`` to about 1e-12.
    """
    k1, k2 = _check_dist(dist)
    xy_d = _check_xy(xy_distorted)
    if k1 == 0.0 and k2 == 0.0:
        return xy_d.copy()
    xy = xy_d.copy()
    for _ in range(iterations):
        r2 = np.sum(xy * xy, axis=-1, keepdims=True)
        xy = xy_d / (1.0 + k1 * r2 + k2 * r2 * r2)
    return xy


def project_distorted(K: np.ndarray, pts_cam: np.ndarray, dist=(0.0, 0.0)) -> np.ndarray:
    """Project camera-frame points ``(..., 3)`` (OpenCV axes) to pixels ``(..., 2)`` through ``dist`` and ``K``.

    :func:`core.geometry.cameras.project` with the lens model; the pixel convention is ``K``'s (index
    coordinates for a network ``K``, continuous for ``K_photo``). Mask points by ``z > 0`` first.
    """
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"K must be (3, 3), got {K.shape}")
    pts = np.asarray(pts_cam, dtype=np.float64)
    if pts.shape[-1:] != (3,):
        raise ValueError(f"points must have shape (..., 3), got {pts.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = distort_normalized(pts[..., :2] / pts[..., 2:3], dist)
    return xy @ K[:2, :2].T + K[:2, 2]


def pixel_rays(uv: np.ndarray, K: np.ndarray, dist=(0.0, 0.0)) -> np.ndarray:
    """Pixels ``(..., 2)`` -> camera rays ``(..., 3)`` with ``z = 1`` (undistorted), inverse of
    :func:`project_distorted` up to depth. Zero skew assumed (as every camera of the project has)."""
    uv = _check_xy(uv)
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"K must be (3, 3), got {K.shape}")
    xy_d = np.stack([(uv[..., 0] - K[0, 2]) / K[0, 0], (uv[..., 1] - K[1, 2]) / K[1, 1]], axis=-1)
    xy = undistort_normalized(xy_d, dist)
    return np.concatenate([xy, np.ones_like(xy[..., :1])], axis=-1)
