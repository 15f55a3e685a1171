"""The pair graph of a scene: input validation, edge scores and the maximum-confidence spanning tree.

Views are numbered ``0..N-1`` by the ``i``/``j`` of the ordered pairs. An ordered pair ``e = (i, j)`` holds
view ``i``'s and view ``j``'s pointmaps, both in camera ``i``'s frame (paper section 3.4, ``X^{i,e}`` and
``X^{j,e}``). Everything here is numpy only and cheap (a few passes over the confidences).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import AlignmentError
from ..predictions import PairPrediction

logger = logging.getLogger(__name__)

# A pointmap with fewer confident pixels than this cannot place anything (a similarity needs 3 points).
MIN_CONFIDENT_PIXELS = 3
MAX_PAIR_WARNINGS = 10  # one warning per left-out pair, then one line for the rest


def view_label(view: int, names: Sequence[str] | None) -> str:
    """How a message names a view: its photo's name when the caller gave the names, else ``view <n>``."""
    if names is not None and 0 <= view < len(names):
        return str(names[view])
    return f"view {view}"


def _labels(views, names: Sequence[str] | None, limit: int = 5) -> str:
    views = list(views)
    text = ", ".join(view_label(v, names) for v in views[:limit])
    return text + (f" and {len(views) - limit} more" if len(views) > limit else "")


@dataclass(frozen=True)
class PairGraph:
    """Validated structure of a set of ordered pair predictions.

    Attributes:
        num_views: ``N``.
        sizes: ``N`` tuples ``(H_n, W_n)``: each view's network image size.
        edges: ``(E, 2)`` int64 ordered pairs ``(i, j)``, in the order of the predictions.
        scores: ``(E,)`` float64 edge score ``mean(w_i) * mean(w_j)`` with ``w`` the confidence weights.
        names: optional photo name of each view, used in messages.
    """

    num_views: int
    sizes: tuple[tuple[int, int], ...]
    edges: np.ndarray
    scores: np.ndarray
    names: tuple[str, ...] | None = None

    def label(self, view: int) -> str:
        """The photo name of ``view`` for messages (``view <n>`` when the names are unknown)."""
        return view_label(view, self.names)

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


def select_usable_pairs(
    preds: Sequence[PairPrediction], min_conf: float, names: Sequence[str] | None = None
) -> tuple[list[PairPrediction], tuple[str, ...]]:
    """Leave out the pairs that cannot contribute, keeping the alignment going when the rest still can.

    A pair one of whose pointmaps has (almost) no pixel above ``min_conf`` carries no weight in the
    objective (the reference weights every pixel by its confidence and never rejects a pair; here it is
    dropped instead, which is the same objective without the degenerate fit). Each left-out pair gives a
    logged, user-facing warning.

    Returns:
        ``(kept predictions in their order, warnings)``: ``preds`` itself when nothing is left out, else a
        :class:`PairSubset` view of it (a compact on-disk store stays compact: nothing is copied).

    Raises:
        AlignmentError: no pair; NaN/inf values; a view (photo) with no confident pixel in any pair; or what
            is left does not link every view (the message names the photos that are cut off).
    """
    if len(preds) == 0:
        raise AlignmentError("no image pair to align")
    num_views = max(max(int(p.i), int(p.j)) for p in preds) + 1
    kept: list[int] = []  # indices into preds
    kept_edges: list[tuple[int, int]] = []
    poor: dict[frozenset[int], int] = {}  # left-out unordered pair -> its view without confident pixels
    confident = np.zeros(num_views, dtype=bool)
    for index in range(len(preds)):
        p = preds[index]
        counts = []
        for view, pts, conf in ((p.i, p.pts3d_i, p.conf_i), (p.j, p.pts3d_j, p.conf_j)):
            if not (np.isfinite(pts).all() and np.isfinite(conf).all()):
                raise AlignmentError(
                    f"pair ({view_label(p.i, names)}, {view_label(p.j, names)}): the prediction of "
                    f"{view_label(view, names)} contains NaN or inf"
                )
            counts.append(int(np.count_nonzero(confidence_weights(conf, min_conf))))
            confident[view] |= counts[-1] >= MIN_CONFIDENT_PIXELS
        if min(counts) >= MIN_CONFIDENT_PIXELS:
            kept.append(index)
            kept_edges.append((int(p.i), int(p.j)))
        else:
            poor.setdefault(frozenset((int(p.i), int(p.j))), int(p.i if counts[0] < counts[1] else p.j))
    hopeless = [v for v in range(num_views) if not confident[v] and any(v in (p.i, p.j) for p in preds)]
    if hopeless:
        raise AlignmentError(
            f"{_labels(hopeless, names)}: no pixel has a confidence above {min_conf:g} in any pair, so "
            "the photo cannot be placed (blurred, blank, or of another scene?): remove it or lower the "
            "minimum confidence"
        )
    if not poor:
        return preds, ()
    _check_kept_connected(kept_edges, num_views, min_conf, names)
    warnings = _pair_warnings(poor, min_conf, names)
    for text in warnings:
        logger.warning("%s", text)
    return PairSubset(preds, kept), warnings


class PairSubset(Sequence):
    """The predictions ``preds[k]`` for ``k`` in ``indices``, read from ``preds`` on access (no copy)."""

    def __init__(self, preds: Sequence[PairPrediction], indices: Sequence[int]) -> None:
        self._preds, self._indices = preds, list(indices)

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._preds[k] for k in self._indices[index]]
        return self._preds[self._indices[index]]


