"""Sub-pixel patch alignment between two images: pyramidal Lucas-Kanade, inverse compositional, vectorised.

Each match is a point ``p`` of image A (the template) and a first guess ``q0`` of where it lies in image B.
The patch around ``p`` is compared with image B through a FIXED local affine map ``A`` (2x2, B pixels per A
pixel: ``q + A d`` in B shows ``p + d`` in A), which the caller predicts from the aligned geometry (it carries
the change of scale, rotation and slant between the views); only the translation ``q`` is solved, coarse to
fine. Patches are compared after removing their mean and dividing by their standard deviation, so a change of
exposure or white balance between photos does not bias the result. Pixels are in index coordinates ``(x, y)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pyramid import from_level, inside, sample, to_level
from .search import ncc_search
from .warps import AffineWarp, template_levels

# the exhaustive search runs on the pyramid level where its radius is at most this many pixels
_MAX_SEARCH = 8


@dataclass(frozen=True)
class PatchParams:
    """How the matcher runs.

    Attributes:
        window: patch side in pixels (odd, >= 3), the same on every level.
        levels: pyramid levels used (1 = full resolution only); the search reaches about
            ``window / 2 * 2**(levels - 1)`` pixels.
        iterations: Gauss-Newton steps per level at most (a point stops once its step is under 0.01 px).
        min_ncc: normalised cross-correlation of the final patches below which a match is dropped.
        fb_tol: forward-backward check, pixels of A (<= 0 skips the check).
    """

    window: int = 9
    levels: int = 3
    iterations: int = 12
    min_ncc: float = 0.9
    fb_tol: float = 0.5


def _offsets(window: int) -> tuple[np.ndarray, np.ndarray]:
    """``(w*w, 2)`` float32 patch offsets ``(dx, dy)`` (row-major) and their ``(w*w,)`` Gaussian weights
    (sum 1)."""
    if window < 3 or window % 2 == 0:
        raise ValueError(f"the patch window must be odd and at least 3 pixels, got {window}")
    half = window // 2
    dy, dx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    d = np.stack([dx.ravel(), dy.ravel()], axis=-1)
    sigma = max(0.6 * half, 1.0)
    weights = np.exp(-0.5 * np.sum(d * d, axis=-1) / sigma**2).astype(np.float32)
    return d, weights / weights.sum()


def _normalise(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Patches ``(M, P)`` -> zero-mean unit-variance patches (weighted) and their standard deviations ``(M,)``."""
    centred = values - (values @ weights)[:, None]
    std = np.sqrt(np.maximum((centred * centred) @ weights, 1e-12))
    return centred / std[:, None], std


def _template(image: np.ndarray, p: np.ndarray, window: int, weights: np.ndarray):
    """Normalised template values ``(M, P)``, weighted gradients ``(M, P, 2)`` and inverse Hessians ``(M, 2, 2)``.

    One sample of a patch one pixel wider on each side gives the values and their central differences.
    """
    half = window // 2 + 1
    dy, dx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float32)
    big = sample(image, p[:, None, :] + np.stack([dx.ravel(), dy.ravel()], axis=-1)[None])
    big = big.reshape(len(p), window + 2, window + 2)
    values = big[:, 1:-1, 1:-1].reshape(len(p), -1)
    gx = 0.5 * (big[:, 1:-1, 2:] - big[:, 1:-1, :-2]).reshape(len(p), -1)
    gy = 0.5 * (big[:, 2:, 1:-1] - big[:, :-2, 1:-1]).reshape(len(p), -1)
    t_norm, std = _normalise(values, weights)
    gx, gy = gx / std[:, None], gy / std[:, None]
    hxx, hyy, hxy = (gx * gx) @ weights, (gy * gy) @ weights, (gx * gy) @ weights
    det = hxx * hyy - hxy * hxy
    ok = det > 1e-8 * np.maximum(hxx + hyy, 1e-12) ** 2
    safe = np.where(ok, det, 1.0)
    inv = np.stack([np.stack([hyy, -hxy], -1), np.stack([-hxy, hxx], -1)], -2) / safe[:, None, None]
    inv[~ok] = 0.0
    return t_norm, np.stack([gx * weights, gy * weights], axis=-1), inv


def _align_level(img_a, img_b, p, warp, q, window, iterations, level, k, with_ncc=False):
    """Gauss-Newton on one level of B (``level``; A's patch is taken ``k`` levels higher): returns the new
    ``q`` ``(M, 2)`` (coordinates of B's level) and, with ``with_ncc``, the ``(M,)`` weighted normalised
    cross-correlation of the patches at it (the same figure as :func:`patch_ncc`, without sampling the
    template and the warp again); else None."""
    d, weights = _offsets(window)
    t_norm, wgrad, inv_hess = _template(img_a, p, window, weights)
    q = q.copy()
    active = np.arange(len(p))
    offsets_b = (warp.offsets(d * 2.0 ** (level + k)) / 2.0**level).astype(np.float32)  # (M, P, 2)
    A = warp.A * 2.0**k  # B's level pixels per pixel of A's level
    for _ in range(iterations):
        if len(active) == 0:
            break
        values = sample(img_b, q[active, None, :].astype(np.float32) + offsets_b[active])
        i_norm, _ = _normalise(values, weights)
        err = (i_norm - t_norm[active])[..., None]
        b = (wgrad[active] * err).sum(axis=1)  # (m, 2)
        delta = (inv_hess[active] * b[:, None, :]).sum(-1)
        step = (A[active] * delta[:, None, :]).sum(-1)
        q[active] -= step
        active = active[np.hypot(step[:, 0], step[:, 1]) > 0.01]
    if not with_ncc:
        return q, None
    i_norm, _ = _normalise(sample(img_b, q[:, None, :].astype(np.float32) + offsets_b), weights)
    return q, (t_norm * i_norm) @ weights


