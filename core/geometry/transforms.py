"""Rigid transforms as 4x4 homogeneous matrices (numpy float64).

Names of transforms carry their frames: ``dst_from_src`` maps points expressed in frame ``src`` to frame
``dst`` (``x_dst = R @ x_src + t``), and ``c_from_a = c_from_b @ b_from_a``.
"""

from __future__ import annotations

import numpy as np


def _check_last_dims(name: str, arr: np.ndarray, dims: tuple[int, ...]) -> None:
    if arr.ndim < len(dims) or arr.shape[arr.ndim - len(dims) :] != dims:
        raise ValueError(f"{name} must have shape (..., {', '.join(map(str, dims))}), got {arr.shape}")


def skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices: ``(..., 3)`` -> ``(..., 3, 3)`` float64 with ``skew(v) @ x == cross(v, x)``."""
    v = np.asarray(v, dtype=np.float64)
    out = np.zeros(v.shape[:-1] + (3, 3))
    out[..., 0, 1], out[..., 0, 2], out[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    out[..., 1, 0], out[..., 2, 0], out[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return out


def make_rigid(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The 4x4 transform ``[[R, t], [0, 1]]``.

    Args:
        R: ``(3, 3)`` rotation.
        t: ``(3,)`` translation.

    Returns:
        ``(4, 4)`` float64.
    """
    R = np.asarray(R, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64).reshape(-1)
    if R.shape != (3, 3) or t.shape != (3,):
        raise ValueError(f"make_rigid needs R (3, 3) and t (3,), got {R.shape} and {t.shape}")
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = t
    return T


def invert_rigid(T: np.ndarray) -> np.ndarray:
    """Inverse of rigid transforms (``src_from_dst`` from ``dst_from_src``) without a general inverse.

    Args:
        T: ``(..., 4, 4)`` rigid transforms (rotation block orthonormal).

    Returns:
        ``(..., 4, 4)`` float64.
    """
    T = np.asarray(T, dtype=np.float64)
    _check_last_dims("T", T, (4, 4))
    R_inv = np.swapaxes(T[..., :3, :3], -1, -2)
    out = np.zeros_like(T)
    out[..., :3, :3] = R_inv
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", R_inv, T[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def transform_points(dst_from_src: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply one 4x4 transform to points.

    Args:
        dst_from_src: ``(4, 4)`` transform (rigid or similarity; the last row is ignored).
        pts: ``(..., 3)`` points in frame ``src``.

    Returns:
        ``(..., 3)`` float64 points in frame ``dst``.
    """
    T = np.asarray(dst_from_src, dtype=np.float64)
    if T.shape != (4, 4):
        raise ValueError(f"dst_from_src must be (4, 4), got {T.shape}")
    pts = np.asarray(pts, dtype=np.float64)
    _check_last_dims("pts", pts, (3,))
    return pts @ T[:3, :3].T + T[:3, 3]


def rotation_angle_deg(R: np.ndarray) -> np.ndarray | float:
    """Angle of rotations in degrees, in ``[0, 180]``.

    Args:
        R: ``(..., 3, 3)`` rotations (or the rotation block of ``(..., 4, 4)`` transforms).

    Returns:
        a float for one rotation, else a ``(...)`` float64 array.
    """
    R = np.asarray(R, dtype=np.float64)
    if R.shape[-2:] == (4, 4):
        R = R[..., :3, :3]
    _check_last_dims("R", R, (3, 3))
    cos = (np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0
    angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return float(angle) if np.ndim(angle) == 0 else angle
