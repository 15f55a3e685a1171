"""Weighted Procrustes / Umeyama: the similarity (or rigid) transform between two point sets, one problem
(:func:`weighted_umeyama`, checked) or a batch of them (:func:`batched_umeyama`, the one implementation)."""

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
    if with_scale:
        mu_src = (w @ src) / w.sum()
        if not float(w @ np.sum((src - mu_src) ** 2, axis=1)) > 0:
            raise ValueError("cannot estimate a scale from identical source points")
    s, R, t = batched_umeyama(src[None], dst[None], w[None], with_scale=with_scale)
    return float(s[0]), R[0], t[0]


def batched_umeyama(
    src: np.ndarray,
    dst: np.ndarray,
    weights: np.ndarray | None = None,
    with_scale: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """THE Umeyama fit, for E problems at once: ``(s, R, t)`` minimising ``sum_m w_em ||dst_em - (s_e R_e
    src_em + t_e)||^2`` for every problem ``e``, ``R_e`` a proper rotation. No checks (the callers' inner
    loops: the alignment's pair similarities, PnP hypotheses); :func:`weighted_umeyama` checks one problem.

    Args:
        src, dst: ``(E, M, 3)`` float64 corresponding points (rows of zero weight may hold anything finite).
        weights: ``(E, M)`` non-negative, a positive sum per problem; None: all ones.
        with_scale: estimate the scales; when False, ``s = 1``.

    Returns:
        ``s (E,)``, ``R (E, 3, 3)``, ``t (E, 3)`` float64, so that ``dst_e ~ s_e * src_e @ R_e.T + t_e``; a
        degenerate problem (no spread in ``src``) gives a huge or non-finite scale, never an exception.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    w = np.ones(src.shape[:2]) if weights is None else np.asarray(weights, dtype=np.float64)
    wsum = np.maximum(w.sum(axis=1), 1e-300)
    mu_src = np.matmul(w[:, None, :], src)[:, 0] / wsum[:, None]
    mu_dst = np.matmul(w[:, None, :], dst)[:, 0] / wsum[:, None]
    src_c = src - mu_src[:, None]
    dst_c = dst - mu_dst[:, None]
    w_src = w[..., None] * src_c
    cov = np.matmul(np.swapaxes(dst_c, 1, 2), w_src) / wsum[:, None, None]  # (E, 3, 3), dst x src
    U, S, Vt = np.linalg.svd(cov)
    d = np.ones((len(src), 3))
    d[:, 2] = np.sign(np.linalg.det(U) * np.linalg.det(Vt))
    d[d[:, 2] == 0, 2] = 1.0
    R = np.einsum("eij,ej,ejk->eik", U, d, Vt)
    if with_scale:
        var_src = np.sum(w_src * src_c, axis=(1, 2)) / wsum
        s = np.sum(S * d, axis=1) / np.maximum(var_src, 1e-300)
    else:
        s = np.ones(len(src))
    t = mu_dst - s[:, None] * np.einsum("eij,ej->ei", R, mu_src)
    return s, R, t
