"""Full-resolution depth maps once the cameras and pair similarities are known.

For pixel ``p`` of view ``v`` every pair ``e`` containing ``v`` predicts a world point ``Y_e``; in camera
``v``'s frame, ``Z_e = R_v^T (Y_e - c_v)``. With the unit ray ``rhat`` of the pixel, the distance of the
depth-``D`` point to ``Z_e`` is ``sqrt((t - a_e)^2 + q_e)`` with ``t = D |r|``, ``a_e = Z_e . rhat`` and
``q_e = |Z_e - a_e rhat|^2``. The depth minimising the confidence-weighted sum of these distances (the
paper's objective restricted to one pixel) is found by a few reweighted means. Views are processed one at a
time, streaming over their pairs, so memory stays at ``O(pairs of one view * H * W)`` float32; with a block
size (the sparse path) a view is done in blocks of rows, so it stays at that block size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..geometry.cameras import pixel_grid
from ..predictions import PairPrediction
from ..progress import ProgressFn, check_cancel
from ..resources.memory import DENSE_ARRAYS
from .camera_fit import Cameras
from .graph import PairGraph, confidence_weights
from .solver import PairSimilarities
from .store import MAPS

DEPTH_IRLS_ITERATIONS = 4
# float32 working arrays per (pair slot, pixel) of a block (the memory model's count of them)
DEPTH_BYTES_PER_SLOT_PIXEL = 4 * DENSE_ARRAYS


def dense_depths(
    preds: Sequence[PairPrediction],
    graph: PairGraph,
    cams: Cameras,
    sims: PairSimilarities,
    min_conf: float,
    delta: float,
    progress: ProgressFn,
    cancel=None,
    block_bytes: int | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Depth maps and confidence maps of all views.

    Args:
        delta: Charbonnier delta in world units (see :mod:`.losses`).
        block_bytes: None: each view at once (its pairs' maps all in memory); else the view is done in blocks
            of rows whose working arrays take about this many bytes (the result is the same: pixels are
            independent), reading only those rows of each map (:meth:`~.store.PairStore.read_map`).

    Returns:
        ``(depths, confs)``: N arrays ``(H_n, W_n)`` float32 each: z-depth in world units, and the maximum
        confidence of the pixel over the pairs that contain the view (the reference's choice).
    """
    depths, confs = [], []
    slots_by_view = view_slots(graph)
    for v, (H, W) in enumerate(graph.sizes):
        check_cancel(cancel)
        slots = slots_by_view[v]
        rows = (
            H if block_bytes is None else max(1, block_bytes // (DEPTH_BYTES_PER_SLOT_PIXEL * len(slots) * W))
        )
        depth = np.empty((H, W), np.float32)
        conf = np.empty((H, W), np.float32)
        grid = pixel_grid(H, W)
        for start in range(0, H, rows):
            stop = min(start + rows, H)
            xy = (grid[start:stop].reshape(-1, 2) - cams.pp[v]) / cams.focal[v]
            rays = np.concatenate([xy, np.ones_like(xy[:, :1])], axis=1)  # (hw, 3) camera frame, z = 1
            ray_len = np.linalg.norm(rays, axis=-1)
            rhat = (rays / ray_len[:, None]).astype(np.float32)
            along, perp_sq, weight, conf_max = _pixel_observations(
                preds, slots, cams, sims, v, rhat, min_conf, (start, stop)
            )
            dist = _robust_along_ray(along, perp_sq, weight, delta)
            depth[start:stop] = (dist / ray_len).reshape(stop - start, W)
            conf[start:stop] = conf_max.reshape(stop - start, W)
        depths.append(depth)
        confs.append(conf)
        progress(f"Depth maps {v + 1}/{graph.num_views}", (v + 1) / graph.num_views)
    return depths, confs


def view_slots(graph: PairGraph) -> list[list[tuple[int, int]]]:
    """For every view, ``(edge index, side)`` of its pointmaps in edge order (``graph.slots_of_view`` of all
    views at once, in ``O(E)``)."""
    slots: list[list[tuple[int, int]]] = [[] for _ in range(graph.num_views)]
    for e, (i, j) in enumerate(graph.edges.tolist()):
        slots[i].append((e, 0))
        slots[j].append((e, 1))
    for lst in slots:
        lst.sort()
    return slots


def map_rows(pred, which: int, rows: tuple[int, int]) -> np.ndarray:
    """Rows ``start:stop`` of map ``which`` (0: pts3d_i, 1: conf_i, 2: pts3d_j, 3: conf_j) as float32; a stored
    pair reads only those rows."""
    reader = getattr(pred, "read_rows", None)
    if reader is not None:
        return reader(which, *rows)
    return np.asarray(getattr(pred, MAPS[which])[rows[0] : rows[1]], dtype=np.float32)


def _pixel_observations(preds, slots, cams: Cameras, sims: PairSimilarities, view: int, rhat, min_conf, rows):
    """``(K, hw)`` float32 ``a_e``, ``q_e``, weights, and the ``(hw,)`` max confidence of one view's rows."""
    hw = rhat.shape[0]
    along = np.empty((len(slots), hw), np.float32)
    perp_sq = np.empty_like(along)
    weight = np.empty_like(along)
    conf_max = np.zeros(hw, np.float32)
    rot_t = cams.rot[view].T
    for k, (e, side) in enumerate(slots):
        pred = preds[e]
        pts = map_rows(pred, 2 * side, rows).reshape(-1, 3)
        conf = map_rows(pred, 2 * side + 1, rows).reshape(-1)
        cam_from_pair = (sims.scale[e] * rot_t @ sims.rot[e]).astype(np.float32)
        offset = (rot_t @ (sims.trans[e] - cams.centre[view])).astype(np.float32)
        Z = pts @ cam_from_pair.T + offset
        along[k] = np.einsum("pi,pi->p", Z, rhat)
        perp_sq[k] = np.maximum(np.einsum("pi,pi->p", Z, Z) - along[k] ** 2, 0.0)
        weight[k] = confidence_weights(conf, min_conf)
        np.maximum(conf_max, conf, out=conf_max)
    unseen = ~np.any(weight > 0, axis=0)
    weight[:, unseen] = 1.0  # no confident prediction: plain mean of all pairs
    return along, perp_sq, weight, conf_max


def _robust_along_ray(along, perp_sq, weight, delta: float) -> np.ndarray:
    """``(HW,)`` float64 distance along the ray minimising ``sum_e w_e sqrt((t - a_e)^2 + q_e + delta^2)``."""
    t = np.sum(weight * along, axis=0, dtype=np.float64) / np.sum(weight, axis=0, dtype=np.float64)
    for _ in range(DEPTH_IRLS_ITERATIONS):
        irls = weight / np.sqrt((t.astype(np.float32) - along) ** 2 + perp_sq + np.float32(delta * delta))
        t = np.sum(irls * along, axis=0, dtype=np.float64) / np.sum(irls, axis=0, dtype=np.float64)
    return t
