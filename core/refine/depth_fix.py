"""Dense points consistent with the refined cameras.

After the bundle adjustment each view's aligned depth map is corrected by a smooth multiplicative field fitted
to the triangulated tracks that view observed (``log(z_track / z_aligned)`` as a low-order polynomial of the
pixel position, robustly), then its points are re-cast along the REFINED camera's rays (with the lens model),
so that the point cloud projects onto the photo through the refined camera and agrees with the tracks.
"""

from __future__ import annotations

import numpy as np

from ..geometry.distortion import pixel_rays
from ..geometry.transforms import transform_points
from .pyramid import sample

_MIN_FOR_PLANE = 12
_MIN_FOR_QUADRIC = 60


def _design(u: np.ndarray, v: np.ndarray, terms: int) -> np.ndarray:
    cols = [np.ones_like(u), u, v, u * u, u * v, v * v][:terms]
    return np.stack(cols, axis=-1)


def depth_correction(
    depth: np.ndarray, uv_net: np.ndarray, z_track: np.ndarray, iterations: int = 5
) -> np.ndarray:
    """The smooth factor that brings ``depth`` onto the tracks.

    Args:
        depth: ``(H, W)`` aligned z-depth of the network pixels.
        uv_net: ``(K, 2)`` network pixels (index coordinates) where the view observed tracks.
        z_track: ``(K,)`` z-depth of those tracks in the refined camera.
        iterations: reweighting rounds of the robust (Huber) fit.

    Returns:
        ``(H, W)`` float64 factor (1 where there are too few tracks).
    """
    h, w = depth.shape
    z_aligned = sample(np.asarray(depth, np.float32), uv_net).astype(np.float64)
    ok = (z_aligned > 0) & (z_track > 0) & np.isfinite(z_track)
    if ok.sum() < 3:
        return np.ones((h, w))
    y = np.log(z_track[ok] / z_aligned[ok])
    terms = 6 if ok.sum() >= _MIN_FOR_QUADRIC else (3 if ok.sum() >= _MIN_FOR_PLANE else 1)
    su, sv = 2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)
    X = _design(uv_net[ok, 0] * su - 1.0, uv_net[ok, 1] * sv - 1.0, terms)
    weights = np.ones(len(y))
    coef = np.zeros(terms)
    for _ in range(iterations):
        sw = np.sqrt(weights)
        coef = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)[0]
        r = np.abs(y - X @ coef)
        c = max(1.5 * 1.4826 * np.median(r), 1e-6)
        weights = np.minimum(1.0, c / np.maximum(r, 1e-12))
    gv, gu = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.exp(_design(gu * su - 1.0, gv * sv - 1.0, terms) @ coef)


def points_from_depth(depth: np.ndarray, K_net: np.ndarray, dist, world_from_cam: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float32 world points of a depth map along the rays of ``K_net`` with ``dist``."""
    h, w = depth.shape
    gv, gu = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = pixel_rays(np.stack([gu, gv], axis=-1), K_net, dist)
    return transform_points(world_from_cam, rays * np.asarray(depth, np.float64)[..., None]).astype(
        np.float32
    )
