"""Exact pairwise predictions of a small synthetic scene, for alignment tests that need nothing outside the
repository (``from tests.exact_pairs import exact_predictions``; tests/conftest.py puts the root on sys.path).

The scene is a wall (z = 6) and a floor (y = 1.5, OpenCV axes: y down) seen by cameras near the origin looking
along +z, pinhole with focal :data:`FOCAL` and the principal point at ``(W / 2, H / 2)`` (index coordinates,
the network's convention). Each ordered pair holds both views' points in camera ``i``'s frame, in its own
random scale, with confidence 10 everywhere.
"""

from __future__ import annotations

import numpy as np

from core.predictions import PairPrediction

H, W, FOCAL = 24, 32, 30.0


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    about_y = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    about_x = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    return about_y @ about_x


def _world_points(R: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` world points of a pinhole camera: the nearer of a wall (z = 6) and a floor (y = 1.5)."""
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    rays_cam = np.stack([(u - W / 2) / FOCAL, (v - H / 2) / FOCAL, np.ones_like(u)], axis=-1)
    rays = rays_cam @ R.T
    with np.errstate(divide="ignore"):
        t_wall = (6.0 - centre[2]) / rays[..., 2]
        t_floor = np.where(rays[..., 1] > 1e-9, (1.5 - centre[1]) / rays[..., 1], np.inf)
    t = np.minimum(np.where(t_wall > 0, t_wall, np.inf), np.where(t_floor > 0, t_floor, np.inf))
    return centre + t[..., None] * rays


def exact_predictions(n: int = 4, pairs=None, seed: int = 0) -> tuple[list[PairPrediction], np.ndarray]:
    """Exact, symmetrized pair predictions of ``n`` views (every ordered pair unless ``pairs`` is given),
    each pair in its own random scale, confidence 10 everywhere; and the ``(n, 4, 4)`` true world_from_cam."""
    rng = np.random.default_rng(seed)
    poses, world = [], []
    for _ in range(n):
        R = _rotation(rng.uniform(-0.25, 0.25), rng.uniform(-0.15, 0.15))
        centre = rng.uniform(-0.6, 0.6, size=3)
        T = np.eye(4)
        T[:3, :3], T[:3, 3] = R, centre
        poses.append(T)
        world.append(_world_points(R, centre))
    if pairs is None:
        pairs = [(i, j) for i in range(n) for j in range(i)]
    ordered = [*pairs, *[(j, i) for i, j in pairs]]
    preds = []
    for i, j in ordered:
        R, c = poses[i][:3, :3], poses[i][:3, 3]
        scale = rng.uniform(0.5, 2.0)
        in_cam_i = [((X - c) @ R * scale).astype(np.float32) for X in (world[i], world[j])]
        conf = np.full((H, W), 10.0, np.float32)
        preds.append(PairPrediction(i, j, in_cam_i[0], conf, in_cam_i[1], conf.copy()))
    return preds, np.stack(poses)
