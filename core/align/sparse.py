"""The sparse alignment path: thousands of views in memory linear in the pairs (``AlignConfig.memory``).

The ``fast`` solver (:mod:`.solver`) already estimates the global unknowns (cameras, pair similarities) on a
pixel subsample; what grows with the image size is everything around it: the pair store in RAM, a regular
subsample of ``fast_pixels`` per view taken from every pair, and the depth stage's maps of all of a view's
pairs at once. The sparse path keeps the same objective and the same solver, and changes only what it holds:

1. **anchors**: per view, a fixed budget of ``anchor_pixels`` pixels: the image is cut into about that many
   cells (of the image's aspect) and each cell gives its most confident pixel in the view's own pointmap (the pair of the
   spanning-tree initialisation in which the view is first); cells with no confident pixel give none. All
   pairs that contain the view are sampled at the same anchors, so the solver's per-pixel fusion of the
   pairs' predictions works as before. Choosing the most confident pixel of each cell spends the budget on
   pixels that carry weight (not on sky or occlusion borders), spread over the image so that the pose
   stays well conditioned: at a quarter of the dense path's pixels the accuracy is the same
   (``tests/core/test_align_sparse.py``, ``benchmarks/bench_large_align.py``).
2. **one pass over the pairs**: each pair is read once (from the store, possibly on disk) to gather its
   anchors; the solve then touches only the anchors: ``E x 2 x K`` points, ``O(E K)`` bytes.
3. **streamed depth maps**: at the end every view's dense depth is the same robust per-pixel fit as the dense
   path's (:func:`.dense.dense_depths`), computed in blocks of rows whose working arrays stay under
   :data:`DEPTH_BLOCK_BYTES`, reading only those rows of each pair's map (a store on disk reads only them).
   The cameras are moved into the output frame first, so the world points are computed once.

Memory is then ``O(E K)`` for the solve plus a fixed block, plus the per-view output (depth, confidence and
world points of every view): linear in the pairs and, but for the output, independent of the image size.
A hierarchical solve (clusters, then clusters of clusters) was not chosen: it gives up the single global
objective (each cluster's gauge is fixed before the others are seen), which costs accuracy at the cluster
borders, while the anchors already bring the solve to a few kilobytes per pair.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ..config import AlignConfig
from ..geometry import invert_rigid
from ..predictions import PairPrediction
from ..progress import ProgressFn, check_cancel, sub_progress
from ..resources.memory import anchor_grid
from .camera_fit import Cameras
from .dense import dense_depths, map_rows
from .graph import PairGraph, confidence_weights
from .init import InitialAlignment
from .result import AlignmentResult, result_from_cameras
from .solver import PairSimilarities, Samples, fast_align, slot_incidence

logger = logging.getLogger(__name__)

# Working arrays of one block of rows of the depth stage (bytes): the only part of it that is not output.
DEPTH_BLOCK_BYTES = 32 * 2**20


def anchor_pixels(conf: np.ndarray, budget: int, min_conf: float) -> np.ndarray:
    """Flat indices ``(K,)`` int64 (ascending) of the anchors of one view.

    Args:
        conf: ``(H, W)`` confidences of the view's own pointmap.
        budget: the image is cut into about this many cells (:func:`~core.resources.memory.anchor_grid`);
            each cell whose best confidence is above ``min_conf`` gives its most confident pixel (the
            first one in row-major order on ties), so ``K <= budget``.
    """
    H, W = conf.shape
    rows, cols = anchor_grid(H, W, budget)
    cell = ((np.arange(H) * rows // H)[:, None] * cols + (np.arange(W) * cols // W)[None, :]).reshape(-1)
    flat = conf.reshape(-1)
    order = np.lexsort((-flat, cell))  # by cell, then by falling confidence (stable: row-major on ties)
    first = np.ones(len(order), dtype=bool)
    first[1:] = cell[order[1:]] != cell[order[:-1]]
    best = order[first]
    return np.sort(best[flat[best] > min_conf]).astype(np.int64)


def gather_anchor_samples(
    preds: Sequence[PairPrediction],
    graph: PairGraph,
    init: InitialAlignment,
    config: AlignConfig,
    cancel=None,
) -> Samples:
    """The solver's :class:`~.solver.Samples` at every view's anchors, reading each pair once.

    ``pts`` is ``(E, 2, P, 3)`` float64 with ``P`` the largest anchor count (``<= anchor_pixels``).
    """
    anchors = []
    for v in range(graph.num_views):
        own = preds[int(init.depth_edges[v])]
        anchors.append(
            anchor_pixels(np.asarray(own.conf_i, np.float32), config.anchor_pixels, config.min_conf)
        )
    P = max(len(a) for a in anchors)
    uv = np.zeros((graph.num_views, P, 2))
    for v, ix in enumerate(anchors):
        W = graph.sizes[v][1]
        uv[v, : len(ix)] = np.stack([ix % W, ix // W], axis=-1)
    num_edges = len(graph.edges)
    pts = np.zeros((num_edges, 2, P, 3))
    base_weight = np.zeros((num_edges, 2, P))
    for e in range(num_edges):
        if e % 256 == 0:
            check_cancel(cancel)
        pred = preds[e]
        for side in (0, 1):
            ix = anchors[graph.edges[e, side]]
            H = graph.sizes[graph.edges[e, side]][0]
            pts[e, side, : len(ix)] = map_rows(pred, 2 * side, (0, H)).reshape(-1, 3)[ix]
            conf = map_rows(pred, 2 * side + 1, (0, H)).reshape(-1)[ix]
            base_weight[e, side, : len(ix)] = confidence_weights(conf, config.min_conf)
    return Samples(uv, anchors, pts, base_weight, graph.edges.copy(), slot_incidence(graph))


def sparse_align(
    preds: Sequence[PairPrediction],
    graph: PairGraph,
    init: InitialAlignment,
    config: AlignConfig,
    progress: ProgressFn,
    cancel=None,
) -> AlignmentResult:
    """The ``fast`` method on anchors, then streamed depth maps (module docstring); the result is already
    in the output frame (view 0's camera, unless known poses define the world)."""
    samples = gather_anchor_samples(preds, graph, init, config, cancel)
    logger.info(
        "sparse alignment: %d anchors per view at most, %.1f MB of samples",
        samples.pts.shape[2],
        (samples.pts.nbytes + samples.base_weight.nbytes) / 1e6,
    )
    cams, sims, history, delta = fast_align(
        preds, graph, init, config, sub_progress(progress, 0.0, 0.7), cancel, samples=samples
    )
    del samples
    if config.known_poses is None or all(p is None for p in config.known_poses):
        _to_view0_frame(cams, sims)
    depths, confs = dense_depths(
        preds, graph, cams, sims, config.min_conf, delta, sub_progress(progress, 0.7, 1.0), cancel,
        block_bytes=DEPTH_BLOCK_BYTES,
    )  # fmt: skip
    result = result_from_cameras(cams, depths, confs, history)
    if config.known_poses is None or all(p is None for p in config.known_poses):
        result.world_from_cam[0] = np.eye(4)
    return result


def _to_view0_frame(cams: Cameras, sims: PairSimilarities) -> None:
    """Move the world rigidly into view 0's camera frame (cameras and pair similarities, in place)."""
    world_from_cam0 = np.eye(4)
    world_from_cam0[:3, :3], world_from_cam0[:3, 3] = cams.rot[0], cams.centre[0]
    new_from_old = invert_rigid(world_from_cam0)
    R, t = new_from_old[:3, :3], new_from_old[:3, 3]
    cams.rot[:] = np.matmul(R, cams.rot)
    cams.centre[:] = cams.centre @ R.T + t
    sims.rot[:] = np.matmul(R, sims.rot)
    sims.trans[:] = sims.trans @ R.T + t
