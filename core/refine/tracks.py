"""Tracks: one physical point and every view that saw it, built over all pairwise matches at once.

A track is a root host point (its pixel, where the patch was taken, and the aligned 3-D point) with the
sub-pixel positions at which the other views see that same physical point. Host points of different views
are joined (union-find keyed by (view, host point)) when a match of one lands on the other; the joined
track's positions still come from matching the ROOT's point along the matches (:func:`tracks_from_links`),
never from proximity, which would mix two nearby physical points and cost the sub-pixel precision the
matcher bought.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from .bundle import Observations
from .seeds import HostPoints


@dataclass(frozen=True)
class TrackSet:
    """Attributes:
    obs: the observations (view, track index, refinement-image pixel).
    points: ``(P, 3)`` float64 start positions of the tracks' world points (the aligned ones).
    host: ``(P,)`` int, the view each track's patch comes from.
    """

    obs: Observations
    points: np.ndarray
    host: np.ndarray

    @property
    def num_tracks(self) -> int:
        return len(self.points)

    def select(self, keep_obs: np.ndarray, min_views: int = 2) -> TrackSet:
        """The observations where ``keep_obs`` (``(O,)`` bool) holds, without tracks left with fewer than
        ``min_views`` observations; tracks are renumbered."""
        keep_obs = np.asarray(keep_obs, dtype=bool)
        counts = np.bincount(self.obs.point[keep_obs], minlength=self.num_tracks)
        good = counts >= min_views
        keep_obs = keep_obs & good[self.obs.point]
        new_index = np.cumsum(good) - 1
        obs = Observations(
            view=self.obs.view[keep_obs],
            point=new_index[self.obs.point[keep_obs]],
            xy=self.obs.xy[keep_obs],
        )
        return TrackSet(obs=obs, points=self.points[good], host=self.host[good])

    def with_points(self, points: np.ndarray) -> TrackSet:
        return TrackSet(self.obs, np.asarray(points, dtype=np.float64), self.host)


@dataclass(frozen=True)
class Link:
    """Matches of one host view's points in one partner view.

    Attributes:
        host: the host view ``a``; partner: the partner view ``b``.
        index: ``(K,)`` int, indices of ``a``'s host points (:class:`.seeds.HostPoints`).
        xy: ``(K, 2)`` float64 where ``b`` sees those points' patches (refinement-image pixels, sub-pixel).
        A: ``(K, 2, 2)`` float64 local affine maps, ``b``'s pixels per ``a``'s pixel.
    """

    host: int
    partner: int
    index: np.ndarray
    xy: np.ndarray
    A: np.ndarray


# ``rematch(from_view, to_view, p (K, 2), guess (K, 2), A (K, 2, 2)) -> (q (K, 2), ok (K,))``: where the
# patch of ``from_view`` at the sub-pixel ``p`` lies in ``to_view`` (a few pixels from ``guess``).
Rematch = Callable[[int, int, np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class TrackStats:
    """What :func:`tracks_from_links` did: ``merged`` host points that joined another's track through a
    shared keypoint, ``chained`` observations found by matching along a chain (not from the track's own host),
    ``conflicts`` (track, view) observations dropped because two routes disagreed."""

    merged: int
    chained: int
    conflicts: int


def tracks_from_links(
    hosts: Sequence[HostPoints],
    links: Sequence[Link],
    rematch: Rematch,
    snap_px: float = 1.5,
    agree_px: float = 1.0,
    max_depth: int = 6,
) -> tuple[TrackSet, TrackStats]:
    """Tracks over ALL pairwise matches at once: a point seen by four views is one four-view track.

    The nodes are the views' host points (keyed by (view, point index)). A match of host point ``i`` of view
    ``a`` that lands within ``snap_px`` of a host point ``k`` of view ``b`` joins the two (union-find over the
    matches; a match near no host point of ``b`` is an observation of ``a``'s point only). Joining never
    makes two points one: each connected set of points becomes ONE physical point, the patch of its root (its
    first host point), and its position in every other view comes from matching, never from proximity. From the
    root outwards (breadth first over the matches): a match of the root's own patch gives its position at
    once; a point ``k`` of ``b`` joined with an offset (the root's point lies ``e`` pixels from ``k``'s patch
    centre) passes the root's point on by matching ``b``'s patch at that sub-pixel position into the next view
    (``rematch``, guided by the match of ``k`` plus ``A e``), and back along a match the same way.

    Conflict check: where a view gets the point twice (two of its points in one set, or two routes) and the
    positions differ by more than ``agree_px``, or a match that the propagation did not use disagrees with it
    by more than ``agree_px``, that view's observation is dropped from the track.

    Args:
        hosts: per view, its host points; links: the matches (:class:`Link`).
        rematch: the patch matcher along a chain (see :data:`Rematch`).
        snap_px: how close (pixels of the partner) a match must land to a partner's host point to join it.
        agree_px: the conflict tolerance (pixels).
        max_depth: matches along a chain at most.

    Returns:
        ``(tracks, stats)``: tracks with two views or more (their start points the roots' aligned points, their
        ``host`` the roots' views), and what was merged, chained and dropped.
    """
    offsets = np.concatenate([[0], np.cumsum([len(h) for h in hosts])]).astype(np.int64)
    num_hosts = int(offsets[-1])
    host_view = np.concatenate([np.full(len(h), a, dtype=np.int64) for a, h in enumerate(hosts)] or [[]])
    host_xy = np.concatenate([h.xy for h in hosts] or [np.zeros((0, 2))]).reshape(-1, 2).astype(np.float64)
    host_X = np.concatenate([h.X for h in hosts] or [np.zeros((0, 3))]).reshape(-1, 3)
    links = [ln for ln in links if len(ln.index)]
    if not links:
        empty = Observations(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2)))
        return TrackSet(empty, np.zeros((0, 3)), np.zeros(0, np.int64)), TrackStats(0, 0, 0)
    src = np.concatenate([offsets[ln.host] + np.asarray(ln.index, np.int64) for ln in links])
    q = np.concatenate([np.asarray(ln.xy, np.float64).reshape(-1, 2) for ln in links])
    A = np.concatenate([np.asarray(ln.A, np.float64).reshape(-1, 2, 2) for ln in links])
    partner = np.concatenate([np.full(len(ln.index), ln.partner, np.int64) for ln in links])
    # join a match with the partner's host point it lands on; otherwise it is a node of its own (a leaf)
    dst = np.full(len(src), -1, dtype=np.int64)
    for b in np.unique(partner):
        sel = np.flatnonzero(partner == b)
        if len(hosts[b]) == 0:
            continue
        dist, k = cKDTree(hosts[b].xy).query(q[sel], distance_upper_bound=snap_px)
        near = np.isfinite(dist)
        dst[sel[near]] = offsets[b] + k[near]
    leaf = np.flatnonzero(dst < 0)
    dst[leaf] = num_hosts + np.arange(len(leaf))
    num_nodes = num_hosts + len(leaf)
    node_view = np.concatenate([host_view, partner[leaf]])
    node_xy = np.concatenate([host_xy, q[leaf]])
    graph = sparse.coo_matrix((np.ones(len(src)), (src, dst)), shape=(num_nodes, num_nodes)).tocsr()
    _, label = csgraph.connected_components(graph, directed=False)
    root = np.full(label.max() + 1, num_nodes, dtype=np.int64)
    np.minimum.at(root, label, np.arange(num_nodes))
    # breadth first from the roots: r[node] is where the root's point lies in node's view
    r = np.full((num_nodes, 2), np.nan)
    known = np.zeros(num_nodes, dtype=bool)
    linked = np.zeros(num_nodes, dtype=bool)
    linked[src], linked[dst] = True, True
    is_root = linked & (root[label] == np.arange(num_nodes))
    r[is_root], known[is_root] = node_xy[is_root], True
    tried = np.zeros(len(src), dtype=bool)
    used = np.zeros(len(src), dtype=bool)
    chained = 0
    for _ in range(max_depth):
        forward = ~tried & known[src] & ~known[dst]
        backward = ~tried & known[dst] & ~known[src]
        if not (forward.any() or backward.any()):
            break
        # forward: from the host's point (at offset e from its patch) into the partner
        e_f = r[src] - node_xy[src]
        guess_f = q + np.einsum("kij,kj->ki", A, np.nan_to_num(e_f))
        # backward: from the partner's position back into the host
        A_inv = np.linalg.inv(A)
        e_b = r[dst] - q
        guess_b = node_xy[src] + np.einsum("kij,kj->ki", A_inv, np.nan_to_num(e_b))
        new_r = np.full((len(src), 2), np.nan)
        for edges, from_node, to_node, guess, maps, e in (
            (np.flatnonzero(forward), src, dst, guess_f, A, e_f),
            (np.flatnonzero(backward), dst, src, guess_b, A_inv, e_b),
        ):
            exact = edges[np.hypot(*e[edges].T) < 1e-6]
            new_r[exact] = guess[exact]  # the root's own patch: the match is its position
            rest = np.setdiff1d(edges, exact)
            pairs = np.stack([node_view[from_node[rest]], node_view[to_node[rest]]], axis=-1)
            for va, vb in np.unique(pairs, axis=0) if len(rest) else []:
                sel = rest[(pairs[:, 0] == va) & (pairs[:, 1] == vb)]
                found, ok = rematch(int(va), int(vb), r[from_node[sel]], guess[sel], maps[sel])
                new_r[sel[ok]] = found[ok]
                chained += int(ok.sum())
            tried[edges] = True
        target = np.where(forward, dst, src)
        good = np.flatnonzero((forward | backward) & np.isfinite(new_r[:, 0]))
        first = np.unique(target[good], return_index=True)[1]
        good = good[first]
        r[target[good]], known[target[good]] = new_r[good], True
        used[good] = True
    # conflicts: a view with two positions that disagree, or an unused match that disagrees
    obs_node = np.flatnonzero(known)
    group = label[obs_node] * (len(hosts) + 1) + node_view[obs_node]
    uniq, inverse = np.unique(group, return_inverse=True)
    count = np.bincount(inverse, minlength=len(uniq))
    mean = np.stack([np.bincount(inverse, weights=r[obs_node, c], minlength=len(uniq)) for c in (0, 1)], -1)
    mean /= count[:, None]
    spread = np.zeros(len(uniq))
    np.maximum.at(spread, inverse, np.hypot(*(r[obs_node] - mean[inverse]).T))
    bad = spread > agree_px
    check = np.flatnonzero(~used & known[src] & known[dst])
    predicted = q[check] + np.einsum("kij,kj->ki", A[check], r[src[check]] - node_xy[src[check]])
    wrong = check[np.hypot(*(predicted - r[dst[check]]).T) > agree_px]
    wrong_group = label[dst[wrong]] * (len(hosts) + 1) + node_view[dst[wrong]]
    bad |= np.isin(uniq, wrong_group)
    conflicts = int(bad.sum())
    good_groups = np.flatnonzero(~bad)
    track_label = uniq[good_groups] // (len(hosts) + 1)
    views = uniq[good_groups] % (len(hosts) + 1)
    labels, track = np.unique(track_label, return_inverse=True)
    obs = Observations(view=views.astype(np.int64), point=track.astype(np.int64), xy=mean[good_groups])
    roots = root[labels]
    full = TrackSet(obs=obs, points=host_X[roots], host=host_view[roots])
    merged = int(np.count_nonzero(known[:num_hosts])) - int(np.count_nonzero(is_root[:num_hosts]))
    return full.select(np.ones(len(obs.view), dtype=bool), min_views=2), TrackStats(
        merged, chained, conflicts
    )
