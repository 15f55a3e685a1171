"""Pixel correspondences from two pointmaps in a common frame (paper section 3.3, "Point matching").

Two pixels match when their 3-D points are mutual (reciprocal) nearest neighbours in Euclidean space. Both
pointmaps must be in the SAME frame (e.g. a pair's view-1 and view-2 outputs, both in camera 1's frame).

* :func:`find_reciprocal_matches`: exhaustive, every point of both sets (a KD-tree per set).
* :func:`fast_reciprocal_nns`: starts from a sparse grid of pixels of image 1 and walks the NN chain
  1 -> 2 -> 1 -> ... until it stops moving (at most ``max_iter`` rounds); pixels that reach a fixed point
  are reciprocal matches. Much cheaper for large images, returns fewer (sparser) matches.

Pixel coordinates returned here are integer ``(x, y)`` = (column, row), the flat index being ``x + W * y``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def find_reciprocal_matches(P1: np.ndarray, P2: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Reciprocal nearest neighbours between two point sets.

    Args:
        P1: ``(N1, 3)`` points.
        P2: ``(N2, 3)`` points in the same frame.

    Returns:
        ``(reciprocal_in_P2, nn2_in_P1, num_matches)``: ``(N2,)`` bool, True where point ``k`` of ``P2`` is the
        nearest neighbour of its own nearest neighbour in ``P1``; ``(N2,)`` int64 index in ``P1`` of the
        nearest neighbour of each ``P2`` point; the number of matches (int). Matches are
        ``(nn2_in_P1[k], k)`` for the ``k`` where ``reciprocal_in_P2`` is True.
    """
    P1 = _check_points("P1", P1)
    P2 = _check_points("P2", P2)
    if len(P1) == 0 or len(P2) == 0:
        return np.zeros(len(P2), dtype=bool), np.zeros(len(P2), dtype=np.int64), 0
    _, nn1_in_P2 = cKDTree(P2).query(P1, workers=-1)
    _, nn2_in_P1 = cKDTree(P1).query(P2, workers=-1)
    nn2_in_P1 = nn2_in_P1.astype(np.int64)
    reciprocal_in_P2 = nn1_in_P2[nn2_in_P1] == np.arange(len(P2))
    return reciprocal_in_P2, nn2_in_P1, int(reciprocal_in_P2.sum())


def reciprocal_pixel_matches(
    pts1: np.ndarray,
    pts2: np.ndarray,
    mask1: np.ndarray | None = None,
    mask2: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exhaustive reciprocal matches between two pointmaps, as pixel coordinates.

    Args:
        pts1: ``(H1, W1, 3)`` pointmap of image 1.
        pts2: ``(H2, W2, 3)`` pointmap of image 2, same frame.
        mask1, mask2: optional ``(H, W)`` bool masks (e.g. ``conf > threshold``); only masked pixels compete.

    Returns:
        ``(xy1, xy2)``: ``(M, 2)`` int64 pixel coordinates ``(x, y)`` of the matches, sorted by ``xy2``'s
        flat index.
    """
    (H1, W1), (H2, W2) = _map_shape("pts1", pts1), _map_shape("pts2", pts2)
    flat1 = _masked_flat_indices(mask1, (H1, W1))
    flat2 = _masked_flat_indices(mask2, (H2, W2))
    P1 = np.asarray(pts1).reshape(-1, 3)[flat1]
    P2 = np.asarray(pts2).reshape(-1, 3)[flat2]
    reciprocal, nn2_in_P1, _ = find_reciprocal_matches(P1, P2)
    idx1 = flat1[nn2_in_P1[reciprocal]]
    idx2 = flat2[reciprocal]
    return _xy_from_flat(idx1, W1), _xy_from_flat(idx2, W2)


def fast_reciprocal_nns(
    pts1: np.ndarray, pts2: np.ndarray, subsample: int = 8, max_iter: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Sparse reciprocal matches by walking nearest-neighbour chains from a pixel grid of image 1.

    Starts at the pixels ``(x, y)`` with ``x, y`` in ``subsample // 2 :: subsample``. Each round maps every
    still-moving start to its NN in ``pts2``, then back to its NN in ``pts1``; a chain stops when an NN does
    not change any more (a reciprocal pair). Chains still moving after ``max_iter`` rounds are dropped.

    Args:
        pts1: ``(H1, W1, 3)`` pointmap of image 1.
        pts2: ``(H2, W2, 3)`` pointmap of image 2, same frame.
        subsample: grid step in pixels (>= 1).
        max_iter: maximum number of rounds (>= 1).

    Returns:
        ``(xy1, xy2)``: ``(M, 2)`` int64 pixel coordinates ``(x, y)``; unique pairs sorted by ``xy1``'s flat index.
    """
    (H1, W1), (_, W2) = _map_shape("pts1", pts1), _map_shape("pts2", pts2)
    if subsample < 1 or max_iter < 1:
        raise ValueError(f"subsample and max_iter must be >= 1, got {subsample} and {max_iter}")
    flat_pts1 = np.asarray(pts1).reshape(-1, 3)
    flat_pts2 = np.asarray(pts2).reshape(-1, 3)
    tree1, tree2 = cKDTree(flat_pts1), cKDTree(flat_pts2)

    y1, x1 = np.mgrid[subsample // 2 : H1 : subsample, subsample // 2 : W1 : subsample].reshape(2, -1)
    idx1 = np.unique(x1 + W1 * y1).astype(np.int64)
    idx2 = np.full_like(idx1, -1)
    moving = np.ones(len(idx1), dtype=bool)
    for _ in range(max_iter):
        if not moving.any():
            break
        prev1, prev2 = idx1.copy(), idx2.copy()
        idx2[moving] = tree2.query(flat_pts1[idx1[moving]], workers=-1)[1]
        moving &= idx2 != prev2
        idx1[moving] = tree1.query(flat_pts2[idx2[moving]], workers=-1)[1]
        moving &= idx1 != prev1

    done = ~moving
    pairs = np.unique(idx1[done] * (len(flat_pts2) + 1) + idx2[done])  # sorted by idx1, then idx2
    idx1, idx2 = np.divmod(pairs, len(flat_pts2) + 1)
    return _xy_from_flat(idx1, W1), _xy_from_flat(idx2, W2)


def _check_points(name: str, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"{name} must be (N, 3), got {pts.shape}")
    return pts


def _map_shape(name: str, pts: np.ndarray) -> tuple[int, int]:
    shape = np.shape(pts)
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"{name} must be (H, W, 3), got {shape}")
    return int(shape[0]), int(shape[1])


def _masked_flat_indices(mask: np.ndarray | None, hw: tuple[int, int]) -> np.ndarray:
    if mask is None:
        return np.arange(hw[0] * hw[1], dtype=np.int64)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != hw:
        raise ValueError(f"mask must be {hw}, got {mask.shape}")
    return np.flatnonzero(mask).astype(np.int64)


def _xy_from_flat(flat: np.ndarray, W: int) -> np.ndarray:
    y, x = np.divmod(np.asarray(flat, dtype=np.int64), W)
    return np.stack([x, y], axis=-1)
