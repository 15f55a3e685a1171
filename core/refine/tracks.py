"""Tracks: one physical point and every view that saw it, built over all pairwise matches at once.

A track is a root host point (its pixel, where the patch was taken, and the aligned 3-D point) with the
sub-pixel positions at which the other views see that same physical point. Host points of different views
are joined (union-find keyed by (view, host point)) when a match of one lands on the other; the joined
track's positions still come from matching the ROOT's point along the matches (:func:`tracks_from_links`),
never from proximity, which would mix two nearby physical points and cost the sub-pixel precision the
matcher bought.
"""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True)
class TrackStats:
    """What :func:`tracks_from_links` did: ``merged`` host points that joined another's track through a
    shared point, ``transferred`` observations passed on from a joined point (not the root's own match),
    ``conflicts`` (track, view) observations dropped because two matches disagreed."""

    merged: int
    transferred: int
    conflicts: int


def tracks_from_links(
    hosts: Sequence[HostPoints],
    links: Sequence[Link],
    snap_px: float = 0.75,
    agree_px: float = 0.75,
    max_offset_px: float = 1.0,
    max_depth: int = 8,
    reciprocal: bool = False,
) -> tuple[TrackSet, TrackStats]:
    """Tracks over ALL pairwise matches at once: a point seen by four views is one four-view track.

    The nodes are the views' host points (keyed by (view, point index)). A match of host point ``i`` of view
    ``a`` that lands within ``snap_px`` of a host point ``k`` of view ``b`` (with ``reciprocal``: and ``k``'s
    own match in ``a`` lands within ``snap_px`` of ``i``) joins the two (union-find over the matches; any
    other match is an observation of ``a``'s point only). Joining never makes
    two points one: each connected set becomes ONE physical point, the patch centre of its root (its first
    host point), and its position in every view comes from the matches, never from proximity. ``k``'s patch
    centre lies ``e`` pixels (``|e| <= snap_px``) from the root's point in ``b``; ``k``'s own match in view
    ``c`` at ``q`` then puts the root's point at ``q + A e`` (``A``: the match's local affine map, accurate to
    a few percent, so the transfer adds hundredths of a pixel), and backwards along a match the same way.
    A point whose offset from the root would exceed ``max_offset_px`` (offsets add up along a chain) is not
    joined: it starts a track of its own. Each view's observation is the mean over every match that places
    the track there (averaging the matches of the joined points' patches; on synthgen orbit N=12 that kept
    the refined cameras 0.46 px off where the root's own matches alone gave 0.63 px).

    Conflict check: where a view gets the point at places more than ``agree_px`` apart (two of its points in
    one set, or two routes), that view's observation is dropped from the track.

    Args:
        hosts: per view, its host points; links: the matches (:class:`Link`).
        snap_px: how close (pixels of the partner) a match must land to a partner's host point to join it.
        agree_px: the conflict tolerance (pixels); max_offset_px: see above.
        max_depth: matches along a chain at most.
        reciprocal: join only where the partner's point matched back lands on the host's point (off by
            default: on synthgen shot N=24 it kept the refined cameras 2.05 px off where one-way joins reach
            0.74 px; docs/BENCHMARKS.md).

    Returns:
        ``(tracks, stats)``: tracks with two views or more (their start points the roots' aligned points, their
        ``host`` the roots' views), and what was merged, transferred and dropped.
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
    A_inv = np.linalg.inv(A)
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
    # with ``reciprocal`` only a join both ways counts: the partner's point, matched back, lands on the
    # host's point (a wrong match that happens to land on a point glues two tracks together)
    joined = np.flatnonzero(dst >= 0)
    there = src[joined] * num_hosts + dst[joined]
    back = dst[joined] * num_hosts + src[joined]
    if reciprocal:
        dst[joined[~np.isin(back, there)]] = -1
    leaf = np.flatnonzero(dst < 0)
    dst[leaf] = num_hosts + np.arange(len(leaf))
    num_nodes = num_hosts + len(leaf)
    node_view = np.concatenate([host_view, partner[leaf]])
    node_xy = np.concatenate([host_xy, q[leaf]])
    # breadth first from each set's root over the matches, in rounds: a point not reached within the offset
    # bound roots a track of its own in the next round (a copy of its node when it is in a track already)
    origin = np.concatenate([np.arange(num_hosts), np.full(len(leaf), -1)])  # the host point of a node
    label = np.full(num_nodes, -1, dtype=np.int64)  # the track of each node that got a position
    r = np.full((num_nodes, 2), np.nan)  # where the track's root point lies in the node's view
    roots, root_nodes, num_labels = [], [], 0
    for _ in range(max_depth):
        pending = (label[src] < 0) | (label[dst] < 0)
        if not pending.any():
            break
        taken_src = np.flatnonzero(pending & (label[src] >= 0))
        taken_dst = np.flatnonzero(pending & (label[dst] >= 0))
        nodes = np.unique(np.concatenate([src[taken_src], dst[taken_dst]]))
        copy = np.full(len(node_xy), -1, dtype=np.int64)
        copy[nodes] = len(node_xy) + np.arange(len(nodes))
        src[taken_src], dst[taken_dst] = copy[src[taken_src]], copy[dst[taken_dst]]
        node_xy = np.concatenate([node_xy, node_xy[nodes]])
        node_view = np.concatenate([node_view, node_view[nodes]])
        origin = np.concatenate([origin, origin[nodes]])
        label = np.concatenate([label, np.full(len(nodes), -1, dtype=np.int64)])
        r = np.concatenate([r, np.full((len(nodes), 2), np.nan)])
        num_nodes = len(node_xy)
        graph = sparse.coo_matrix((np.ones(int(pending.sum())), (src[pending], dst[pending])),
                                  shape=(num_nodes,) * 2)  # fmt: skip
        _, comp = csgraph.connected_components(graph.tocsr(), directed=False)
        # each set's root: its first host point (every match starts at one)
        open_node = np.zeros(num_nodes, dtype=bool)
        open_node[src[pending]] = True
        first = np.full(comp.max() + 1, num_nodes, dtype=np.int64)
        np.minimum.at(first, comp[open_node], np.flatnonzero(open_node))
        new_roots = first[first < num_nodes]
        label[new_roots] = num_labels + np.arange(len(new_roots))
        r[new_roots] = node_xy[new_roots]
        roots.append(origin[new_roots])
        root_nodes.append(new_roots)
        num_labels += len(new_roots)
        for _ in range(max_depth):
            known = label >= 0
            forward = pending & known[src] & ~known[dst]
            backward = pending & known[dst] & ~known[src]
            est = _transfer(forward, backward, src, dst, q, A, A_inv, node_xy, r)
            target = np.where(forward, dst, src)
            from_node = np.where(forward, src, dst)
            e = est - node_xy[target]
            good = np.flatnonzero((forward | backward) & (np.hypot(*e.T) <= max_offset_px))
            if len(good) == 0:
                break
            good = good[np.unique(target[good], return_index=True)[1]]
            t = target[good]
            r[t], label[t] = est[good], label[from_node[good]]
    roots = np.concatenate(roots) if roots else np.zeros(0, dtype=np.int64)
    # every match inside a track places its point in a view: the root's own position, and both ends of each
    # match (forward and backward transfers); the view's observation is their mean
    known = label >= 0
    inside = known[src] & known[dst] & (label[src] == label[dst])
    both = np.flatnonzero(inside)
    fwd = _transfer(inside, np.zeros_like(inside), src, dst, q, A, A_inv, node_xy, r)[both]
    bwd = _transfer(np.zeros_like(inside), inside, src, dst, q, A, A_inv, node_xy, r)[both]
    is_root = np.zeros(num_nodes, dtype=bool)
    is_root[np.concatenate(root_nodes)] = True
    place_node = np.concatenate([dst[both], src[both], np.flatnonzero(is_root)])
    place_xy = np.concatenate([fwd, bwd, node_xy[is_root]])
    stride = len(hosts) + 1
    group = label[place_node] * stride + node_view[place_node]
    uniq, inverse = np.unique(group, return_inverse=True)
    lo = np.full((len(uniq), 2), np.inf)
    hi = np.full((len(uniq), 2), -np.inf)
    np.minimum.at(lo, inverse, place_xy)
    np.maximum.at(hi, inverse, place_xy)
    bad = np.hypot(*(hi - lo).T) > agree_px  # the extent of the places a view got
    # the observation: the mean of all its places (every match that places the point in the view counts)
    count = np.bincount(inverse, minlength=len(uniq)).astype(np.float64)
    xy = np.stack([np.bincount(inverse, weights=place_xy[:, c], minlength=len(uniq)) for c in (0, 1)], -1)
    xy /= count[:, None]
    good_groups = np.flatnonzero(~bad)
    obs = Observations(view=(uniq[good_groups] % stride).astype(np.int64),
                       point=(uniq[good_groups] // stride).astype(np.int64), xy=xy[good_groups])  # fmt: skip
    full = TrackSet(obs=obs, points=host_X[roots], host=host_view[roots])
    merged = int(np.count_nonzero(known & (origin >= 0))) - len(roots)
    transferred = int(np.count_nonzero(np.hypot(*(r[known] - node_xy[known]).T) > 1e-9))
    stats = TrackStats(merged, transferred, int(bad.sum()))
    return full.select(np.ones(len(obs.view), dtype=bool), min_views=2), stats


def _transfer(forward, backward, src, dst, q, A, A_inv, node_xy, r) -> np.ndarray:
    """``(E, 2)``: along each ``forward`` match, where the track's point lies in the partner (``q + A e``,
    ``e = r - p`` the host point's offset from the track's point); along each ``backward`` one, where it lies
    in the host view (``p + A^-1 (r_partner - q)``); NaN elsewhere."""
    est = np.full((len(src), 2), np.nan)
    f, b = np.flatnonzero(forward), np.flatnonzero(backward)
    est[f] = q[f] + np.einsum("kij,kj->ki", A[f], r[src[f]] - node_xy[src[f]])
    est[b] = node_xy[src[b]] + np.einsum("kij,kj->ki", A_inv[b], r[dst[b]] - q[b])
    return est
