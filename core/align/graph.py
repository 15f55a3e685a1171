"""The pair graph of a scene: input validation, edge scores and the maximum-confidence spanning tree.

Views are numbered ``0..N-1`` by the ``i``/``j`` of the ordered pairs. An ordered pair ``e = (i, j)`` holds
view ``i``'s and view ``j``'s pointmaps, both in camera ``i``'s frame (paper section 3.4, ``X^{i,e}`` and
``X^{j,e}``). Everything here is numpy only and cheap (a few passes over the confidences).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import AlignmentError
from ..predictions import PairPrediction


@dataclass(frozen=True)
class PairGraph:
    """Validated structure of a set of ordered pair predictions.

    Attributes:
        num_views: ``N``.
        sizes: ``N`` tuples ``(H_n, W_n)``: each view's network image size.
        edges: ``(E, 2)`` int64 ordered pairs ``(i, j)``, in the order of the predictions.
        scores: ``(E,)`` float64 edge score ``mean(w_i) * mean(w_j)`` with ``w`` the confidence weights.
    """

    num_views: int
    sizes: tuple[tuple[int, int], ...]
    edges: np.ndarray
    scores: np.ndarray

    def slots_of_view(self, view: int) -> list[tuple[int, int]]:
        """``(edge index, side)`` of every pointmap of ``view`` (side 0: it is ``i``, side 1: it is ``j``)."""
        return [(e, side) for e, pair in enumerate(self.edges) for side in (0, 1) if pair[side] == view]


def confidence_weights(conf: np.ndarray, min_conf: float) -> np.ndarray:
    """Per-pixel weights ``log(C)`` where ``C > min_conf`` (and ``C > 1``), else 0.

    The logarithm is the reference implementation's default confidence transform; it keeps confidently
    wrong pixels from dominating. ``conf``: ``(...)`` float32 >= 1. Returns float32 of the same shape.
    """
    conf = np.asarray(conf, dtype=np.float32)
    weights = np.log(np.maximum(conf, 1.0))
    weights[conf <= min_conf] = 0.0
    return weights


def build_pair_graph(preds: Sequence[PairPrediction], min_conf: float) -> PairGraph:
    """Validate ``preds`` and describe their graph.

    Raises:
        AlignmentError: no pair, a single view, inconsistent shapes, NaN/inf values, a pair or view whose
            confidences are all at or below ``min_conf``, or a graph that is not connected.
    """
    if len(preds) == 0:
        raise AlignmentError("no image pair to align")
    edges = np.array([(int(p.i), int(p.j)) for p in preds], dtype=np.int64)
    if edges.min() < 0:
        raise AlignmentError(f"view indices must be non-negative, got pairs {edges.tolist()}")
    if np.any(edges[:, 0] == edges[:, 1]):
        raise AlignmentError(
            "a pair of an image with itself cannot be aligned globally (use align_single_view)"
        )
    num_views = int(edges.max()) + 1
    if num_views < 2:
        raise AlignmentError("global alignment needs at least 2 views")
    sizes = _view_sizes(preds, num_views)
    scores = np.array([_check_pair(p, min_conf) for p in preds])
    _check_connected(edges, num_views)
    return PairGraph(num_views=num_views, sizes=sizes, edges=edges, scores=scores)


def _view_sizes(preds: Sequence[PairPrediction], num_views: int) -> tuple[tuple[int, int], ...]:
    sizes: list[tuple[int, int] | None] = [None] * num_views
    for p in preds:
        for view, pts, conf in ((p.i, p.pts3d_i, p.conf_i), (p.j, p.pts3d_j, p.conf_j)):
            if pts.ndim != 3 or pts.shape[-1] != 3 or conf.shape != pts.shape[:2]:
                raise AlignmentError(
                    f"pair ({p.i}, {p.j}): view {view} has pointmap {pts.shape} and confidence {conf.shape}; "
                    "expected (H, W, 3) and (H, W)"
                )
            hw = (int(pts.shape[0]), int(pts.shape[1]))
            if sizes[view] is None:
                sizes[view] = hw
            elif sizes[view] != hw:
                raise AlignmentError(f"view {view} has size {sizes[view]} in one pair and {hw} in another")
    missing = [v for v, s in enumerate(sizes) if s is None]
    if missing:
        raise AlignmentError(f"views {missing} appear in no pair (views are numbered 0..N-1 by the pairs)")
    return tuple(s for s in sizes if s is not None)


def _check_pair(p: PairPrediction, min_conf: float) -> float:
    """Finite values and some confident pixel; returns the edge score."""
    means = []
    for name, pts, conf in (("i", p.pts3d_i, p.conf_i), ("j", p.pts3d_j, p.conf_j)):
        if not (np.isfinite(pts).all() and np.isfinite(conf).all()):
            raise AlignmentError(f"pair ({p.i}, {p.j}): the prediction of view {name} contains NaN or inf")
        weights = confidence_weights(conf, min_conf)
        if np.count_nonzero(weights) < 3:
            raise AlignmentError(
                f"pair ({p.i}, {p.j}): (almost) no pixel of view {name} has a confidence above {min_conf}; "
                "lower the minimum confidence"
            )
        means.append(float(weights.mean()))
    return means[0] * means[1]


def _check_connected(edges: np.ndarray, num_views: int) -> None:
    component = connected_components(edges, num_views)
    main = component[0]
    cut = [v for v in range(num_views) if component[v] != main]
    if cut:
        raise AlignmentError(
            f"the pair graph is not connected: views {cut} share no pair with view 0 "
            "(use a scene graph that links every photo)"
        )


def connected_components(edges: np.ndarray, num_views: int) -> np.ndarray:
    """``(N,)`` int64 component label of each view (union-find over the undirected edges)."""
    parent = list(range(num_views))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in edges:
        parent[find(int(i))] = find(int(j))
    return np.array([find(v) for v in range(num_views)], dtype=np.int64)


def maximum_spanning_tree(graph: PairGraph) -> tuple[int, list[tuple[int, int]]]:
    """Prim's algorithm on the undirected graph weighted by the best ordered-pair score.

    Returns:
        ``(root, tree)``: the root view (a view of the best-scoring pair) and the tree's edges as
        ``(parent, child)`` view pairs, in an order where every parent is placed before its child.
    """
    best: dict[tuple[int, int], float] = {}
    for (i, j), score in zip(graph.edges.tolist(), graph.scores.tolist(), strict=True):
        key = (min(i, j), max(i, j))
        best[key] = max(best.get(key, -np.inf), score)
    neighbours: dict[int, list[tuple[float, int]]] = {v: [] for v in range(graph.num_views)}
    for (a, b), score in best.items():
        neighbours[a].append((score, b))
        neighbours[b].append((score, a))
    root = int(graph.edges[int(np.argmax(graph.scores)), 0])
    placed = {root}
    heap = [(-score, root, other) for score, other in neighbours[root]]
    heapq.heapify(heap)
    tree: list[tuple[int, int]] = []
    while heap and len(placed) < graph.num_views:
        _, parent, child = heapq.heappop(heap)
        if child in placed:
            continue
        placed.add(child)
        tree.append((parent, child))
        for score, other in neighbours[child]:
            if other not in placed:
                heapq.heappush(heap, (-score, child, other))
    return root, tree
