"""Cameras you can trust (issue 18): the refinement's figures against the ground truth of tests/synthetic.

Noise-free cases stay exact; noisy ones meet the accuracy targets; the figure reported next to each camera
(max(solve error, uncertainty)) is within a factor 3 of its true reprojection error when the camera is
refined, and never a sub-pixel figure on a wrong camera (a view the tracks cannot determine is ``kept``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.align import global_align
from core.config import AlignConfig, RefineConfig
from core.predictions import predictions_from_pairwise
from core.refine import Priors, refine_alignment
from tests.synthetic import evaluate, make_case

HONEST_FACTOR = 3.0


def _run(
    scene: str,
    n: int,
    noise: float,
    size,
    seed: int,
    graph: str = "complete",
    lens=(0.0, 0.0),
    disturb=None,
):
    """Align and refine a tests/synthetic case; ``lens`` its ``(k1, k2)`` (estimated when not zero);
    ``disturb(aligned) -> aligned`` spoils the alignment before the refinement."""
    footage = scene in ("shot", "arc")
    case = make_case(scene, n=n, noise=noise, size=size, seed=seed, graph=graph, k1=lens[0], k2=lens[1])
    aligned = global_align(predictions_from_pairwise(case), AlignConfig(shared_focal=footage))
    if disturb is not None:
        aligned = disturb(aligned)
    priors = Priors(footage, np.zeros(n, bool), np.zeros(n, bool))
    config = RefineConfig(distortion="k1k2" if any(lens) else "none")
    refinement = refine_alignment(aligned, list(case["images"]), config, priors=priors)
    est = {
        "cam2world": refinement.alignment.world_from_cam,
        "focals": refinement.alignment.focals,
        "principal_points": refinement.alignment.principal_points,
        "dist": refinement.dist,
    }
    return refinement, evaluate(case, est, max_points=20000)


def _assert_honest(refinement, metrics) -> None:
    truth = metrics["reproj_px_median_per_view"]
    reported = refinement.reported_px
    assert np.all(reported > 0) and np.all(refinement.uncertainty_px > 0)
    for v, status in enumerate(refinement.notes):
        assert status == "refined" or status.startswith("kept: ")
        # never a figure far below the truth: a wrong camera never reads as a good one
        assert reported[v] >= truth[v] / HONEST_FACTOR, (v, status, reported[v], truth[v])
        if status == "refined":
            assert reported[v] <= HONEST_FACTOR * truth[v], (v, reported[v], truth[v])


def test_noise_free_footage_stays_exact():
    refinement, m = _run("shot", 8, 0.0, (128, 96), seed=1, graph="logwin-4-noncyclic")
    assert m["reproj_px_median"] < 1e-3 and m["focal_err_mean"] < 1e-5
    assert all(s == "refined" or s.startswith("kept: ") for s in refinement.notes)
    assert np.all(refinement.uncertainty_px > 0)  # never 0, even where nothing moved


def test_noisy_shot_meets_the_targets_and_reports_the_truth():
    refinement, m = _run("shot", 12, 1.0, (128, 96), seed=1, graph="logwin-4-noncyclic")
    assert refinement.refined.sum() >= 10
    assert m["reproj_px_median"] <= 0.2 and m["reproj_px_p95"] <= 0.5 and m["focal_err_mean"] <= 0.003
    assert refinement.track_lengths[3:].sum() > refinement.track_lengths[2]  # mostly multi-view tracks
    _assert_honest(refinement, m)


def test_wide_baseline_photos_meet_the_targets_and_report_the_truth():
    refinement, m = _run("orbit", 8, 1.0, (256, 192), seed=3)
    assert refinement.refined.all()
    assert m["reproj_px_median"] <= 0.2 and m["reproj_px_p95"] <= 0.5 and m["focal_err_mean"] <= 0.003
    _assert_honest(refinement, m)


@pytest.mark.parametrize(("scene", "seed"), [("room", 1), ("orbit", 3)])
def test_two_views_never_report_a_false_sub_pixel_figure(scene, seed):
    """Two views only: two-view tracks (room) or no overlap at all (orbit, opposite sides of the object)."""
    refinement, m = _run(scene, 2, 1.0, (128, 96), seed=seed)
    _assert_honest(refinement, m)
    if refinement.num_tracks == 0:
        assert not refinement.refined.any() and all(s.startswith("kept: ") for s in refinement.notes)
        assert np.all(refinement.reported_px >= 1.0)  # the alignment's uncertainty: pixels, not sub-pixel


def test_arc_with_lens_distortion_estimates_it_and_reports_the_truth():
    """k1 -0.12, k2 0.03 estimated with one shared lens. The camera prior holds the focal near the
    alignment's (3 % off on this case) while the tracks want it elsewhere: the figure includes how far the
    prior holds each camera from where the tracks put it (it read 0.15 px against 1.2 px true before)."""
    refinement, m = _run("arc", 12, 1.0, (128, 96), seed=1, graph="logwin-4-noncyclic", lens=(-0.12, 0.03))
    assert refinement.refined.sum() >= 10
    assert np.max(np.abs(refinement.dist[:, 0] + 0.12)) <= 0.01
    _assert_honest(refinement, m)


def _turned(view: int, degrees: float):
    """A ``disturb`` for :func:`_run`: view ``view``'s aligned camera turned by ``degrees`` about its y axis
    (its points turn with it: a wrong camera whose own pointmap still agrees with it)."""

    def disturb(aligned):
        a = np.radians(degrees)
        turn = np.eye(4)
        turn[:3, :3] = [[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]]
        world_from_cam = aligned.world_from_cam.copy()
        world_from_cam[view] = world_from_cam[view] @ turn
        pts3d = list(aligned.pts3d)
        R = world_from_cam[view, :3, :3] @ aligned.world_from_cam[view, :3, :3].T
        centre = aligned.world_from_cam[view, :3, 3]
        pts3d[view] = ((pts3d[view] - centre) @ R.T + centre).astype(pts3d[view].dtype)
        return replace(aligned, world_from_cam=world_from_cam, pts3d=pts3d)

    return disturb


@pytest.mark.parametrize("turn", [0.0, 3.0])
@pytest.mark.parametrize(("scene", "n", "seed"), [("room", 2, 1), ("orbit", 3, 2)])
def test_a_camera_that_the_tracks_cannot_determine_never_reads_sub_pixel(scene, n, seed, turn):
    """Under-determined on purpose, at 256x192 where the views do share tracks: two views of a room (two-view
    tracks only, each view its own focal, which they cannot determine) or three views around an object, the
    last view's aligned camera as it is or turned by 3 degrees. Before the held focal entered the covariance
    the room's views read 0.33 px against 1.1-1.5 px true."""
    refinement, m = _run(scene, n, 1.0, (256, 192), seed=seed, disturb=_turned(n - 1, turn) if turn else None)
    _assert_honest(refinement, m)
    truth = m["reproj_px_median_per_view"]
    for v in np.flatnonzero(truth > 1.0):  # a wrong camera: kept, or a figure that says so
        assert refinement.notes[v].startswith("kept: ") or refinement.reported_px[v] > 0.5, (
            v,
            refinement.notes,
        )


def test_a_disturbed_shot_is_refined_or_kept_honestly():
    """Forward motion with one frame turned by 2 degrees in the middle of the shot: the refinement brings
    it back (its tracks reach the frames on both sides) and every figure stays within a factor 3 of the
    truth."""
    refinement, m = _run(
        "shot", 10, 1.0, (128, 96), seed=2, graph="logwin-4-noncyclic", disturb=_turned(5, 2.0)
    )
    _assert_honest(refinement, m)
    assert refinement.refined[5] and m["reproj_px_median_per_view"][5] <= 0.3
