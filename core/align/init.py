"""Initialisation of the global alignment along a maximum-confidence spanning tree (paper section 3.4).

Done right, unlike the reference implementation: every view's focal length is estimated from ITS OWN
pointmap (``X^{v,e}`` of a pair ``e = (v, m)``, which is in camera ``v``'s frame), and every pose comes
from a weighted Procrustes fit of that own-frame pointmap onto the world points that the tree already
placed. On noise-free predictions the result is exact (up to a similarity).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import AlignConfig
from ..errors import AlignmentError
from ..geometry import (
    default_principal_point,
    estimate_focal_knowing_depth,
    invert_rigid,
    make_rigid,
    weighted_umeyama,
)
from ..predictions import PairPrediction
from .graph import PairGraph, confidence_weights, maximum_spanning_tree

logger = logging.getLogger(__name__)

# Focal bounds of the initial estimate, in units of geometry.focal_base (the reference's values).
MIN_FOCAL, MAX_FOCAL = 0.5, 3.5


@dataclass(frozen=True)
class InitialAlignment:
    """Cameras of the spanning-tree initialisation.

    Attributes:
        world_from_cam: ``(N, 4, 4)`` float64 rigid camera-to-world.
        focals: ``(N,)`` float64 pixels.
        principal_points: ``(N, 2)`` float64 index coordinates.
        depth_edges: ``(N,)`` int64: the pair whose ``pts3d_i`` is view n's own-frame pointmap.
        depth_scales: ``(N,)`` float64: view n's depth is ``depth_scales[n] * pts3d_i[..., 2]`` of that pair.
    """

    world_from_cam: np.ndarray
    focals: np.ndarray
    principal_points: np.ndarray
    depth_edges: np.ndarray
    depth_scales: np.ndarray

    def depth(self, view: int, preds: Sequence[PairPrediction]) -> np.ndarray:
        """``(H, W)`` float64 initial z-depth of ``view`` in world units."""
        pts = preds[int(self.depth_edges[view])].pts3d_i
        return self.depth_scales[view] * pts[..., 2].astype(np.float64)

    def world_points(self, view: int, preds: Sequence[PairPrediction]) -> np.ndarray:
        """``(H, W, 3)`` float64 world points of ``view``: its own pointmap placed by the tree."""
        pts = preds[int(self.depth_edges[view])].pts3d_i.astype(np.float64) * self.depth_scales[view]
        T = self.world_from_cam[view]
        return pts @ T[:3, :3].T + T[:3, 3]


def initialize_mst(
    preds: Sequence[PairPrediction], graph: PairGraph, config: AlignConfig
) -> InitialAlignment:
    """Place every view by walking the maximum spanning tree from its root (root frame = world frame).

    Raises:
        AlignmentError: a view never appears first in a pair (its own-frame pointmap is unknown: the pairs
            must be symmetrized), or a Procrustes fit has too few confident pixels.
    """
    n = graph.num_views
    own_edge = _best_own_edges(graph)
    root, tree = maximum_spanning_tree(graph)
    world_from_cam = np.tile(np.eye(4), (n, 1, 1))
    depth_edges = own_edge.copy()
    depth_scales = np.ones(n)
    init = InitialAlignment(world_from_cam, np.zeros(n), np.zeros((n, 2)), depth_edges, depth_scales)
    edge_index = {(int(i), int(j)): e for e, (i, j) in enumerate(graph.edges)}
    for parent, child in tree:
        _place_child(preds, graph, init, edge_index, parent, child, config.min_conf)
    logger.debug("spanning tree from view %d: %s", root, tree)
    focals, pps = _initial_intrinsics(preds, graph, init, config)
    init = InitialAlignment(world_from_cam, focals, pps, depth_edges, depth_scales)
    if config.known_poses is not None and any(p is not None for p in config.known_poses):
        init = _to_known_frame(init, config.known_poses)
    return init


def _best_own_edges(graph: PairGraph) -> np.ndarray:
    """For each view, the best-scoring pair in which it is view ``i``."""
    own = np.full(graph.num_views, -1, dtype=np.int64)
    for e in np.argsort(-graph.scores, kind="stable"):
        i = int(graph.edges[e, 0])
        if own[i] < 0:
            own[i] = e
    missing = np.flatnonzero(own < 0).tolist()
    if missing:
        raise AlignmentError(
            f"views {missing} are never the first image of a pair, so their own-frame pointmaps are "
            "unknown; run the network on symmetrized pairs"
        )
    return own


def _pair_weights(pred: PairPrediction, side: int, min_conf: float) -> np.ndarray:
    return confidence_weights(pred.conf_i if side == 0 else pred.conf_j, min_conf).astype(np.float64)


def _fit(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray, what: str
) -> tuple[float, np.ndarray, np.ndarray]:
    try:
        return weighted_umeyama(src.reshape(-1, 3), dst.reshape(-1, 3), weights.reshape(-1), with_scale=True)
    except ValueError as exc:
        raise AlignmentError(f"cannot initialise {what}: {exc}") from exc


def _place_child(preds, graph, init, edge_index, parent: int, child: int, min_conf: float) -> None:
    """Set ``child``'s pose and depth scale from the parent's world points (mutates ``init`` arrays)."""
    parent_world = init.world_points(parent, preds)
    parent_w = _pair_weights(preds[init.depth_edges[parent]], 0, min_conf)
    e = edge_index.get((child, parent))
    if e is not None:  # pair (child, parent): camera child's frame is the pair's frame
        pred = preds[e]
        w = _pair_weights(pred, 1, min_conf) * parent_w
        s, R, t = _fit(pred.pts3d_j, parent_world, w, f"{graph.label(child)} from {graph.label(parent)}")
        init.world_from_cam[child] = make_rigid(R, t)
        init.depth_edges[child] = e
        init.depth_scales[child] = s
        return
    pred = preds[edge_index[(parent, child)]]  # pair (parent, child): go through child's world points
    w = _pair_weights(pred, 0, min_conf) * parent_w
    s, R, t = _fit(pred.pts3d_i, parent_world, w, f"pair ({graph.label(parent)}, {graph.label(child)})")
    child_world = s * pred.pts3d_j.astype(np.float64) @ R.T + t
    own = preds[init.depth_edges[child]]
    w_child = _pair_weights(pred, 1, min_conf) * _pair_weights(own, 0, min_conf)
    s2, R2, t2 = _fit(own.pts3d_i, child_world, w_child, graph.label(child))
    init.world_from_cam[child] = make_rigid(R2, t2)
    init.depth_scales[child] = s2


def _initial_intrinsics(preds, graph: PairGraph, init: InitialAlignment, config: AlignConfig):
    """Focal of each view from its own pointmap (Weiszfeld or median), known focals kept as given."""
    n = graph.num_views
    pps = np.array([default_principal_point(*graph.sizes[v]) for v in range(n)])
    focals = np.zeros(n)
    for v in range(n):
        known = None if config.known_focals is None else config.known_focals[v]
        if known is not None:
            focals[v] = float(known)
            continue
        pred = preds[int(init.depth_edges[v])]
        focals[v] = estimate_focal_knowing_depth(
            pred.pts3d_i,
            pps[v],
            config.focal_mode,
            MIN_FOCAL,
            MAX_FOCAL,
            weights=_pair_weights(pred, 0, config.min_conf),
        )
    if config.shared_focal:
        known = [] if config.known_focals is None else [f for f in config.known_focals if f is not None]
        focals[:] = float(known[0]) if known else float(np.median(focals))
    return focals, pps


def _to_known_frame(init: InitialAlignment, known_poses) -> InitialAlignment:
    """Move the initial world onto the frame of the known poses (similarity when >= 2 are known)."""
    views = [v for v, p in enumerate(known_poses) if p is not None]
    known = np.stack([np.asarray(known_poses[v], dtype=np.float64) for v in views])
    est = init.world_from_cam[views]
    if len(views) == 1:
        scale, known_from_init = 1.0, known[0] @ invert_rigid(est[0])
    else:
        scale, R, t = weighted_umeyama(_pose_markers(est), _pose_markers(known), with_scale=True)
        known_from_init = make_rigid(R, t)
    world_from_cam = np.einsum("ij,njk->nik", known_from_init, init.world_from_cam)
    world_from_cam[:, :3, 3] = (
        scale * (init.world_from_cam[:, :3, 3] @ known_from_init[:3, :3].T) + known_from_init[:3, 3]
    )
    world_from_cam[views] = known
    return InitialAlignment(
        world_from_cam, init.focals, init.principal_points, init.depth_edges, init.depth_scales * scale
    )


def _pose_markers(world_from_cam: np.ndarray) -> np.ndarray:
    """Camera centres plus points along each camera axis, spaced by the centres' spread: ``(4K, 3)``."""
    centres = world_from_cam[:, :3, 3]
    spread = float(np.mean(np.linalg.norm(centres - centres.mean(0), axis=1))) or 1.0
    tips = centres[:, None, :] + spread * np.swapaxes(world_from_cam[:, :3, :3], 1, 2)
    return np.concatenate([centres, tips.reshape(-1, 3)])
