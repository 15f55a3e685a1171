"""Tracks over all pairwise matches at once (core/refine/tracks.py): union-find keyed by (view, host point),
the root's point passed on along the matches, conflicts dropped, points too far from the root split off."""

from __future__ import annotations

import numpy as np

from core.align import global_align
from core.config import AlignConfig, RefineConfig
from core.predictions import predictions_from_pairwise
from core.refine import Priors, pair_correspondences, refine_alignment
from core.refine.seeds import HostPoints
from core.refine.tracks import Link, tracks_from_links
from tests.synthetic import evaluate, make_case

# four views that see the world plane shifted: a point at world pixel w is at w + SHIFT[v] in view v
SHIFT = np.array([[0.0, 0.0], [-20.0, 3.0], [-40.0, 5.0], [-60.0, 8.0]])


def _hosts(points_per_view: list[list[tuple[float, float]]]) -> list[HostPoints]:
    out = []
    for pts in points_per_view:
        xy = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        X = np.concatenate([xy, np.ones((len(xy), 1))], axis=1)
        out.append(HostPoints(xy=xy, X=X, dX_dxy=np.zeros((len(xy), 3, 2))))
    return out


def _link(a: int, b: int, index, xy) -> Link:
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return Link(a, b, np.asarray(index, np.int64), xy, np.tile(np.eye(2), (len(xy), 1, 1)))


def _both(a: int, i: int, b: int, k: int, kp_a, kp_b, error_ab=(0.0, 0.0), error_ba=(0.0, 0.0)):
    """Point ``i`` of view ``a`` (at ``kp_a``) matched in ``b`` and point ``k`` of ``b`` (at ``kp_b``) matched in
    ``a``, where the shifted views put them (plus the matches' errors)."""
    return [
        _link(a, b, [i], [np.asarray(kp_a) - SHIFT[a] + SHIFT[b] + error_ab]),
        _link(b, a, [k], [np.asarray(kp_b) - SHIFT[b] + SHIFT[a] + error_ba]),
    ]


def test_union_find_makes_one_four_view_track_with_the_root_point_everywhere() -> None:
    # one physical point at world pixel (50, 40); each view detected it up to 0.4 px from the others' image
    world = np.array([50.0, 40.0])
    kp = [world + SHIFT[v] + off for v, off in enumerate([(0, 0), (0.4, 0), (0, -0.4), (0.2, 0.2)])]
    hosts = _hosts([[kp[0]], [(5.0, 5.0), kp[1]], [kp[2]], [kp[3]]])
    links = (
        _both(0, 0, 1, 1, kp[0], kp[1]) + _both(1, 1, 2, 0, kp[1], kp[2]) + _both(2, 0, 3, 0, kp[2], kp[3])
    )
    tracks, stats = tracks_from_links(hosts, links)
    assert tracks.num_tracks == 1
    assert sorted(tracks.obs.view.tolist()) == [0, 1, 2, 3]
    # every observation is of view 0's point (the root), to the matcher's precision: not the nearby points
    for v, xy in zip(tracks.obs.view, tracks.obs.xy, strict=True):
        np.testing.assert_allclose(xy, world + SHIFT[v], atol=1e-9)
    np.testing.assert_allclose(tracks.points[0], [*kp[0], 1.0])
    assert tracks.host[0] == 0
    assert stats.merged == 3 and stats.transferred == 3 and stats.conflicts == 0


def test_with_the_reciprocal_check_a_one_way_match_does_not_join_two_points() -> None:
    world = np.array([50.0, 40.0])
    hosts = _hosts([[world + SHIFT[0]], [world + SHIFT[1] + (0.3, 0.0)]])
    links = [_link(0, 1, [0], [world + SHIFT[1]]), _link(1, 0, [0], [world + SHIFT[0] + (5.0, 0.0)])]
    tracks, stats = tracks_from_links(hosts, links, reciprocal=True)
    assert tracks.num_tracks == 2 and stats.merged == 0
    # one-way joins (the default): joined, and the wrong match back then places the point in view 0 twice,
    # 4.7 px apart: the conflict check drops view 0, which leaves no track
    tracks, stats = tracks_from_links(hosts, links)
    assert stats.merged == 1 and stats.conflicts == 1 and tracks.num_tracks == 0


def test_a_view_reached_twice_at_different_places_is_dropped_from_the_track() -> None:
    world = np.array([60.0, 30.0])
    kp = [world + SHIFT[v] for v in range(4)]
    hosts = _hosts([[kp[0]], [kp[1]], [kp[2]], []])
    links = _both(0, 0, 1, 0, kp[0], kp[1]) + _both(0, 0, 2, 0, kp[0], kp[2])
    links += [
        _link(0, 3, [0], [kp[3]]),
        _link(1, 3, [0], [kp[3] + (3.0, 0.0)]),  # a wrong match, 3 px off
        _link(2, 3, [0], [kp[3] + (0.1, 0.0)]),  # agrees within tolerance
    ]
    tracks, stats = tracks_from_links(hosts, links)
    assert tracks.num_tracks == 1
    assert sorted(tracks.obs.view.tolist()) == [0, 1, 2]  # view 3 seen at two places 3 px apart: dropped
    assert stats.conflicts == 1


