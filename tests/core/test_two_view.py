"""core.align.two_view: the closed-form one- and two-view cases (reference PairViewer goldens, tests.synthetic)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from core.align.two_view import align_single_view, align_two_views
from core.config import AlignConfig
from core.errors import AlignmentError
from core.geometry.cameras import depth_to_cam_points
from core.geometry.transforms import invert_rigid, rotation_angle_deg, transform_points
from core.predictions import PairPrediction, predictions_from_pairwise
from tests import synthetic
from tests.reference_data import reference

REF = reference()  # the full ../shared/reference or the vendored subset (tests.reference_data)


def _golden_preds(data) -> list[PairPrediction]:
    preds = []
    for i, j in np.asarray(data["edges"]):
        key = f"edge{i}{j}"
        pts_i, pts_j = data[f"{key}_pred1_pts3d"], data[f"{key}_pred2_pts3d_in_other_view"]
        if f"{key}_conf" in data:  # exact file: one constant confidence per edge
            conf_i = conf_j = np.full(pts_i.shape[:2], data[f"{key}_conf"], dtype=np.float32)
        else:
            conf_i, conf_j = data[f"{key}_pred1_conf"], data[f"{key}_pred2_conf"]
        preds.append(PairPrediction(int(i), int(j), pts_i, conf_i, pts_j, conf_j))
    return preds


@pytest.mark.parametrize(
    ("name", "pose_tol", "depth_tol"),
    # the noisy golden only with the full ../shared/reference (the vendored subset keeps the exact one)
    [
        c
        for c in [("", 1e-4, 1e-4), ("_noisy", 1e-3, 1e-3)]
        if REF.has(f"postprocess/pairviewer_synthetic{c[0]}.npz")
    ],
)
def test_matches_pairviewer_golden(name: str, pose_tol: float, depth_tol: float) -> None:
    data = REF.npz(f"postprocess/pairviewer_synthetic{name}.npz")
    result = align_two_views(_golden_preds(data), AlignConfig(min_conf=float(data["min_conf_thr"])))

    np.testing.assert_allclose(result.focals, data["out_focals"], rtol=1e-4)
    np.testing.assert_allclose(result.principal_points, data["out_principal_points"], atol=1e-9)
    np.testing.assert_allclose(result.intrinsics(), data["out_intrinsics"], rtol=1e-4)
    np.testing.assert_allclose(result.world_from_cam, data["out_cam2world"], atol=pose_tol)
    for v in range(2):
        depth_ref = data[f"out_depth{v}"]
        np.testing.assert_allclose(result.depth[v], depth_ref, atol=depth_tol * np.abs(depth_ref).max())
        np.testing.assert_allclose(
            result.pts3d[v], data[f"out_pts3d_world{v}"], atol=depth_tol * np.abs(depth_ref).max()
        )
        np.testing.assert_array_equal(result.conf[v], data[f"out_im_conf{v}"])
        np.testing.assert_array_equal(result.conf[v] > data["min_conf_thr"], data[f"out_mask{v}"])


def test_world_follows_the_more_confident_edge() -> None:
    data = REF.npz("postprocess/pairviewer_synthetic.npz")
    preds = _golden_preds(data)
    assert np.allclose(align_two_views(preds, AlignConfig()).world_from_cam[0], np.eye(4))
    boosted = [
        PairPrediction(p.i, p.j, p.pts3d_i, p.conf_i * (10.0 if p.i == 1 else 1.0), p.pts3d_j, p.conf_j)
        for p in preds
    ]
    result = align_two_views(boosted, AlignConfig())
    assert np.allclose(result.world_from_cam[1], np.eye(4))
    # Same relative pose either way (the golden's camera 1 in camera 0's frame).
    cam0_from_cam1 = invert_rigid(result.world_from_cam[0]) @ result.world_from_cam[1]
    assert rotation_angle_deg(cam0_from_cam1[:3, :3].T @ data["true_cam1_to_cam0"][:3, :3]) < 1e-3


def test_exact_synthetic_scene_is_exact_up_to_similarity() -> None:
    case = synthetic.make_case(scene="orbit", n=2, noise=0, size=(128, 96), seed=0)
    result = align_two_views(predictions_from_pairwise(case), AlignConfig())
    est = {
        "cam2world": result.world_from_cam,
        "focals": result.focals,
        "pts3d": np.stack(result.pts3d),
        "depth": np.stack(result.depth),
    }
    metrics = synthetic.evaluate(case, est)
    assert metrics["rot_err_mean"] < 1e-3  # degrees
    assert metrics["trans_err_mean"] < 1e-3  # degrees (direction of the baseline)
    assert metrics["focal_err_max"] < 1e-5
    assert metrics["depth_absrel"] < 1e-5
    assert metrics["point_err_mean"] < 1e-4


def test_noisy_synthetic_scene_is_close() -> None:
    # noise=1 perturbs the predicted relative rotation by ~1 degree per axis: the error is the network's.
    case = synthetic.make_case(scene="orbit", n=2, noise=1.0, size=(128, 96), seed=0)
    result = align_two_views(predictions_from_pairwise(case), AlignConfig())
    est = {"cam2world": result.world_from_cam, "focals": result.focals, "pts3d": np.stack(result.pts3d)}
    metrics = synthetic.evaluate(case, est)
    assert metrics["rot_err_mean"] < 5.0
    assert metrics["focal_err_max"] < 0.1


def test_known_focals_are_kept() -> None:
    data = REF.npz("postprocess/pairviewer_synthetic.npz")
    result = align_two_views(_golden_preds(data), AlignConfig(known_focals=(None, 200.0)))
    assert result.focals[1] == 200.0
    assert result.focals[0] == pytest.approx(150.0, rel=1e-4)
    # World points of view 1 use the kept focal: they re-project to its pixels with f = 200.
    cam_pts = transform_points(invert_rigid(result.world_from_cam[1]), result.pts3d[1])
    np.testing.assert_allclose(cam_pts, depth_to_cam_points(result.depth[1], 200.0, (64.0, 48.0)), atol=1e-5)


def test_known_poses_fix_frame_and_scale() -> None:
    data = REF.npz("postprocess/pairviewer_synthetic.npz")
    preds = _golden_preds(data)
    free = align_two_views(preds, AlignConfig())
    rng = np.random.default_rng(0)
    world_from_cam0 = np.eye(4)
    world_from_cam0[:3, :3] = Rotation.random(random_state=rng.integers(1 << 30)).as_matrix()
    world_from_cam0[:3, 3] = [1.0, 2.0, 3.0]
    cam0_from_cam1 = free.world_from_cam[1].copy()
    cam0_from_cam1[:3, 3] *= 4.0  # the known baseline is 4 times the predicted one
    world_from_cam1 = world_from_cam0 @ cam0_from_cam1

    one = align_two_views(preds, AlignConfig(known_poses=(world_from_cam0, None)))
    np.testing.assert_allclose(one.world_from_cam[0], world_from_cam0, atol=1e-12)
    np.testing.assert_allclose(one.depth[1], free.depth[1], rtol=1e-6)
    both = align_two_views(preds, AlignConfig(known_poses=(world_from_cam0, world_from_cam1)))
    np.testing.assert_allclose(both.world_from_cam, np.stack([world_from_cam0, world_from_cam1]), atol=1e-12)
    np.testing.assert_allclose(both.depth[0], 4.0 * free.depth[0], rtol=1e-5)
    np.testing.assert_allclose(
        both.pts3d[1], transform_points(world_from_cam0, 4.0 * free.pts3d[1]), atol=1e-4
    )


def test_single_view() -> None:
    data = REF.npz("postprocess/focal.npz")
    pts = data["synthetic_pts3d"]
    conf = np.full(pts.shape[:2], 2.0, dtype=np.float32)
    pred = PairPrediction(0, 0, pts, conf, pts, conf)
    result = align_single_view(pred, AlignConfig())
    assert result.num_views == 1
    assert result.focals[0] == pytest.approx(float(data["synthetic_f_true"]), rel=1e-4)
    np.testing.assert_array_equal(result.world_from_cam[0], np.eye(4))
    np.testing.assert_allclose(result.depth[0], pts[..., 2])
    np.testing.assert_allclose(result.pts3d[0], pts, atol=1e-4)
    np.testing.assert_array_equal(result.conf[0], conf)
    assert align_single_view(pred, AlignConfig(known_focals=(321.0,))).focals[0] == 321.0


def test_errors() -> None:
    data = REF.npz("postprocess/pairviewer_synthetic.npz")
    preds = _golden_preds(data)
    with pytest.raises(AlignmentError, match=r"\(0, 1\) and \(1, 0\)"):
        align_two_views(preds[:1], AlignConfig())
    with pytest.raises(AlignmentError, match="minimum confidence"):
        align_two_views(preds, AlignConfig(min_conf=100.0))
    bad = PairPrediction(
        1, 0, preds[0].pts3d_i[:, :64], preds[0].conf_i[:, :64], preds[0].pts3d_j, preds[0].conf_j
    )
    with pytest.raises(AlignmentError, match="shape"):
        align_two_views([bad, preds[1]], AlignConfig())
