"""Weighted Procrustes / Umeyama: the similarity (or rigid) transform between two point sets."""

from __future__ import annotations

import numpy as np


def weighted_umeyama(
    src: np.ndarray,
    dst: np.ndarray,
    weights: np.ndarray | None = None,
    with_scale: bool = True,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Closed-form ``(s, R, t)`` minimising ``sum_k w_k ||dst_k - (s R src_k + t)||^2``.

    Umeyama (1991) with per-point weights. ``R`` is a proper rotation (det +1, reflections are excluded).

    Args:
        src: ``(M, 3)`` points in frame ``src`` (float32 or float64).
        dst: ``(M, 3)`` corresponding points in frame ``dst``.
        weights: ``(M,)`` non-negative weights, or None for all ones.
        with_scale: estimate the scale ``s``; when False, ``s = 1`` (rigid Procrustes).

    Returns:
        ``(s, R, t)``: float scale, ``(3, 3)`` float64 rotation, ``(3,)`` float64 translation, so that
        ``dst ~ s * src @ R.T + t``. ``dst_from_src = make_rigid(s * R, t)`` as a 4x4 similarity.

    Raises:
        ValueError: shapes mismatch, fewer than 3 points with positive weight, negative or non-finite weights,
            or a degenerate (all-identical) source set when ``with_scale``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.ndim != 2 or src.shape[1] != 3 or src.shape != dst.shape:
        raise ValueError(f"src and dst must both be (M, 3), got {src.shape} and {dst.shape}")
    if weights is None:
        w = np.ones(src.shape[0])
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape[0] != src.shape[0]:
            raise ValueError(f"weights must be ({src.shape[0]},), got {np.shape(weights)}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite and non-negative")
    if np.count_nonzero(w > 0) < 3:
        raise ValueError(f"need at least 3 points with a positive weight, got {np.count_nonzero(w > 0)}")
    if not (np.all(np.isfinite(src[w > 0])) and np.all(np.isfinite(dst[w > 0]))):
        raise ValueError("src and dst must be finite where the weight is positive")
    keep = w > 0
    src, dst, w = src[keep], dst[keep], w[keep]
    w_sum = w.sum()

    mu_src = (w @ src) / w_sum
    mu_dst = (w @ dst) / w_sum
    src_c = src - mu_src
    dst_c = dst - mu_dst
    cov = (dst_c * w[:, None]).T @ src_c / w_sum  # (3, 3), dst x src
    U, S, Vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        d[2] = -1.0
    R = (U * d) @ Vt
    if with_scale:
        var_src = float(w @ np.sum(src_c**2, axis=1)) / w_sum
        if not var_src > 0:
            raise ValueError("cannot estimate a scale from identical source points")
        s = float(np.sum(S * d) / var_src)
    else:
        s = 1.0
    t = mu_dst - s * R @ mu_src
    return s, R, t
