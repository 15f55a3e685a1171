"""Where to look: well-textured pixels of each view, their aligned 3-D points, and first guesses of where the
other views see them (reprojection through the aligned cameras, with an occlusion check on the aligned depth).

For each chosen pixel of a host view we also fit the local plane of the aligned points around it; through the
other camera that plane gives the local affine map between the two images (scale, rotation, slant) that the
patch matcher (:mod:`.lucas_kanade`) uses. Pixels where the points are not locally planar (depth edges,
flying pixels) are not used: a patch across an occlusion edge moves differently in the two views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.distortion import project_distorted
from ..geometry.transforms import invert_rigid
from .keypoints import grid_keypoints, shi_tomasi_score
from .pyramid import inside, sample
from .views import RefineView

_CELLS_ACROSS = 50


@dataclass(frozen=True)
class SeedParams:
    """Attributes:
    cell: one point per ``cell x cell`` block of the refinement image (pixels; larger on images of more than
        50 cells across).
    spacing: only local maxima of the texture score over ``2 spacing + 1`` pixels are points.
    max_points: points per host view at most (those that other views see are preferred).
    min_texture: Shi-Tomasi score (grey in [0, 1]) a point needs.
    margin: pixels kept clear of the image border.
    min_conf: confidence a network pixel needs to give a point.
    planar_tol: RMS distance of the local points to their plane, relative to depth, above which a point is
        not used.
    occlusion_tol: relative depth difference above which a point counts as hidden in the other view.
    """

    cell: int = 5
    spacing: int = 2
    max_points: int = 1500
    min_texture: float = 1e-5
    margin: int = 8
    min_conf: float = 1.0
    planar_tol: float = 0.03
    occlusion_tol: float = 0.1


@dataclass(frozen=True)
class HostPoints:
    """Points of one host view.

    Attributes:
        xy: ``(M, 2)`` float64 pixels of the refinement image (integers: the patch is sampled exactly).
        X: ``(M, 3)`` float64 aligned world points.
        dX_dxy: ``(M, 3, 2)`` float64 derivative of the world point along the image's x and y (local plane).
    """

    xy: np.ndarray
    X: np.ndarray
    dX_dxy: np.ndarray

    def __len__(self) -> int:
        return len(self.xy)

    def subset(self, index: np.ndarray) -> HostPoints:
        return HostPoints(xy=self.xy[index], X=self.X[index], dX_dxy=self.dX_dxy[index])


def _sample_map(values: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear samples of an ``(H, W, C)`` map at ``uv`` ``(..., 2)`` -> ``(..., C)`` float64."""
    return np.stack([sample(values[..., c], uv) for c in range(values.shape[-1])], axis=-1).astype(np.float64)


