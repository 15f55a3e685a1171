"""Well-textured pixels to match: the Shi-Tomasi score on a grid (numpy + scipy.ndimage).

The score of a pixel is the smaller eigenvalue of the structure tensor (image gradients' outer products,
Gaussian-weighted): high where the patch around the pixel has texture in two directions, so that its position
can be found to a fraction of a pixel in another image. One pixel per grid cell keeps the points spread.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def shi_tomasi_score(grey: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """``(H, W)`` float32 smaller eigenvalue of the structure tensor of ``grey`` (intensity^2 per pixel^2).

    Args:
        grey: ``(H, W)`` float image (e.g. in ``[0, 1]``).
        sigma: Gaussian window of the tensor, pixels.
    """
    img = np.asarray(grey, dtype=np.float32)
    gx = ndimage.sobel(img, axis=1, mode="nearest") / 8.0
    gy = ndimage.sobel(img, axis=0, mode="nearest") / 8.0
    sxx = ndimage.gaussian_filter(gx * gx, sigma, mode="nearest")
    syy = ndimage.gaussian_filter(gy * gy, sigma, mode="nearest")
    sxy = ndimage.gaussian_filter(gx * gy, sigma, mode="nearest")
    half_trace = 0.5 * (sxx + syy)
    return (half_trace - np.sqrt(np.maximum(0.25 * (sxx - syy) ** 2 + sxy * sxy, 0.0))).astype(np.float32)


def grid_keypoints(
    score: np.ndarray,
    cell: int,
    min_score: float,
    margin: int,
    mask: np.ndarray | None = None,
    max_points: int | None = None,
    spacing: int = 0,
) -> np.ndarray:
    """The best-scoring pixel of each ``cell x cell`` block, where it beats ``min_score``.

    With ``spacing`` > 0 only local maxima of the score over ``(2 spacing + 1)`` pixels compete, so that two
    points never sit on the same image feature (their matching errors would be the same, and count twice).

    Args:
        score: ``(H, W)`` score (e.g. :func:`shi_tomasi_score`).
        cell: block size in pixels (>= 1).
        min_score: absolute threshold; a block whose best pixel scores at or below gives no point.
        margin: pixels closer than this to the border are never chosen.
            mask: optional ``(H, W)`` bool, pixels allowed.
        max_points: keep at most this many points, the highest scores first.
        spacing: see above (pixels).

    Returns:
        ``(M, 2)`` int64 pixel coordinates ``(x, y)`` (index coordinates), best score first.
    """
    s = np.asarray(score, dtype=np.float32).copy()
    h, w = s.shape
    if cell < 1:
        raise ValueError(f"cell must be at least 1 pixel, got {cell}")
    allowed = np.zeros((h, w), dtype=bool)
    allowed[margin : h - margin, margin : w - margin] = True
    if mask is not None:
        allowed &= np.asarray(mask, dtype=bool)
    if spacing > 0:
        allowed &= s >= ndimage.maximum_filter(s, size=2 * spacing + 1, mode="nearest")
    s[~allowed] = -np.inf
    hc, wc = -(-h // cell), -(-w // cell)
    padded = np.full((hc * cell, wc * cell), -np.inf, dtype=np.float32)
    padded[:h, :w] = s
    blocks = padded.reshape(hc, cell, wc, cell).transpose(0, 2, 1, 3).reshape(hc, wc, cell * cell)
    best = blocks.argmax(axis=-1)
    best_score = np.take_along_axis(blocks, best[..., None], axis=-1)[..., 0]
    by, bx = np.divmod(best, cell)
    ys = by + cell * np.arange(hc)[:, None]
    xs = bx + cell * np.arange(wc)[None, :]
    keep = best_score > min_score
    xy = np.stack([xs[keep], ys[keep]], axis=-1).astype(np.int64)
    order = np.argsort(-best_score[keep], kind="stable")
    xy = xy[order]
    return xy if max_points is None else xy[:max_points]