def _pair_warnings(poor: dict[frozenset[int], int], min_conf: float, names) -> tuple[str, ...]:
    lines = []
    for pair, view in list(poor.items())[:MAX_PAIR_WARNINGS]:
        a, b = sorted(pair)
        lines.append(
            f"pair ({view_label(a, names)}, {view_label(b, names)}) left out of the alignment: (almost) no "
            f"pixel of {view_label(view, names)} has a confidence above {min_conf:g} in it"
        )
    if len(poor) > MAX_PAIR_WARNINGS:
        lines.append(f"{len(poor) - MAX_PAIR_WARNINGS} more pairs left out for the same reason")
    return tuple(lines)


def _check_kept_connected(kept: Sequence[tuple[int, int]], num_views: int, min_conf: float, names) -> None:
    """The kept pairs ``(i, j)`` still link every view, and every view is still the first image of a kept
    pair."""
    if not kept:
        raise AlignmentError(
            f"no pair has pixels with a confidence above {min_conf:g} in both of its photos: lower the "
            "minimum confidence"
        )
    edges = np.array(kept, dtype=np.int64).reshape(-1, 2)
    component = connected_components(edges, num_views)
    main = np.bincount(component).argmax()
    cut = [v for v in range(num_views) if component[v] != main]
    if cut:
        raise AlignmentError(
            f"{_labels(cut, names)} share(s) no usable pair with the other photos (every pair linking "
            f"them has (almost) no pixel with a confidence above {min_conf:g} on one side): remove them, "
            "lower the minimum confidence, or use a scene graph with more pairs"
        )
    firsts = set(edges[:, 0].tolist())
    orphans = [v for v in range(num_views) if v not in firsts]
    if orphans:
        raise AlignmentError(
            f"{_labels(orphans, names)}: none of the pairs in which the photo is the first image has "
            f"confident pixels (above {min_conf:g}) on both sides: remove it or lower the minimum confidence"
        )


def build_pair_graph(
    preds: Sequence[PairPrediction], min_conf: float, names: Sequence[str] | None = None
) -> PairGraph:
    """Validate ``preds`` and describe their graph (call :func:`select_usable_pairs` first to leave out the
    pairs without confident pixels instead of failing on them).

    Args:
        names: optional photo name of each view, used in messages.

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
    names = None if names is None else tuple(str(n) for n in names)
    sizes = _view_sizes(preds, num_views, names)
    scores = np.array([_check_pair(p, min_conf, names) for p in preds])
    _check_connected(edges, num_views, names)
    return PairGraph(num_views=num_views, sizes=sizes, edges=edges, scores=scores, names=names)


def _view_sizes(preds: Sequence[PairPrediction], num_views: int, names) -> tuple[tuple[int, int], ...]:
    sizes: list[tuple[int, int] | None] = [None] * num_views
    for p in preds:
        for view, pts, conf in ((p.i, p.pts3d_i, p.conf_i), (p.j, p.pts3d_j, p.conf_j)):
            if pts.ndim != 3 or pts.shape[-1] != 3 or conf.shape != pts.shape[:2]:
                raise AlignmentError(
                    f"pair ({p.i}, {p.j}): {view_label(view, names)} has pointmap {pts.shape} and confidence "
                    f"{conf.shape}; expected (H, W, 3) and (H, W)"
                )
            hw = (int(pts.shape[0]), int(pts.shape[1]))
            if sizes[view] is None:
                sizes[view] = hw
            elif sizes[view] != hw:
                raise AlignmentError(
                    f"{view_label(view, names)} has size {sizes[view]} in one pair and {hw} in another"
                )
    missing = [v for v, s in enumerate(sizes) if s is None]
    if missing:
        raise AlignmentError(f"views {missing} appear in no pair (views are numbered 0..N-1 by the pairs)")
    return tuple(s for s in sizes if s is not None)


def _check_pair(p: PairPrediction, min_conf: float, names) -> float:
    """Finite values and some confident pixel; returns the edge score."""
    means = []
    pair = f"pair ({view_label(p.i, names)}, {view_label(p.j, names)})"
    for view, pts, conf in ((p.i, p.pts3d_i, p.conf_i), (p.j, p.pts3d_j, p.conf_j)):
        if not (np.isfinite(pts).all() and np.isfinite(conf).all()):
            raise AlignmentError(f"{pair}: the prediction of {view_label(view, names)} contains NaN or inf")
        weights = confidence_weights(conf, min_conf)
        if np.count_nonzero(weights) < MIN_CONFIDENT_PIXELS:
            raise AlignmentError(
                f"{pair}: (almost) no pixel of {view_label(view, names)} has a confidence above "
                f"{min_conf:g}; lower the minimum confidence"
            )
        means.append(float(weights.mean()))
    return means[0] * means[1]


def _check_connected(edges: np.ndarray, num_views: int, names) -> None:
    component = connected_components(edges, num_views)
    main = component[0]
    cut = [v for v in range(num_views) if component[v] != main]
    if cut:
        shown = _labels(cut, names) if names is not None else f"views {cut}"
        raise AlignmentError(
            f"the pair graph is not connected: {shown} share no pair with {view_label(0, names)} "
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
