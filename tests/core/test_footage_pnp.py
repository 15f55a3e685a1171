"""Absolute pose with known intrinsics: RANSAC over 3-point hypotheses, then Levenberg-Marquardt."""

from __future__ import annotations

import numpy as np
import pytest

from core.footage.pnp import reprojection_errors, rotation_from_vector, solve_pnp_ransac
from core.geometry.transforms import make_rigid

K = np.array([[300.0, 0.0, 128.0], [0.0, 300.0, 96.0], [0.0, 0.0, 1.0]])


def _scene(rng, planar: bool = False, m: int = 400):
    X = rng.uniform(-2, 2, (m, 3))
    if planar:
        X[:, 2] = 0.0
    X += [0.0, 0.0, 6.0]
    cam_from_world = make_rigid(rotation_from_vector(rng.normal(size=3) * 0.2), rng.normal(size=3) * 0.3)
    X_cam = X @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    uv = X_cam[:, :2] / X_cam[:, 2:] @ K[:2, :2].T + K[:2, 2]
    return X, X_cam, uv, cam_from_world


@pytest.mark.parametrize("planar", [False, True])
def test_exact_correspondences_give_the_exact_pose(planar: bool) -> None:
    X, X_cam, uv, truth = _scene(np.random.default_rng(1), planar)
    result = solve_pnp_ransac(K, uv, X, 0.37 * X_cam, inlier_px=2.0)  # the pair's points at another scale
    np.testing.assert_allclose(result.cam_from_world, truth, atol=1e-9)
    assert result.num_inliers == len(X) and result.rms_px < 1e-6


def test_outliers_and_pixel_noise_are_handled() -> None:
    rng = np.random.default_rng(2)
    X, X_cam, uv, truth = _scene(rng, m=600)
    uv = uv + rng.normal(0, 0.3, uv.shape)
    bad = rng.random(len(uv)) < 0.35
    uv[bad] += rng.uniform(-60, 60, (bad.sum(), 2))
    X_cam_noisy = X_cam * np.exp(rng.normal(0, 0.03, (len(X), 1)))  # the network's depths are off
    result = solve_pnp_ransac(K, uv, X, X_cam_noisy, inlier_px=2.0)
    err_R = np.degrees(
        np.arccos(np.clip((np.trace(result.cam_from_world[:3, :3].T @ truth[:3, :3]) - 1) / 2, -1, 1))
    )
    assert err_R < 0.05
    assert np.linalg.norm(result.cam_from_world[:3, 3] - truth[:3, 3]) < 0.01
    assert abs(int(result.inliers.sum()) - int((~bad).sum())) < 0.03 * len(uv)
    assert 0.2 < result.rms_px < 0.6


def test_too_few_correspondences_give_no_pose() -> None:
    X, X_cam, uv, _ = _scene(np.random.default_rng(3), m=5)
    assert solve_pnp_ransac(K, uv, X, X_cam, inlier_px=2.0) is None


def test_reprojection_errors() -> None:
    rng = np.random.default_rng(4)
    X, _, uv, T = _scene(rng, m=10)
    assert reprojection_errors(K, T, uv, X).max() < 1e-9
    behind = make_rigid(np.diag([1.0, -1.0, -1.0]), [0, 0, 0])
    assert np.isinf(reprojection_errors(K, behind, uv, X)).all()
