"""Level and scale of a reconstruction: the transform of its parent empty, in plain numpy (no bpy).

A reconstruction's world has an arbitrary rotation, origin and scale. "Level" finds which way is up and
where the ground is, in the reconstruction's own frame (the root empty's local space), and returns the
similarity ``world_from_root`` that stands it upright with the ground at Z = 0: up from the ground plane
(the largest plane, found by RANSAC, whose normal is within ``MAX_TILT_DEG`` of the cameras' average up
vector, below the cameras, the lowest of comparable ones: a floor rather than a table top), or from the
cameras alone when no such plane holds enough points; the first camera's viewing direction, made
horizontal, points along +Y; the points' horizontal median sits on the origin; the scale is kept. "Set scale" multiplies the whole
transform about the world origin, so the ground stays at Z = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_TILT_DEG = 30.0  # a ground plane's normal is at most this far from the cameras' up
MIN_GROUND_FRACTION = 0.05  # of the sampled points, for a plane to count as the ground
RANSAC_ITERATIONS = 300
MAX_SAMPLES = 20000
INLIER_TOLERANCE = 0.005  # of the points' extent (5th-95th percentile box diagonal)
GROUND_PERCENTILE = 1.0  # ground height without a plane: this percentile of the points' heights


@dataclass(frozen=True)
class Level:
    """What leveling found, in the root's local frame: ``up`` (3,) unit, the ground height along it, and
    whether a ground plane (not only the cameras) gave them."""

    up: np.ndarray
    ground: float
    from_plane: bool


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0:
        raise ValueError("cannot normalise a zero or non-finite vector")
    return np.asarray(v, dtype=np.float64) / n


def cameras_up(cam_up: np.ndarray) -> np.ndarray:
    """The average of the cameras' up vectors ``(N, 3)`` (each normalised), as a unit vector."""
    ups = np.asarray(cam_up, dtype=np.float64)
    ups = ups / np.linalg.norm(ups, axis=1, keepdims=True)
    return _unit(ups.mean(axis=0))


def fit_ground_plane(
    points: np.ndarray, up_hint: np.ndarray, cam_centres: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, float] | None:
    """The ground plane ``(normal, offset)`` (``normal . p = offset``, normal towards ``up_hint``) of
    ``points`` ``(M, 3)``: a plane within ``MAX_TILT_DEG`` of ``up_hint`` below the median camera centre
    (``cam_centres`` ``(N, 3)``: not a ceiling) holding ``MIN_GROUND_FRACTION`` of the points, the lowest of
    those about as large as the largest; None when there is none."""
    pts = np.asarray(points, dtype=np.float64)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts) < 3:
        return None
    rng = np.random.default_rng(seed)
    if len(pts) > MAX_SAMPLES:
        pts = pts[rng.choice(len(pts), MAX_SAMPLES, replace=False)]
    lo, hi = np.percentile(pts, [5, 95], axis=0)
    tol = INLIER_TOLERANCE * max(float(np.linalg.norm(hi - lo)), 1e-12)
    cos_max = np.cos(np.deg2rad(MAX_TILT_DEG))
    tri = pts[rng.integers(0, len(pts), (RANSAC_ITERATIONS, 3))]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    ok = lengths > 0
    normals[ok] /= lengths[ok, None]
    normals *= np.sign(normals @ up_hint)[:, None]
    ok &= normals @ up_hint >= cos_max
    if not ok.any():
        return None
    normals, offsets = normals[ok], np.einsum("ij,ij->i", normals[ok], tri[ok, 0])
    below = np.median(np.asarray(cam_centres, dtype=np.float64) @ normals.T, axis=0) > offsets
    if not below.any():
        return None
    normals, offsets = normals[below], offsets[below]
    counts = (np.abs(pts @ normals.T - offsets) <= tol).sum(axis=0)
    if counts.max() < MIN_GROUND_FRACTION * len(pts):
        return None
    comparable = np.flatnonzero(counts >= 0.5 * counts.max())
    best = comparable[np.argmin(offsets[comparable])]  # the lowest of the large planes: the floor
    inliers = pts[np.abs(pts @ normals[best] - offsets[best]) <= tol]
    centre = inliers.mean(axis=0)
    normal = np.linalg.svd(inliers - centre, full_matrices=False)[2][-1]  # least-squares refinement
    normal = normal if normal @ up_hint >= 0 else -normal
    return normal, float(normal @ centre)


def find_level(points: np.ndarray, cam_up: np.ndarray, cam_centres: np.ndarray) -> Level:
    """Up and ground of a reconstruction from its confident points ``(M, 3)`` and cameras' up vectors and
    centres ``(N, 3)``, all in the root's local frame."""
    up = cameras_up(cam_up)
    plane = fit_ground_plane(points, up, cam_centres)
    if plane is not None:
        return Level(up=plane[0], ground=plane[1], from_plane=True)
    heights = np.asarray(points, dtype=np.float64) @ up
    heights = heights[np.isfinite(heights)]
    ground = float(np.percentile(heights, GROUND_PERCENTILE)) if heights.size else 0.0
    return Level(up=up, ground=ground, from_plane=False)


def rotation_up_to_z(up: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """The rotation ``(3, 3)`` taking ``up`` to +Z and ``forward`` (made horizontal) to +Y."""
    z = _unit(up)
    f = np.asarray(forward, dtype=np.float64) - (np.asarray(forward) @ z) * z
    if np.linalg.norm(f) < 1e-9:  # looking straight down or up: any horizontal direction will do
        f = np.cross(z, [1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.cross(z, [0.0, 1.0, 0.0])
    y = _unit(f)
    x = np.cross(y, z)
    return np.stack([x, y, z])  # rows: the new axes in the old frame, so R @ v expresses v in the new frame


def level_transform(level: Level, points: np.ndarray, forward: np.ndarray, scale: float) -> np.ndarray:
    """``world_from_root`` ``(4, 4)``: rotation of :func:`rotation_up_to_z`, uniform ``scale``, ground at
    Z = 0 and the points' horizontal median at the origin."""
    R = rotation_up_to_z(level.up, forward)
    rotated = np.asarray(points, dtype=np.float64) @ R.T
    rotated = rotated[np.isfinite(rotated).all(axis=1)]
    centre_xy = np.median(rotated[:, :2], axis=0) if len(rotated) else np.zeros(2)
    M = np.eye(4)
    M[:3, :3] = scale * R
    M[:3, 3] = -scale * np.array([centre_xy[0], centre_xy[1], level.ground])
    return M


def scaled_about_origin(world_from_root: np.ndarray, factor: float) -> np.ndarray:
    """``world_from_root`` scaled by ``factor`` about the world origin (the ground stays at Z = 0)."""
    if not (np.isfinite(factor) and factor > 0):
        raise ValueError(f"scale factor must be a positive number, got {factor}")
    S = np.diag([factor, factor, factor, 1.0])
    return S @ np.asarray(world_from_root, dtype=np.float64)
