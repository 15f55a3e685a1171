"""Occlusion clean-up of an aligned point cloud (the paper demo's "clean-up" of depth maps).

A pixel's point that another camera should have seen in front of its own surface is a floater (a "flying
pixel" at a depth edge, or a badly predicted region): if it were real, it would hide what that camera saw.

The rule, for every ordered pair of distinct views ``(i, j)`` (every pair, or the pairs of the scene graph:
views the graph did not pair are not expected to see each other, and comparing all pairs costs N(N-1)
comparisons, about 80 minutes at 200 photos) and every pixel ``p`` of view ``i`` with a finite
world point ``X``:

1. ``X_j = cam_j_from_world X``; skip ``p`` unless ``z(X_j) > 0`` and its projection ``(u, v)`` with ``K_j``
   (index coordinates) has its four surrounding pixels ``Q = {floor, floor + 1}(v) x {floor, floor + 1}(u)``
   inside view ``j``.
2. ``p`` is dropped when ``z(X_j) < (1 - tol) * min_Q depth_j`` (clearly in front of what ``j`` sees around
   that ray, NaN or non-positive depths never count as seen) AND ``conf_i[p] < min_Q conf_j`` (``j`` is more
   sure of its surface than ``i`` is of this point).

Using the four pixels around the projection rather than the nearest one keeps surfaces seen at grazing angles
(whose depth changes by more than ``tol`` within half a pixel) and depth edges from being dropped: a point
is only a floater if it is in front of the nearest surface ``j`` sees anywhere around that ray.

Dropped pixels get the confidence ``bad_conf`` (0 by default, below any threshold); nothing else changes.
The ORIGINAL confidences are compared throughout, so the result does not depend on the order of the views.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import numpy as np

from ..geometry.cameras import project
from ..geometry.transforms import invert_rigid, transform_points
from ..progress import check_cancel
from .result import AlignmentResult

logger = logging.getLogger(__name__)


def clean_pointcloud(
    result: AlignmentResult,
    tol: float = 0.001,
    bad_conf: float = 0.0,
    cancel: threading.Event | None = None,
    pairs: Iterable[tuple[int, int]] | None = None,
) -> list[np.ndarray]:
    """New per-view confidence maps with floaters set to ``bad_conf`` (see the module docstring for the rule).

    Args:
        result: an alignment (uses ``world_from_cam``, intrinsics, ``depth``, ``pts3d``, ``conf``).
        tol: relative depth margin; a point must be more than ``tol * depth`` in front to be dropped.
        bad_conf: the confidence given to dropped pixels.
        cancel: checked before each pair of views; setting it raises :class:`~core.errors.Cancelled`.
        pairs: the views to compare, ``(i, j)``: view ``i``'s points are judged by view ``j`` (both orders
            are used, whichever is given); None: every pair. The pipeline passes its scene graph's pairs, so
            the cost grows with the pairs the network ran, not with the square of the photo count.

    Returns:
        N arrays ``(H_n, W_n)`` float32, copies of ``result.conf`` with the dropped pixels set to ``bad_conf``.

    Raises:
        ValueError: ``tol`` outside ``[0, 1)``.
        Cancelled: ``cancel`` was set.
    """
    if not 0.0 <= tol < 1.0:
        raise ValueError(f"tol must be in [0, 1), got {tol}")
    n = result.num_views
    cam_from_world = invert_rigid(result.world_from_cam)
    K = result.intrinsics()
    drop = [np.zeros(np.shape(c), dtype=bool) for c in result.conf]
    for i, j in _ordered_pairs(n, pairs):
        check_cancel(cancel)
        drop[i] |= occludes_view(
            result.pts3d[i],
            result.conf[i],
            cam_from_world[j],
            K[j],
            result.depth[j],
            result.conf[j],
            tol,
        )
    cleaned = []
    for i in range(n):
        conf = np.array(result.conf[i], dtype=np.float32, copy=True)
        conf[drop[i]] = bad_conf
        cleaned.append(conf)
        logger.debug("clean-up: view %d, %d of %d pixels dropped", i, int(drop[i].sum()), drop[i].size)
    return cleaned


def _ordered_pairs(n: int, pairs: Iterable[tuple[int, int]] | None) -> list[tuple[int, int]]:
    """Every ordered pair of distinct views, or those of ``pairs`` in both orders, in ascending order."""
    if pairs is None:
        return [(i, j) for i in range(n) for j in range(n) if i != j]
    found = set()
    for i, j in pairs:
        i, j = int(i), int(j)
        if not (0 <= i < n and 0 <= j < n):
            raise ValueError(f"pair ({i}, {j}) names a view outside 0..{n - 1}")
        if i != j:
            found.update(((i, j), (j, i)))
    return sorted(found)


def occludes_view(
    pts_world: np.ndarray,
    conf: np.ndarray,
    cam_from_world: np.ndarray,
    K: np.ndarray,
    depth_other: np.ndarray,
    conf_other: np.ndarray,
    tol: float,
) -> np.ndarray:
    """Which points of one view lie clearly in front of another view's surface (and are less confident).

    Args:
        pts_world: ``(H, W, 3)`` world points of view ``i``.
        conf: ``(H, W)`` their confidence.
        cam_from_world: ``(4, 4)`` ``cam_j_from_world``: world -> camera ``j`` (OpenCV axes).
        K: ``(3, 3)`` intrinsics of view ``j`` (index coordinates).
        depth_other: ``(H_j, W_j)`` z-depth of view ``j``.
        conf_other: ``(H_j, W_j)`` confidence of view ``j``.
        tol: relative depth margin.

    Returns:
        ``(H, W)`` bool, True for the pixels of view ``i`` to drop.
    """
    pts_cam = transform_points(cam_from_world, pts_world)
    z = pts_cam[..., 2]
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(pts_cam).all(-1) & (z > 0)
    uv = project(K, pts_cam[valid])
    H, W = np.shape(depth_other)
    with np.errstate(invalid="ignore"):
        col0, row0 = np.floor(uv[:, 0]), np.floor(uv[:, 1])
        inside = (col0 >= 0) & (col0 + 1 < W) & (row0 >= 0) & (row0 + 1 < H)
    flat = np.flatnonzero(valid)[inside]
    col0, row0 = col0[inside].astype(np.int64), row0[inside].astype(np.int64)
    depth_other = np.asarray(depth_other, dtype=np.float64)
    conf_other = np.asarray(conf_other, dtype=np.float64)
    # The four pixels around the projection: the surface there is at least as far as the nearest of them.
    corners = [(row0 + dr, col0 + dc) for dr in (0, 1) for dc in (0, 1)]
    depth_seen = np.min([depth_other[rc] for rc in corners], axis=0)
    conf_seen = np.min([conf_other[rc] for rc in corners], axis=0)
    with np.errstate(invalid="ignore"):
        in_front = (z.reshape(-1)[flat] < (1.0 - tol) * depth_seen) & (depth_seen > 0)
    less_sure = np.asarray(conf).reshape(-1)[flat] < conf_seen
    drop = np.zeros(z.size, dtype=bool)
    drop[flat[in_front & less_sure]] = True
    return drop.reshape(z.shape)