def host_points(view: RefineView, grey: np.ndarray, params: SeedParams, window: int) -> HostPoints:
    """Choose well-textured, locally planar, confident pixels of ``view`` and fit their local planes.

    Args:
        view: the view (its image's pixels map to its network pixels through ``view.frame``).
        grey: ``(Hr, Wr)`` float32 grey refinement image (the level 0 the matcher uses).
        params: grid, thresholds.
        window: the matcher's patch side (pixels); the local plane is fitted over about that width.
    """
    # cells scale with the image (about _CELLS_ACROSS across the long side), never below params.cell
    cell = max(params.cell, int(round(max(grey.shape) / _CELLS_ACROSS)))
    spacing = max(params.spacing, cell // 2)
    kp = grid_keypoints(shi_tomasi_score(grey), cell, params.min_texture, params.margin, spacing=spacing)
    kp = kp.astype(np.float64)
    h2, w2 = view.depth.shape
    uv = view.frame.net_from_image(kp)
    ok = inside(uv, (h2, w2), margin=1.0)
    ij = np.clip(np.rint(uv).astype(np.int64), 0, [w2 - 1, h2 - 1])
    ok &= view.conf[ij[:, 1], ij[:, 0]] > params.min_conf
    kp, uv = kp[ok], uv[ok]
    # local plane of the world points over a 5x5 grid of network offsets, about a patch wide
    sx, sy = view.frame.net_px_per_image_px
    step = max(1.0, 0.25 * window * max(sx, sy))
    g = np.arange(-2, 3, dtype=np.float64) * step
    gy, gx = np.meshgrid(g, g, indexing="ij")
    d = np.stack([gx.ravel(), gy.ravel()], axis=-1)  # (25, 2) network pixels
    pts = _sample_map(np.asarray(view.pts3d, np.float32), uv[:, None, :] + d[None])  # (M, 25, 3)
    centre = pts.mean(axis=1)
    dX_duv = np.einsum("mpc,pk->mck", pts - centre[:, None], d) / np.sum(d[:, 0] ** 2)  # (M, 3, 2)
    resid = pts - centre[:, None] - np.einsum("mck,pk->mpc", dX_duv, d)
    depth = np.abs(np.einsum("c,mc->m", view.world_from_cam[:3, 2], centre - view.world_from_cam[:3, 3]))
    rms = np.sqrt(np.mean(np.sum(resid**2, axis=-1), axis=1)) / np.maximum(depth, 1e-12)
    planar = np.isfinite(rms) & (rms < params.planar_tol) & (depth > 0)
    keep = np.flatnonzero(planar)
    dX_dxy = dX_duv[keep] * np.array([sx, sy])[None, None, :]
    return HostPoints(xy=kp[keep], X=centre[keep], dX_dxy=dX_dxy)


def project_points(view: RefineView, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World points ``(M, 3)`` -> pixels of the view's refinement image ``(M, 2)`` (through its lens), their
    depth ``(M,)`` and the projection's derivative ``(M, 2, 3)`` with respect to the world point (of the
    pinhole part: the lens changes it by a few percent at most, which the matcher does not need)."""
    cam_from_world = invert_rigid(view.world_from_cam)
    R = cam_from_world[:3, :3]
    xc = X @ R.T + cam_from_world[:3, 3]
    z = xc[:, 2]
    zs = np.where(np.abs(z) > 1e-12, z, 1e-12)
    fx, fy = view.K[0, 0], view.K[1, 1]
    q = project_distorted(view.K, np.concatenate([xc[:, :2], zs[:, None]], axis=1), view.dist)
    J = np.zeros((len(X), 2, 3))
    J[:, 0, 0], J[:, 0, 2] = fx / zs, -fx * xc[:, 0] / zs**2
    J[:, 1, 1], J[:, 1, 2] = fy / zs, -fy * xc[:, 1] / zs**2
    return q, z, J @ R


def predict_in(
    target: RefineView, host: HostPoints, params: SeedParams, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First guesses of where ``target`` sees the host's points.

    Returns:
        ``(q, A, visible)``: ``(M, 2)`` pixels of the target's refinement image, ``(M, 2, 2)`` local affine maps
        (target pixels per host pixel), ``(M,)`` bool: in front of the camera, inside the image and the network
        crop, not hidden by the target's own aligned surface, and a well-conditioned affine map.
    """
    q, z, dq_dX = project_points(target, host.X)
    A = dq_dX @ host.dX_dxy
    w, h = target.image_size
    visible = (z > 0) & inside(q, (h, w), margin=window // 2 + 2)
    visible &= _unoccluded(target, q, z, params.occlusion_tol)
    # the whole patch must be visible: its corners (on the host's local plane) too
    half = window // 2 + 1
    for corner in ((-half, -half), (half, -half), (-half, half), (half, half)):
        Xc = host.X + host.dX_dxy @ np.asarray(corner, dtype=np.float64)
        qc, zc, _ = project_points(target, Xc)
        visible &= (zc > 0) & _unoccluded(target, qc, zc, params.occlusion_tol)
    sv = np.linalg.svd(np.where(np.isfinite(A), A, 0.0), compute_uv=False)
    visible &= (np.linalg.det(A) > 0) & (sv[:, 1] > 0.25) & (sv[:, 0] < 4.0)
    return q, A, visible


def _unoccluded(target: RefineView, q: np.ndarray, z: np.ndarray, tol: float) -> np.ndarray:
    """``(M,)`` bool: pixels ``q`` of the target at depth ``z`` lie inside its network crop, on its own aligned
    surface (relative depth difference under ``tol``)."""
    h2, w2 = target.depth.shape
    uv = target.frame.net_from_image(q)
    ok = inside(uv, (h2, w2))
    depth = sample(np.asarray(target.depth, np.float32), uv).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ok & (np.abs(z / depth - 1.0) < tol)
