"""Tracks: one physical point and every view that saw it.

A track is a host view's point (its pixel, where the patch was taken, and the aligned 3-D point) with the
sub-pixel positions at which the partner views saw that same patch. All observations of a track are of ONE
patch: they are never merged with another view's points by proximity, which would mix two nearby physical
points and cost the sub-pixel precision the matcher bought.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


def tracks_from_matches(
    hosts: Sequence[HostPoints], links: Sequence[tuple[int, int, np.ndarray, np.ndarray]]
) -> TrackSet:
    """Assemble tracks from each host's points and the matches found in the partner views.

    Args:
        hosts: per view, its host points.
        links: ``(host view a, partner view b, indices of a's points (K,), positions in b (K, 2))``.

    Returns:
        The tracks with at least one partner observation; each has its host observation first.
    """
    offsets = np.concatenate([[0], np.cumsum([len(h) for h in hosts])])
    views, points, xys = [], [], []
    for a, _b, idx, q in links:
        views.append(np.full(len(idx), _b, dtype=np.int64))
        points.append(offsets[a] + np.asarray(idx, dtype=np.int64))
        xys.append(np.asarray(q, dtype=np.float64).reshape(-1, 2))
    linked = np.zeros(offsets[-1], dtype=bool)
    for p in points:
        linked[p] = True
    host_view = np.concatenate([np.full(len(h), a, dtype=np.int64) for a, h in enumerate(hosts)] or [[]])
    host_xy = np.concatenate([h.xy for h in hosts] or [np.zeros((0, 2))]).reshape(-1, 2)
    host_X = np.concatenate([h.X for h in hosts] or [np.zeros((0, 3))]).reshape(-1, 3)
    ids = np.flatnonzero(linked)
    obs = Observations(
        view=np.concatenate([host_view[ids], *views]).astype(np.int64),
        point=np.concatenate([ids, *points]).astype(np.int64),
        xy=np.concatenate([host_xy[ids], *xys]).reshape(-1, 2),
    )
    full = TrackSet(obs=obs, points=host_X, host=host_view.astype(np.int64))
    return full.select(np.ones(len(obs.view), dtype=bool), min_views=2)
