"""Correspondences between overlapping views, checked on the images, chained into tracks.

Each view in turn is the host: its well-textured points (:func:`.seeds.host_points`) are predicted in the
views that overlap it most (reprojection through the aligned cameras and depth, occlusion-checked), then
found there to a fraction of a pixel by the patch matcher with a forward-backward check; where its own patch
is not found (wide baselines), the patch of a partner that found it is searched instead
(:func:`extend_through_partners`). The matches of all pairs are then joined into tracks at once
(:func:`.tracks.tracks_from_links`).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..progress import ProgressFn, check_cancel, no_progress
from .lucas_kanade import PatchParams, match_patches
from .network_seeds import PairCorrespondences, correspondence_index, network_guesses
from .pyramid import build_pyramid, to_grey
from .seeds import HostPoints, SeedParams, host_points, predict_in
from .tracks import Link, TrackSet, TrackStats, tracks_from_links
from .views import RefineView
from .warps import AffineWarp, PlaneWarp

logger = logging.getLogger(__name__)

# guided matching: neighbours whose median correction guides a point, and the narrow search's radius
_NEIGHBOURS = 5
_NARROW_MIN_PX = 3.0
_NARROW_FRACTION = 0.25
# pyramid levels above the search's, for templates of views that see a surface much larger than their partner
_EXTRA_LEVELS = 2


@dataclass(frozen=True)
class MatchParams:
    """Attributes:
    seeds: where the points come from (:class:`.seeds.SeedParams`).
    track: the patch matcher; its ``levels`` is set from ``search_fraction`` unless given.
    max_partners: views each host is matched with at most.
    min_overlap: fraction of the host's points a partner must see.
    min_points: host points a partner must see.
    search_fraction: how far (fraction of the image's long side) a match may be from its first guess.
    """

    seeds: SeedParams = SeedParams()
    track: PatchParams = PatchParams()
    max_partners: int = 8
    min_overlap: float = 0.05
    min_points: int = 20
    search_fraction: float = 0.05


def pyramid_levels(image_size: tuple[int, int], window: int, search_fraction: float) -> int:
    """Levels a pyramid needs for a search of ``search_fraction`` of the long side (at most 8 pixels of the
    top level, see :func:`.lucas_kanade.match_patches`), while its top level stays larger than a few patches."""
    radius = search_fraction * max(image_size)
    need = math.ceil(math.log2(max(radius, 1.0) / 8.0)) + 1
    room = math.floor(math.log2(max(min(image_size) / (4.0 * window), 1.0))) + 1
    return int(np.clip(need, 1, room))


def choose_partners(views: Sequence[RefineView], host: int, points: HostPoints, params: MatchParams):
    """The views that see most of the host's points, best first: ``[(view, (q0, A, visible))]`` with the
    first guesses of :func:`.seeds.predict_in`. A partner must see ``min_overlap`` of the points and at least
    ``min_points`` of them."""
    if len(points) == 0:
        return []
    seen = []
    for b, view in enumerate(views):
        if b == host:
            continue
        guess = predict_in(view, points, params.seeds, params.track.window)
        count = int(guess[2].sum())
        if count >= max(params.min_points, params.min_overlap * len(points)):
            seen.append((count, b, guess))
    seen.sort(key=lambda item: -item[0])
    return [(b, guess) for _, b, guess in seen[: params.max_partners]]


def match_pair(
    pyr_a, pyr_b, xy, warp, q0, radius: float, params: PatchParams
) -> tuple[np.ndarray, np.ndarray]:
    """Matches of host points ``xy`` ``(M, 2)`` in one partner view, guided by their neighbours.

    First the distinct matches within ``radius`` of their guesses (:func:`.lucas_kanade.match_patches`). Their
    corrections (found minus guessed position) vary slowly across the image (they come from the aligned
    camera's and depth's errors), so the guess of each point not found is then corrected by the median
    correction of its nearest distinct matches and searched again within a few pixels: repetitive texture,
    which has no distinct peak in the wide search, has one in the narrow one.

    Returns:
        ``(q, ok)``: ``(M, 2)`` positions in the partner's image and ``(M,)`` bool.
    """
    q, ok = match_patches(pyr_a, pyr_b, xy, warp, q0, radius, params)
    narrow = max(_NARROW_MIN_PX, _NARROW_FRACTION * radius)
    if ok.sum() < _NEIGHBOURS or radius <= narrow:
        return q, ok
    found, missed = np.flatnonzero(ok), np.flatnonzero(~ok)
    _, nn = cKDTree(xy[found]).query(xy[missed], k=_NEIGHBOURS)
    guess = q0[missed] + np.median((q - q0)[found][nn], axis=1)
    q[missed], ok[missed] = match_patches(
        pyr_a, pyr_b, xy[missed], warp.subset(missed), guess, narrow, params
    )
    return q, ok


@dataclass(frozen=True)
class ViewMatches:
    """What the matching found, per view: ``points`` host points chosen, ``partners`` the views it was
    matched with, ``found`` correspondences found from its points."""

    points: int
    partners: tuple[int, ...]
    found: int


def match_views(
    views: Sequence[RefineView],
    params: MatchParams,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    correspondences: Sequence[PairCorrespondences] | None = None,
) -> tuple[TrackSet, list[ViewMatches], TrackStats]:
    """Tracks of sub-pixel correspondences between all overlapping views.

    Args:
        correspondences: the network's reciprocal nearest neighbours per graph pair
            (:func:`.network_seeds.pair_correspondences`): first guesses that do not depend on the alignment
            (:func:`_match_guided`); ``None``: reprojection through the aligned cameras only.

    Returns:
        ``(tracks, per_view, joined)``: the tracks over all pairs at once (:func:`.tracks.tracks_from_links`;
        observations in refinement-image pixels, aligned start points), what each host view gave, and what
        the track building merged, chained and dropped.
    """
    progress = progress or no_progress
    network = correspondence_index(correspondences)
    greys = [to_grey(v.image) for v in views]
    radius = [params.search_fraction * max(v.image_size) for v in views]
    levels = [pyramid_levels(v.image_size, params.track.window, params.search_fraction) for v in views]
    pyramids = [build_pyramid(g, max(levels) + _EXTRA_LEVELS) for g in greys]
    hosts, links, stats = [], [], []
    for a, view in enumerate(views):
        check_cancel(cancel)
        progress(f"Matching {a + 1}/{len(views)}", a / len(views))
        candidates = host_points(view, pyramids[a][0], params.seeds, params.track.window)
        partners = choose_partners(views, a, candidates, params)
        seen = np.zeros(len(candidates), dtype=bool)
        for _, (_, _, visible) in partners:
            seen |= visible
        chosen = np.flatnonzero(seen)[: params.seeds.max_points]
        points = candidates.subset(chosen)
        hosts.append(points)
        found = 0
        attempts = []
        for b, (q0, A, visible) in partners:
            q0, A, visible = q0[chosen], A[chosen], visible[chosen]
            idx = np.flatnonzero(visible)
            warp = PlaneWarp(
                points.X[idx], points.dX_dxy[idx], views[b].world_from_cam, views[b].K, views[b].dist
            )
            q, ok = _match_guided(
                pyramids[a], pyramids[b], points.xy[idx], warp, q0[idx], radius[b], params.track,
                network_guesses(view, views[b], points.xy[idx], q0[idx], network[(a, b)])
                if (a, b) in network else None,
            )  # fmt: skip
            links.append(Link(a, b, idx[ok], q[ok], warp.A[ok]))
            attempts.append((b, idx, q0[idx], q, ok, warp.A))
            found += int(ok.sum())
        extra = extend_through_partners(pyramids, a, len(points), attempts, radius, params.track)
        links.extend(extra)
        found += sum(len(ln.index) for ln in extra)
        stats.append(ViewMatches(points=len(points), partners=tuple(b for b, _ in partners), found=found))
        logger.debug("view %d: %d points, partners %s, %d matches (%d through a partner)", a, len(points),
                     tuple(b for b, _ in partners), found, sum(len(ln.index) for ln in extra))  # fmt: skip
    progress("Matching done", 1.0)
    tracks, joined = tracks_from_links(hosts, links)
    logger.debug("tracks: %d merged host points, %d transferred positions, %d conflicts", joined.merged,
                 joined.transferred, joined.conflicts)  # fmt: skip
    return tracks, stats, joined


def _match_guided(pyr_a, pyr_b, xy, warp, q0, radius, params: PatchParams, net=None):
    """:func:`match_pair` from the reprojection guesses ``q0`` ``(M, 2)`` and the network's ``net`` ``(M, 2)``
    (NaN where it has none). The network's pairwise geometry is typically a few pixels off at wide baselines
    (less accurate than a good global alignment, which fuses all pairs), but it does not drift with the
    alignment: where the two guesses are farther apart than the search radius (the reprojection guess cannot
    reach the network's) the network's is tried first, and a point not found from its first guess is searched
    again from the other one when they are more than half the radius apart."""
    if net is None or not np.isfinite(net).any():
        return match_pair(pyr_a, pyr_b, xy, warp, q0, radius, params)
    has = np.all(np.isfinite(net), axis=-1)
    gap = np.where(has, np.hypot(*(np.nan_to_num(net) - q0).T), 0.0)
    use_net = has & (gap > radius)
    first = np.where(use_net[:, None], net, q0)
    q, ok = match_pair(pyr_a, pyr_b, xy, warp, first, radius, params)
    retry = np.flatnonzero(~ok & has & (gap > 0.5 * radius))
    if len(retry):
        other = np.where(use_net[retry, None], q0[retry], net[retry])
        q[retry], ok[retry] = match_pair(pyr_a, pyr_b, xy[retry], warp.subset(retry), other, radius, params)
    return q, ok


def extend_through_partners(
    pyramids, host: int, num_points: int, attempts, radius, params: PatchParams
) -> list[Link]:
    """Find the host's points in the partners where its own patch was not found, from a partner that did find
    them: wide baselines change a patch's look too much for one match, but little between neighbours.

    For a host point visible in partner ``c`` but not matched there, the patch of the partner ``b`` that saw it
    with the smallest change of look towards ``c`` (its local affine map ``A_bc = A_ac A_ab^-1`` closest to
    the identity) is taken at the sub-pixel position where ``b`` saw the host's point and searched in ``c``
    around the first guess of the host point (:func:`.lucas_kanade.match_patches`). What it finds is where ``c``
    sees the SAME physical point (the host's patch centre), so it joins the host point's track.

    Args:
        pyramids: per view, its pyramid; host: the host view; num_points: its points.
        attempts: per partner ``b``: ``(b, idx (K,), q0 (K, 2) first guesses, q (K, 2), ok (K,), A (K, 2, 2))``
            for the host points ``idx`` visible in ``b``.
        radius: per view, the search radius (pixels); params: the patch matcher.

    Returns:
        links of the host's points in their extra views (``A`` the host-to-partner maps).
    """
    p = len(attempts)
    if p < 2 or num_points == 0:
        return []
    matched = np.zeros((p, num_points), dtype=bool)
    where = np.zeros((p, num_points, 2))
    maps = np.tile(np.eye(2), (p, num_points, 1, 1))
    for k, (_, idx, _, q, ok, A) in enumerate(attempts):
        matched[k, idx[ok]] = True
        where[k, idx] = q
        maps[k, idx] = A
    out = []
    for kc, (c, idx, q0, _, ok, A_ac) in enumerate(attempts):
        miss = np.flatnonzero(~ok)
        if len(miss) == 0:
            continue
        pts = idx[miss]
        # per source partner, how far its look towards c is from the identity
        A_bc = np.einsum("mij,pmjk->pmik", A_ac[miss], np.linalg.inv(maps[:, pts]))
        cost = np.linalg.norm(A_bc - np.eye(2), axis=(2, 3))
        cost[~matched[:, pts]] = np.inf
        cost[kc] = np.inf
        best = np.argmin(cost, axis=0)
        has = np.isfinite(cost[best, np.arange(len(pts))])
        for kb in np.unique(best[has]):
            sel = np.flatnonzero(has & (best == kb))
            b = attempts[kb][0]
            q, found = match_patches(pyramids[b], pyramids[c], where[kb, pts[sel]], AffineWarp(A_bc[kb, sel]),
                                     q0[miss[sel]], radius[c], params)  # fmt: skip
            if found.any():
                out.append(Link(host, c, pts[sel][found], q[found], A_ac[miss[sel]][found]))
    return out
