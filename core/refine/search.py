"""Where a patch lies in another image, to the pixel: exhaustive normalised cross-correlation around a guess.

The first guesses that the aligned geometry gives can be off by a few percent of the image (depth errors move
them along the epipolar line, pose errors everywhere), too far for gradient-based alignment on repetitive
texture. For each match the patch of image A, resampled into image B's pixel grid through the local affine map,
is correlated with every position of a square window of B around the guess (FFT, many matches at once). The
best position is kept when it is distinct: clearly better than any other peak of the window (a repetitive
texture gives several similar peaks: no match rather than a wrong one), and not on the window's border.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from .pyramid import sample, to_level
from .warps import template_levels

_CHUNK = 1024  # matches per FFT batch (memory: about 5 KB per match and search pixel side)


def _template(pyr_a, level: int, p: np.ndarray, A: np.ndarray, window: int) -> np.ndarray:
    """``(M, w, w)`` zero-mean unit-norm patches of A sampled on the grid of B's pyramid level ``level``
    through ``A``, from the level of A's pyramid whose pixels are about as large (``p``: level 0 of A)."""
    half = window // 2
    dy, dx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    e = np.stack([dx.ravel(), dy.ravel()], axis=-1) * 2.0**level  # level-0 offsets in B
    A_inv = np.linalg.inv(A)
    pts = p[:, None, :] + np.einsum("mij,pj->mpi", A_inv, e)  # level-0 points of A
    k = np.minimum(level + template_levels(A, len(pyr_a) - 1), len(pyr_a) - 1)
    t = np.zeros(pts.shape[:2])
    for ka in np.unique(k):
        sel = k == ka
        t[sel] = sample(pyr_a[ka], to_level(pts[sel], int(ka)))
    t -= t.mean(axis=1, keepdims=True)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
    return t.reshape(-1, window, window)


def _box_sums(region: np.ndarray, window: int) -> np.ndarray:
    """Sums over every ``window x window`` sub-square of ``region`` ``(M, S, S)`` -> ``(M, S-w+1, S-w+1)``."""
    c = np.cumsum(np.cumsum(region, axis=1), axis=2)
    c = np.pad(c, ((0, 0), (1, 0), (1, 0)))
    w = window
    return c[:, w:, w:] - c[:, :-w, w:] - c[:, w:, :-w] + c[:, :-w, :-w]


def _ncc_maps(img_b, centres, templates, radius):
    """``(M, 2r+1, 2r+1)`` NCC of each template with B around its integer centre."""
    m, w, _ = templates.shape
    side = 2 * radius + w
    half = radius + w // 2
    gy, gx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=-1)
    region = sample(img_b, centres[:, None, :] + grid[None]).astype(np.float64).reshape(m, side, side)
    shape = (fft.next_fast_len(side), fft.next_fast_len(side))
    corr = fft.irfft2(fft.rfft2(region, s=shape) * np.conj(fft.rfft2(templates, s=shape)), s=shape)
    corr = corr[:, : 2 * radius + 1, : 2 * radius + 1]
    n = float(w * w)
    s1 = _box_sums(region, w)
    s2 = _box_sums(region * region, w)
    var = np.maximum(s2 - s1 * s1 / n, 1e-12)
    return corr / np.sqrt(var)


def ncc_search(
    pyr_a: list[np.ndarray],
    img_b: np.ndarray,
    level: int,
    p: np.ndarray,
    A: np.ndarray,
    q0: np.ndarray,
    radius: int,
    window: int,
    min_ncc: float = 0.7,
    min_margin: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """The best integer position in B of each patch of A, within ``radius`` pixels of its guess.

    Args:
        pyr_a: A's pyramid; img_b: level ``level`` of B's pyramid (``(H, W)`` float grey).
        p: ``(M, 2)`` level-0 points of A; A: ``(M, 2, 2)`` local affine maps (B pixels per A pixel, level 0);
            q0: ``(M, 2)`` guesses in B (index coordinates of B's level ``level``).
        radius: half side of the searched square, pixels (>= 1).
        window: patch side in B's pixels (odd).
        min_ncc: correlation the best position needs.
        min_margin: how much better than the best position farther than 2 pixels it must be.

    Returns:
        ``(q, ok)``: ``(M, 2)`` float64 best positions, ``(M,)`` bool (distinct peak inside the window).
    """
    p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
    A = np.asarray(A, dtype=np.float64).reshape(-1, 2, 2)
    centres = np.rint(np.asarray(q0, dtype=np.float64).reshape(-1, 2))
    q = centres.copy()
    ok = np.zeros(len(p), dtype=bool)
    side = 2 * radius + 1
    yy, xx = np.mgrid[0:side, 0:side]
    for lo in range(0, len(p), _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        templates = _template(pyr_a, level, p[sl], A[sl], window)
        ncc = _ncc_maps(img_b, centres[sl], templates, radius).reshape(-1, side * side)
        best = ncc.argmax(axis=1)
        by, bx = np.divmod(best, side)
        best_val = ncc[np.arange(len(best)), best]
        far = (np.abs(yy.ravel()[None] - by[:, None]) > 2) | (np.abs(xx.ravel()[None] - bx[:, None]) > 2)
        second = np.where(far, ncc, -np.inf).max(axis=1)
        border = (bx == 0) | (by == 0) | (bx == side - 1) | (by == side - 1)
        ok[sl] = (best_val >= min_ncc) & (best_val - second >= min_margin) & ~border
        q[sl] = centres[sl] + np.stack([bx - radius, by - radius], axis=-1)
    return q, ok
