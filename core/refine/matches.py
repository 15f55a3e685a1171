"""Correspondences between overlapping views, checked on the images, chained into tracks.

Each view in turn is the host: its well-textured points (:func:`.seeds.host_points`) are predicted in the
views that overlap it most (reprojection through the aligned cameras and depth, occlusion-checked), then
found there to a fraction of a pixel by the patch matcher with a forward-backward check. A host point and
what the other views saw of it form a track (:mod:`.tracks`).
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
from .pyramid import build_pyramid, to_grey
from .seeds import HostPoints, SeedParams, host_points, predict_in
from .tracks import TrackSet, tracks_from_matches
from .views import RefineView
from .warps import PlaneWarp

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
) -> tuple[TrackSet, list[ViewMatches]]:
    """Tracks of sub-pixel correspondences between all overlapping views.

    Returns:
        ``(tracks, per_view)``: the tracks (observations in refinement-image pixels, aligned start points) and
        what each host view gave.
    """
    progress = progress or no_progress
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
        for b, (q0, A, visible) in partners:
            q0, A, visible = q0[chosen], A[chosen], visible[chosen]
            idx = np.flatnonzero(visible)
            warp = PlaneWarp(
                points.X[idx], points.dX_dxy[idx], views[b].world_from_cam, views[b].K, views[b].dist
            )
            q, ok = match_pair(
                pyramids[a], pyramids[b], points.xy[idx], warp, q0[idx], radius[b], params.track
            )
            links.append((a, b, idx[ok], q[ok]))
            found += int(ok.sum())
        stats.append(ViewMatches(points=len(points), partners=tuple(b for b, _ in partners), found=found))
        logger.debug("view %d: %d points, partners %s, %d matches", a, len(points), partners, found)
    progress("Matching done", 1.0)
    return tracks_from_matches(hosts, links), stats
