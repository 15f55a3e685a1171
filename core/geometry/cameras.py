"""Pinhole cameras in DUSt3R's pixel convention.

Pixels are in INDEX coordinates (CONVENTIONS.md section 2): the centre of column ``u`` is at ``u``, of row ``v``
at ``v``; the default principal point of a ``W x H`` network image is ``(W / 2, H / 2)``. Camera frames are
OpenCV (x right, y down, z forward); depth is the z coordinate, not the ray length.
"""

from __future__ import annotations

import numpy as np


def pixel_grid(H: int, W: int) -> np.ndarray:
    """``(H, W, 2)`` float64 index coordinates: ``grid[v, u] = (u, v)`` (u = column, v = row)."""
    if H < 1 or W < 1:
        raise ValueError(f"image size must be positive, got H={H}, W={W}")
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    return np.stack([u, v], axis=-1)


def default_principal_point(H: int, W: int) -> np.ndarray:
    """``(2,)`` float64 ``(W / 2, H / 2)``: DUSt3R's principal point in index coordinates."""
    return np.array([W / 2.0, H / 2.0])


def intrinsics_matrix(fx: float, fy: float, cx: float, cy: float) -> np.ndarray:
    """The ``(3, 3)`` float64 pinhole matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (all in pixels)."""
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)


def intrinsics_from_focal(focal: float | np.ndarray, pp: np.ndarray) -> np.ndarray:
    """``(3, 3)`` float64 ``K`` from a focal (scalar, or ``(2,)`` ``(fx, fy)``) and ``pp`` ``(2,)`` (pixels)."""
    return intrinsics_matrix(*_focal_xy(focal), *_pp(pp))


def depth_to_cam_points(depth: np.ndarray, focal: float | np.ndarray, pp: np.ndarray) -> np.ndarray:
    """Back-project a depth map to camera-frame points.

    Args:
        depth: ``(H, W)`` z-depth (any unit).
        focal: focal length in pixels (scalar, or ``(2,)`` ``(fx, fy)``).
        pp: ``(2,)`` principal point ``(cx, cy)`` in index coordinates.

    Returns:
        ``(H, W, 3)`` float64 points in the camera frame, same unit as ``depth``.
    """
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim != 2:
        raise ValueError(f"depth must be (H, W), got {depth.shape}")
    fx, fy = _focal_xy(focal)
    cx, cy = _pp(pp)
    grid = pixel_grid(*depth.shape)
    x = (grid[..., 0] - cx) / fx * depth
    y = (grid[..., 1] - cy) / fy * depth
    return np.stack([x, y, depth], axis=-1)


def cam_points_to_depth(pts_cam: np.ndarray) -> np.ndarray:
    """``(..., 3)`` camera-frame points -> ``(...)`` float64 z-depth."""
    pts_cam = np.asarray(pts_cam, dtype=np.float64)
    if pts_cam.shape[-1:] != (3,):
        raise ValueError(f"points must be (..., 3), got {pts_cam.shape}")
    return pts_cam[..., 2].copy()


def project(K: np.ndarray, pts_cam: np.ndarray) -> np.ndarray:
    """Project camera-frame points to pixels.

    Args:
        K: ``(3, 3)`` intrinsics (pixels, index coordinates).
        pts_cam: ``(..., 3)`` points in the camera frame.

    Returns:
        ``(..., 2)`` float64 pixel coordinates ``(u, v)``; points with ``z == 0`` give inf/nan.
    """
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"K must be (3, 3), got {K.shape}")
    pts_cam = np.asarray(pts_cam, dtype=np.float64)
    if pts_cam.shape[-1:] != (3,):
        raise ValueError(f"points must be (..., 3), got {pts_cam.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = pts_cam[..., :2] / pts_cam[..., 2:3]
    return xy @ K[:2, :2].T + K[:2, 2]


def _focal_xy(focal: float | np.ndarray) -> tuple[float, float]:
    f = np.asarray(focal, dtype=np.float64).reshape(-1)
    if f.size == 1:
        return float(f[0]), float(f[0])
    if f.size == 2:
        return float(f[0]), float(f[1])
    raise ValueError(f"focal must be a scalar or (fx, fy), got shape {np.shape(focal)}")


def _pp(pp: np.ndarray) -> tuple[float, float]:
    p = np.asarray(pp, dtype=np.float64).reshape(-1)
    if p.size != 2:
        raise ValueError(f"principal point must be (cx, cy), got shape {np.shape(pp)}")
    return float(p[0]), float(p[1])
