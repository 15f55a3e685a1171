"""First guesses from the network's own cross-view geometry: pixel correspondences that do not depend on the
global alignment.

A pair prediction ``(i, j)`` holds view ``i``'s pointmap and view ``j``'s pointmap, both in camera ``i``'s
frame. Where the two views see the same surface, a pixel of ``i`` and a pixel of ``j`` whose points are each
other's nearest neighbours in 3-D (reciprocal nearest neighbours, the DUSt3R paper's section 3.3) see about
the same physical point. These pairs are found on a grid of each view's confident pixels while the pair
store is open (:func:`pair_correspondences`, compact: a few thousand pixel pairs per graph pair) and handed to
the refinement, where they correct the first guesses that reprojection through the aligned cameras gives
(:func:`network_guesses`): far off where the alignment is (long footage, wide baselines), the network's
correspondence is typically within a few pixels.

They are first guesses only: every correspondence used is verified and refined on the images by the patch
matcher, never taken as a measurement.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .pyramid import sample
from .seeds import project_points
from .views import RefineView

logger = logging.getLogger(__name__)

# neighbouring correspondences whose median correction guides a host point, and how far (fraction of the
# image's long side) they may be from it
_NEIGHBOURS = 7
_REACH = 0.08
# grid points per view of a pair (the grid's step follows the network image's size)
_GRID_POINTS = 8000


def grid_step(shape: tuple[int, ...]) -> int:
    """The pixel step of the grid :func:`pair_correspondences` uses on an ``(H, W, ...)`` network map: about
    ``_GRID_POINTS`` pixels per view."""
    return max(1, int(round(np.sqrt(shape[0] * shape[1] / _GRID_POINTS))))


@dataclass(frozen=True)
class PairCorrespondences:
    """Reciprocal nearest neighbours of one graph pair.

    Attributes:
        i, j: the views (the pair's order: both pointmaps were in camera ``i``'s frame).
        uv_i: ``(K, 2)`` float32 network pixels of view ``i`` (index coordinates).
        uv_j: ``(K, 2)`` float32 network pixels of view ``j`` seeing the same point.
        conf: ``(K,)`` float32, the smaller of the two pixels' confidences.
    """

    i: int
    j: int
    uv_i: np.ndarray
    uv_j: np.ndarray
    conf: np.ndarray

    def __len__(self) -> int:
        return len(self.uv_i)


def _grid(points: np.ndarray, conf: np.ndarray, step: int, min_conf: float):
    """``(M, 3)`` points, ``(M, 2)`` pixels ``(x, y)`` and ``(M,)`` confidences of every ``step``-th pixel
    (rows and columns) with a finite point and a confidence above ``min_conf``."""
    pts = np.asarray(points, dtype=np.float32)[::step, ::step]
    c = np.asarray(conf, dtype=np.float32)[::step, ::step]
    ys, xs = np.mgrid[0 : pts.shape[0], 0 : pts.shape[1]]
    ok = np.all(np.isfinite(pts), axis=-1) & (c > min_conf)
    uv = np.stack([xs[ok], ys[ok]], axis=-1).astype(np.float32) * step
    return pts[ok].astype(np.float64), uv, c[ok]


def reciprocal_matches(pts_i, conf_i, pts_j, conf_j, step: int = 2, min_conf: float = 1.5) -> tuple:
    """Reciprocal nearest neighbours in 3-D between two pointmaps in one frame.

    Args:
        pts_i, pts_j: ``(H_i, W_i, 3)``, ``(H_j, W_j, 3)`` points of views ``i`` and ``j`` in ONE frame.
        conf_i, conf_j: their ``(H, W)`` confidences.
        step: the pixel grid both views are subsampled on (pixels).
        min_conf: confidence a pixel needs.

    Returns:
        ``(uv_i (K, 2), uv_j (K, 2), conf (K,))`` float32: network pixels of ``i`` and ``j`` that are each
        other's nearest neighbour among the grids' points, and the smaller confidence of the two.
    """
    Xi, uv_i, ci = _grid(pts_i, conf_i, step, min_conf)
    Xj, uv_j, cj = _grid(pts_j, conf_j, step, min_conf)
    if len(Xi) == 0 or len(Xj) == 0:
        empty = np.zeros((0, 2), np.float32)
        return empty, empty.copy(), np.zeros(0, np.float32)
    _, i_to_j = cKDTree(Xj).query(Xi)
    _, j_to_i = cKDTree(Xi).query(Xj)
    mutual = np.flatnonzero(j_to_i[i_to_j] == np.arange(len(Xi)))
    k = i_to_j[mutual]
    return uv_i[mutual], uv_j[k], np.minimum(ci[mutual], cj[k]).astype(np.float32)


def pair_correspondences(
    pairs: Iterable, step: int | None = None, min_conf: float = 1.5
) -> list[PairCorrespondences]:
    """:func:`reciprocal_matches` of every pair of a scene graph (a :class:`~core.align.store.PairStore`, a
    list of :class:`~core.predictions.PairPrediction`, anything with ``i, j, pts3d_i, conf_i, pts3d_j,
    conf_j``). Of two orders of one pair only the first is kept (they see the same correspondences).
    ``step``: the grid (default :func:`grid_step` of the first view's map)."""
    out, seen = [], set()
    for pair in pairs:
        i, j = int(pair.i), int(pair.j)
        if i == j or (min(i, j), max(i, j)) in seen:
            continue
        seen.add((min(i, j), max(i, j)))
        pts_i = pair.pts3d_i
        uv_i, uv_j, conf = reciprocal_matches(pts_i, pair.conf_i, pair.pts3d_j, pair.conf_j,
                                              step or grid_step(pts_i.shape), min_conf)  # fmt: skip
        out.append(PairCorrespondences(i, j, uv_i, uv_j, conf))
    logger.debug("network correspondences: %d pairs, %d pixel pairs", len(out), sum(len(c) for c in out))
    return out


def correspondence_index(corrs: Iterable[PairCorrespondences] | None) -> dict:
    """``{(a, b): (uv_a (K, 2), uv_b (K, 2))}`` network pixels, both orders of every pair."""
    index: dict = {}
    for c in corrs or ():
        index[(c.i, c.j)] = (np.asarray(c.uv_i, np.float64), np.asarray(c.uv_j, np.float64))
        index[(c.j, c.i)] = (np.asarray(c.uv_j, np.float64), np.asarray(c.uv_i, np.float64))
    return index


def network_guesses(host: RefineView, target: RefineView, xy: np.ndarray, q0: np.ndarray, corr) -> np.ndarray:
    """First guesses in ``target`` of host points from the network's correspondences.

    The correspondences' own first guesses by reprojection (the host's aligned point at their pixel, through
    the target's aligned camera) are compared with where the network says they are; that correction varies
    slowly across the image (it comes from the alignment's errors), so each host point's reprojection guess
    ``q0`` is moved by the median correction of its nearest correspondences (at most ``_REACH`` of the
    image away; the median keeps a wrong nearest neighbour from moving it).

    Args:
        host, target: the views; xy: ``(M, 2)`` host points (refinement-image pixels of ``host``);
        q0: ``(M, 2)`` their reprojection guesses in ``target``'s refinement image;
        corr: ``(uv_host (K, 2), uv_target (K, 2))`` network pixels (:func:`correspondence_index`).

    Returns:
        ``(M, 2)`` float64 guesses; NaN where no correspondence is near.
    """
    uv_h, uv_t = corr
    out = np.full((len(xy), 2), np.nan)
    if len(uv_h) < 3 or len(xy) == 0:
        return out
    xy_h = host.frame.image_from_net(uv_h)
    xy_t = target.frame.image_from_net(uv_t)
    X = np.stack([sample(np.asarray(host.pts3d[..., c], np.float32), uv_h) for c in range(3)], -1)
    ok = np.all(np.isfinite(X), axis=-1)
    reproj, z, _ = project_points(target, X.astype(np.float64))
    ok &= (z > 0) & np.all(np.isfinite(reproj), axis=-1)
    if ok.sum() < 3:
        return out
    correction = (xy_t - reproj)[ok]
    k = min(_NEIGHBOURS, int(ok.sum()))
    dist, nn = cKDTree(xy_h[ok]).query(xy, k=k)
    near = dist[:, 0] <= _REACH * max(host.image_size)
    med = np.median(correction[nn], axis=1)
    out[near] = q0[near] + med[near]
    return out
