"""Fit pinhole cameras to world pointmaps with the per-pixel depths eliminated (variable projection).

For one view with rotation ``R`` (world_from_cam), centre ``c``, focal ``f`` and principal point ``pp``,
pixel ``(u, v)`` looks along the camera-frame ray ``r = ((u - cx) / f, (v - cy) / f, 1)``. Given a target
world point ``Y`` for that pixel, the best depth along the ray is closed-form, ``D = (Z . r) / (r . r)`` with
``Z = R^T (Y - c)``, and what is left is the component of ``Z`` perpendicular to the ray:
``rho = Z - (Z . r) / (r . r) r`` (an object-space error, in world units). The cameras are the few global
unknowns (up to 9 per view); :func:`camera_step` takes one damped Gauss-Newton (Levenberg-Marquardt) step
on them, with analytic Jacobians, honouring fixed focals, fixed poses and a shared focal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POSE_DOF, FOCAL_DOF, PP_DOF = 6, 1, 2
LOCAL_DOF = POSE_DOF + FOCAL_DOF + PP_DOF  # (rotation 3, centre 3, log focal 1, principal point 2)


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot product over the last axis (3-vectors), without numpy's slow small-axis reduction."""
    return np.einsum("...i,...i->...", a, b)


@dataclass
class Cameras:
    """Mutable camera state of N views (all float64).

    Attributes:
        rot: ``(N, 3, 3)`` world_from_cam rotations.
        centre: ``(N, 3)`` camera centres in the world (world units).
        focal: ``(N,)`` pixels.
        pp: ``(N, 2)`` principal points, index coordinates (pixels).
    """

    rot: np.ndarray
    centre: np.ndarray
    focal: np.ndarray
    pp: np.ndarray

    def copy(self) -> Cameras:
        return Cameras(self.rot.copy(), self.centre.copy(), self.focal.copy(), self.pp.copy())

    def rays(self, uv: np.ndarray) -> np.ndarray:
        """``(N, P, 3)`` camera-frame rays (z = 1) of the pixels ``uv`` ``(N, P, 2)``."""
        xy = (uv - self.pp[:, None, :]) / self.focal[:, None, None]
        return np.concatenate([xy, np.ones_like(xy[..., :1])], axis=-1)

    def world_points(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """``(N, P, 3)`` world points of pixels ``uv`` ``(N, P, 2)`` at z-depths ``depth`` ``(N, P)``."""
        cam = self.rays(uv) * depth[..., None]
        return np.matmul(cam, np.swapaxes(self.rot, 1, 2)) + self.centre[:, None, :]


def parameter_layout(num_views: int, fixed_pose, fixed_focal, shared_focal: bool, optimize_pp: bool):
    """``(N, 9)`` int64 index of each view's local parameter in the global vector (-1: fixed), and its size.

    ``fixed_pose`` / ``fixed_focal``: ``(N,)`` bool. With ``shared_focal`` all free focals share one index.
    """
    index = np.full((num_views, LOCAL_DOF), -1, dtype=np.int64)
    count = 0
    for v in range(num_views):
        if not fixed_pose[v]:
            index[v, :POSE_DOF] = np.arange(count, count + POSE_DOF)
            count += POSE_DOF
    shared = -1
    for v in range(num_views):
        if fixed_focal[v]:
            continue
        if shared_focal and shared >= 0:
            index[v, POSE_DOF] = shared
            continue
        index[v, POSE_DOF] = shared = count
        count += 1
    if optimize_pp:
        for v in range(num_views):
            index[v, POSE_DOF + FOCAL_DOF :] = (count, count + 1)
            count += 2
    return index, count


def ray_residuals(cams: Cameras, uv: np.ndarray, target: np.ndarray, weight: np.ndarray):
    """Weighted perpendicular residuals and the per-pixel optimal depths.

    Args:
        uv: ``(N, P, 2)`` pixels; target: ``(N, P, 3)`` world points; weight: ``(N, P)`` >= 0.

    Returns:
        ``(rho (N, P, 3) weighted by sqrt(weight), depth (N, P), Z (N, P, 3), r (N, P, 3))``.
    """
    r = cams.rays(uv)
    Z = np.matmul(target - cams.centre[:, None, :], cams.rot)
    along = dot(Z, r) / dot(r, r)
    rho = (Z - along[..., None] * r) * np.sqrt(weight)[..., None]
    return rho, along, Z, r


def _jacobian(cams: Cameras, Z: np.ndarray, r: np.ndarray, sqrt_w: np.ndarray) -> np.ndarray:
    """``(N, P, 3, 9)`` d rho / d (rotation, centre, log focal, pp), rotation as a right increment."""
    b = dot(r, r)[..., None]
    a = dot(Z, r)[..., None]
    rhat = r / np.sqrt(b)

    def perp(x: np.ndarray) -> np.ndarray:  # (I - rhat rhat^T) x
        return x - rhat * dot(rhat, x)[..., None]

    eye = np.eye(3)
    J = np.empty(Z.shape + (LOCAL_DOF,))
    for k in range(3):
        J[..., k] = perp(np.cross(Z, eye[k]))
        J[..., 3 + k] = -perp(np.broadcast_to(cams.rot[:, None, k, :], Z.shape))

    def d_ray(dr: np.ndarray) -> np.ndarray:
        z_dr = dot(Z, dr)[..., None]
        r_dr = dot(r, dr)[..., None]
        return -((a / b) * dr + r * z_dr / b - 2.0 * r * a * r_dr / b**2)

    zero = np.zeros_like(r[..., :1])
    J[..., 6] = d_ray(np.concatenate([-r[..., :2], zero], axis=-1))
    inv_f = np.broadcast_to(-1.0 / cams.focal[:, None, None], zero.shape)
    J[..., 7] = d_ray(np.concatenate([inv_f, zero, zero], axis=-1))
    J[..., 8] = d_ray(np.concatenate([zero, inv_f, zero], axis=-1))
    return J * sqrt_w[..., None, None]


def _normal_equations(J: np.ndarray, rho: np.ndarray, layout: np.ndarray, size: int):
    """Assemble ``J^T J`` ``(G, G)`` and ``J^T rho`` ``(G,)`` over all views in the global parameter vector."""
    flat_J = J.reshape(J.shape[0], -1, LOCAL_DOF)
    JtJ_local = np.matmul(np.swapaxes(flat_J, 1, 2), flat_J)
    Jtr_local = np.matmul(rho.reshape(rho.shape[0], 1, -1), flat_J)[:, 0]
    H = np.zeros((size, size))
    g = np.zeros(size)
    for v in range(layout.shape[0]):
        free = np.flatnonzero(layout[v] >= 0)
        idx = layout[v, free]
        H[np.ix_(idx, idx)] += JtJ_local[v][np.ix_(free, free)]
        np.add.at(g, idx, Jtr_local[v, free])
    return H, g


def _apply(cams: Cameras, delta_local: np.ndarray) -> Cameras:
    """Cameras moved by local increments ``(N, 9)``."""
    out = cams.copy()
    out.rot = np.matmul(cams.rot, rodrigues(delta_local[:, :3]))
    out.centre = cams.centre + delta_local[:, 3:6]
    out.focal = cams.focal * np.exp(delta_local[:, 6])
    out.pp = cams.pp + delta_local[:, 7:9]
    return out


def rodrigues(axis_angle: np.ndarray) -> np.ndarray:
    """``(N, 3)`` axis-angle vectors (radians) -> ``(N, 3, 3)`` rotation matrices."""
    theta = np.linalg.norm(axis_angle, axis=-1)[:, None, None]
    K = np.zeros(axis_angle.shape[:-1] + (3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -axis_angle[:, 2], axis_angle[:, 1], -axis_angle[:, 0]
    K = K - np.swapaxes(K, 1, 2)
    safe = np.where(theta > 1e-12, theta, 1.0)
    s = np.where(theta > 1e-12, np.sin(theta) / safe, 1.0)
    c = np.where(theta > 1e-12, (1.0 - np.cos(theta)) / safe**2, 0.5)
    return np.eye(3) + s * K + c * (K @ K)


def camera_step(cams: Cameras, uv, target, weight, layout, size: int, damping: float):
    """One Levenberg-Marquardt step on the cameras towards the targets.

    Args:
        uv: ``(N, P, 2)``; target: ``(N, P, 3)`` fused world targets; weight: ``(N, P)``.
        layout, size: from :func:`parameter_layout`.
        damping: LM damping (relative to the diagonal); adapted and returned.

    Returns:
        ``(cameras, depth (N, P), damping)``: the improved cameras (or the input ones when no step reduced
        the cost) and the optimal depths for them.
    """
    rho, depth, Z, r = ray_residuals(cams, uv, target, weight)
    if size == 0:
        return cams, depth, damping
    cost = float(np.sum(rho**2))
    J = _jacobian(cams, Z, r, np.sqrt(weight))
    H, g = _normal_equations(J, rho, layout, size)
    diag = np.diag(H).copy()
    floor = 1e-12 * max(float(diag.max()), 1e-300)
    for _ in range(6):
        step = -np.linalg.solve(H + np.diag(damping * diag + floor), g)
        padded = np.concatenate([step, [0.0]])
        trial = _apply(cams, padded[layout])  # index -1 picks the 0 appended for fixed parameters
        rho_t, depth_t, _, _ = ray_residuals(trial, uv, target, weight)
        if float(np.sum(rho_t**2)) <= cost:
            return trial, depth_t, max(damping / 3.0, 1e-9)
        damping *= 4.0
    return cams, depth, damping