def align_patches(
    pyr_a, pyr_b, p, warp, q0, params: PatchParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the patches around ``p`` in image A lie in image B, to a fraction of a pixel.

    Args:
        pyr_a, pyr_b: pyramids (lists of ``(H, W)`` float32, level 0 first) of images A and B.
        p: ``(M, 2)`` points of A, level-0 index coordinates.
        warp: how the patches of A look in B (:mod:`.warps`; an ``(M, 2, 2)`` array is an affine map).
        q0: ``(M, 2)`` first guesses in B, level-0 index coordinates.
        params: window, levels, iterations, thresholds.

    Returns:
        ``(q, ok, ncc)``: ``(M, 2)`` float64 positions in B, ``(M,)`` bool (inside B, correlation at least
        ``params.min_ncc``), ``(M,)`` float64 final normalised cross-correlation.
    """
    p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    q0 = np.asarray(q0, dtype=np.float64).reshape(-1, 2)
    warp = as_warp(warp)
    if len(p) == 0:
        return q0.copy(), np.zeros(0, dtype=bool), np.zeros(0)
    levels = min(params.levels, len(pyr_b))
    k_all = template_levels(warp.A, len(pyr_a) - 1)
    q_out = q0.copy()
    ncc = np.zeros(len(p))
    for k in np.unique(k_all):
        sel = np.flatnonzero(k_all == k)
        w_k = warp.subset(sel)
        q = to_level(q0[sel], levels - 1)
        for level in range(levels - 1, -1, -1):
            ka = min(level + int(k), len(pyr_a) - 1)
            q, last_ncc = _align_level(pyr_a[ka], pyr_b[level], to_level(p[sel], ka), w_k, q, params.window,
                                       params.iterations, level, ka - level, with_ncc=level == 0)  # fmt: skip
            if level > 0:
                q = to_level(from_level(q, level), level - 1)
        q_out[sel] = q
        ncc[sel] = last_ncc
    margin = params.window // 2 + 1
    ok = inside(q_out, pyr_b[0].shape, margin) & (ncc >= params.min_ncc)
    return q_out, ok, ncc


def as_warp(warp):
    """An :mod:`.warps` object, or an ``(M, 2, 2)`` array taken as affine maps."""
    return warp if hasattr(warp, "offsets") else AffineWarp(warp)


def patch_ncc(img_a, img_b, p, warp, q, window: int, k: int = 0) -> np.ndarray:
    """``(M,)`` weighted normalised cross-correlation of the patch at ``p`` in A (level ``k`` of A's pyramid,
    ``p`` in that level's coordinates) and its image at ``q`` in B (level 0)."""
    d, weights = _offsets(window)
    a_vals, _ = _normalise(sample(img_a, p[:, None, :] + d[None]), weights)
    offsets_b = as_warp(warp).offsets(d * 2.0**k)
    b_vals, _ = _normalise(sample(img_b, q[:, None, :] + offsets_b), weights)
    return (a_vals * b_vals) @ weights


def match_patches(
    pyr_a, pyr_b, p, warp, q0, radius: float, params: PatchParams
) -> tuple[np.ndarray, np.ndarray]:
    """Find the patches around ``p`` (image A) in image B: exhaustive search around ``q0``, then sub-pixel.

    The search (:func:`.search.ncc_search`) runs on the pyramid level where ``radius`` is at most
    ``_MAX_SEARCH`` pixels; Lucas-Kanade then refines from that level down to full resolution, and a
    forward-backward check (track the match back into A) drops matches whose way back misses ``p`` by more
    than ``params.fb_tol`` pixels.

    Args:
        pyr_a, pyr_b: pyramids of A and B (level 0 first).
        p: ``(M, 2)`` points of A; warp: how they look in B (:mod:`.warps`); q0: ``(M, 2)`` guesses in B
            (level 0).
        radius: how far from its guess a match may be, level-0 pixels of B.
        params: window, iterations, thresholds.

    Returns:
        ``(q, ok)``: ``(M, 2)`` float64 positions in B (level-0 index coordinates) and ``(M,)`` bool.
    """
    p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    warp = as_warp(warp)
    A = warp.A
    q0 = np.asarray(q0, dtype=np.float64).reshape(-1, 2)
    if len(p) == 0:
        return q0.copy(), np.zeros(0, dtype=bool)
    top = len(pyr_a) - 1
    level = int(np.clip(np.ceil(np.log2(max(radius, 1.0) / _MAX_SEARCH)), 0, min(top, len(pyr_b) - 1)))
    r_level = max(1, int(np.ceil(radius / 2.0**level)))
    q_int, ok = ncc_search(pyr_a, pyr_b[level], level, p, A, to_level(q0, level), r_level, params.window + 4)
    start = from_level(q_int, level)
    lk = PatchParams(**{**params.__dict__, "levels": level + 1})
    idx = np.flatnonzero(ok)
    q = start.copy()
    q[idx], ok_lk, _ = align_patches(pyr_a, pyr_b, p[idx], warp.subset(idx), start[idx], lk)
    ok[idx] = ok_lk
    if params.fb_tol > 0 and ok.any():
        idx = np.flatnonzero(ok)
        A_inv = np.linalg.inv(A[idx])
        guess = p[idx] + np.einsum("mij,mj->mi", A_inv, start[idx] - q[idx])
        one = PatchParams(**{**lk.__dict__, "levels": 1})
        back, ok_back, _ = align_patches(pyr_b, pyr_a, q[idx], AffineWarp(A_inv), guess, one)
        ok[idx] = ok_back & (np.hypot(*(back - p[idx]).T) <= params.fb_tol)
    return q, ok
