"""The fast global alignment: exactness, robustness on noisy predictions, priors, progress and cancel."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.align import global_align
from core.config import AlignConfig
from core.errors import Cancelled
from core.predictions import predictions_from_pairwise
from tests import synthetic


def _metrics(case, result):
    return synthetic.evaluate(case, synthetic.alignment_estimate(result), max_points=5000)


@pytest.mark.parametrize(
    ("scene", "n", "size", "graph"),
    [
        ("orbit", 2, (64, 48), "complete"),
        ("orbit", 4, (64, 48), "complete"),
        ("room", 5, (128, 96), "complete"),
        ("room", 6, (64, 48), "swin-2"),
    ],
)
def test_exact_on_noise_free_predictions(scene, n, size, graph):
    case = synthetic.make_case(scene, n=n, noise=0, size=size, seed=1, graph=graph)
    result = global_align(predictions_from_pairwise(case), AlignConfig())
    m = _metrics(case, result)
    assert m["ate"] < 1e-4
    assert m["focal_err_max"] < 1e-4
    assert m["rot_err_mean"] < 1e-2
    assert m["depth_absrel"] < 1e-4
    assert m["point_err_mean"] < 1e-4
    np.testing.assert_allclose(result.world_from_cam[0], np.eye(4), atol=1e-12)
    np.testing.assert_allclose(result.principal_points, [[size[0] / 2, size[1] / 2]] * n)
    assert result.seconds > 0 and len(result.loss_history) >= 1


@pytest.mark.parametrize("scene", ["orbit", "room"])
def test_noisy_case_within_targets(scene):
    case = synthetic.make_case(scene, n=8, noise=1, size=(128, 96), seed=0)
    result = global_align(predictions_from_pairwise(case), AlignConfig())
    m = _metrics(case, result)
    assert m["ate"] < 0.02
    assert m["focal_err_mean"] < 0.03
    assert m["rra15"] == 1.0
    # robust, and better than the spanning-tree initialisation alone
    init_only = _metrics(case, global_align(predictions_from_pairwise(case), AlignConfig(fast_niter=0)))
    assert m["chamfer"] < init_only["chamfer"]


@pytest.fixture(scope="module")
def exact_case():
    return synthetic.make_case("room", n=4, noise=0, size=(64, 48), seed=2)


def test_known_focal_stays_fixed(exact_case):
    wrong = float(exact_case["focals"][1]) * 1.1
    result = global_align(
        predictions_from_pairwise(exact_case), AlignConfig(known_focals=(None, wrong, None, None))
    )
    assert result.focals[1] == wrong
    np.testing.assert_allclose(result.focals[[0, 2, 3]], exact_case["focals"][[0, 2, 3]], rtol=0.05)


def test_shared_focal_is_exact_when_all_photos_share_one(monkeypatch):
    scene_fn, cams_fn = synthetic.SCENES["orbit"]

    def same_focal_cams(rng, n, W):
        world_from_cam, focals = cams_fn(rng, n, W)
        return world_from_cam, np.full_like(focals, focals[0])

    monkeypatch.setitem(synthetic.SCENES, "orbit", (scene_fn, same_focal_cams))
    case = synthetic.make_case("orbit", n=4, noise=0, size=(64, 48), seed=5)
    result = global_align(predictions_from_pairwise(case), AlignConfig(shared_focal=True))
    assert np.all(result.focals == result.focals[0])
    np.testing.assert_allclose(result.focals, case["focals"], rtol=1e-4)
    assert _metrics(case, result)["ate"] < 1e-4


def test_shared_focal_on_different_cameras_gives_one_compromise(exact_case):
    result = global_align(predictions_from_pairwise(exact_case), AlignConfig(shared_focal=True))
    assert np.all(result.focals == result.focals[0])
    assert exact_case["focals"].min() * 0.9 < result.focals[0] < exact_case["focals"].max() * 1.1


def test_known_poses_stay_known_and_fix_the_frame(exact_case):
    gt = exact_case["cam2world"]
    known = (gt[0], None, gt[2], None)
    result = global_align(predictions_from_pairwise(exact_case), AlignConfig(known_poses=known))
    np.testing.assert_array_equal(result.world_from_cam[0], gt[0])
    np.testing.assert_array_equal(result.world_from_cam[2], gt[2])
    # two known poses fix the world frame AND its scale: the other cameras land on the ground truth
    scale = exact_case["scene_scale"]
    np.testing.assert_allclose(result.world_from_cam[[1, 3], :3, 3], gt[[1, 3], :3, 3], atol=1e-4 * scale)
    np.testing.assert_allclose(result.world_from_cam[[1, 3], :3, :3], gt[[1, 3], :3, :3], atol=1e-5)


def test_one_known_pose_is_kept_exactly():
    case = synthetic.make_case("orbit", n=5, noise=1, size=(64, 48), seed=4)
    pose = case["cam2world"][3]
    result = global_align(
        predictions_from_pairwise(case), AlignConfig(known_poses=(None, None, None, pose, None))
    )
    np.testing.assert_array_equal(result.world_from_cam[3], pose)
    assert _metrics(case, result)["ate"] < 0.05


def test_progress_reports_every_iteration_and_cancel_stops_within_one(exact_case):
    cancel = threading.Event()
    stages: list[str] = []

    def progress(stage: str, fraction: float) -> None:
        assert 0.0 <= fraction <= 1.0
        if stage.startswith("Aligning "):
            stages.append(stage)
            if len(stages) == 2:
                cancel.set()

    with pytest.raises(Cancelled):
        global_align(
            predictions_from_pairwise(exact_case), AlignConfig(fast_tol=0.0), progress=progress, cancel=cancel
        )
    assert stages[:2] == [f"Aligning 1/{AlignConfig().fast_niter}", f"Aligning 2/{AlignConfig().fast_niter}"]
    assert len(stages) == 2


def test_optimize_pp_stays_exact_and_moves_only_with_evidence(exact_case):
    result = global_align(predictions_from_pairwise(exact_case), AlignConfig(optimize_pp=True))
    m = _metrics(exact_case, result)
    assert m["ate"] < 1e-4 and m["focal_err_max"] < 1e-4
    np.testing.assert_allclose(result.principal_points, [[32.0, 24.0]] * 4, atol=1e-3)