def test_two_points_of_one_view_in_one_track_that_disagree_drop_that_view() -> None:
    world = np.array([60.0, 30.0])
    kp = [world + SHIFT[v] for v in range(4)]
    other = kp[1] + (1.2, 0.0)  # a second point of view 1, 1.2 px away
    hosts = _hosts([[kp[0]], [kp[1], other], [], [kp[3]]])
    links = _both(0, 0, 1, 0, kp[0], kp[1]) + _both(0, 0, 3, 0, kp[0], kp[3])
    # view 3's point and view 1's second point match each other (wrongly, 1.1 px off)
    links += _both(3, 0, 1, 1, kp[3], other, error_ab=(1.1, 0.0), error_ba=(-0.9, 0.0))
    tracks, stats = tracks_from_links(hosts, links)
    assert sorted(tracks.obs.view.tolist()) == [0, 3]  # view 1 has the point at two places 1.1 px apart
    assert stats.conflicts == 1


def test_a_point_too_far_from_the_root_starts_a_track_of_its_own() -> None:
    world = np.array([50.0, 40.0])
    # each view's point is 0.7 px further right than the last: joined one by one, the offset adds up
    kp = [world + SHIFT[0], world + SHIFT[1] + (0.7, 0.0), world + SHIFT[2] + (1.4, 0.0)]
    hosts = _hosts([[kp[0]], [kp[1]], [kp[2]], []])
    links = _both(0, 0, 1, 0, kp[0], kp[1]) + _both(1, 0, 2, 0, kp[1], kp[2])
    tracks, _ = tracks_from_links(hosts, links)
    # view 2's point is 1.4 px from view 0's: not in its track; it and view 1's own point are one of their own
    assert tracks.num_tracks == 2
    views = {t: sorted(tracks.obs.view[tracks.obs.point == t].tolist()) for t in range(2)}
    assert sorted(views.values()) == [[0, 1], [1, 2]]
    for t in range(2):  # each track is one physical point: the same world pixel in all its views
        mine = tracks.obs.point == t
        world_xy = tracks.obs.xy[mine] - SHIFT[tracks.obs.view[mine]]
        np.testing.assert_allclose(world_xy, np.repeat(world_xy[:1], mine.sum(), axis=0), atol=1e-9)
    first = tracks.obs.point == tracks.obs.point[np.flatnonzero(tracks.obs.view == 0)[0]]
    np.testing.assert_allclose(tracks.obs.xy[first & (tracks.obs.view == 1)][0], world + SHIFT[1])


def test_no_links_no_tracks() -> None:
    tracks, stats = tracks_from_links(_hosts([[(1.0, 2.0)], []]), [])
    assert tracks.num_tracks == 0 and len(tracks.obs.view) == 0
    assert stats.merged == stats.transferred == stats.conflicts == 0


def test_orbit_of_eight_views_gets_multi_view_tracks_and_refines_every_view() -> None:
    # eight photos around an object, 45 degrees apart (complete graph), tests/synthetic ground truth
    case = make_case("orbit", n=8, noise=1.0, size=(192, 144), seed=1, graph="complete")
    preds = predictions_from_pairwise(case)
    aligned = global_align(preds, AlignConfig())
    priors = Priors(False, np.zeros(8, bool), np.zeros(8, bool))
    refinement = refine_alignment(aligned, list(case["images"]), RefineConfig(), priors=priors,
                                  correspondences=pair_correspondences(preds))  # fmt: skip
    lengths = refinement.track_lengths
    assert lengths.sum() == refinement.num_tracks and lengths[:2].sum() == 0
    assert lengths[3:].sum() >= 0.25 * lengths.sum()  # a quarter of the tracks or more see 3 views or more
    assert refinement.refined.all(), refinement.notes

    def reprojection(alignment, dist=None):
        est = {"cam2world": alignment.world_from_cam, "focals": alignment.focals,
               "principal_points": alignment.principal_points}  # fmt: skip
        if dist is not None:
            est["dist"] = dist
        return evaluate(case, est, max_points=20000)

    before, after = reprojection(aligned), reprojection(refinement.alignment, refinement.dist)
    assert after["reproj_px_median"] < 0.5 * before["reproj_px_median"]
    assert after["reproj_px_p95"] < 0.5 * before["reproj_px_p95"]
