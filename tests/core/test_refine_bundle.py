"""Bundle adjustment: analytic Jacobian, exact recovery, robust loss, lens distortion, gauge and prior."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

from core.config import RefineConfig
from core.geometry.distortion import project_distorted
from core.refine.bundle import BundleProblem, BundleState, Intrinsics, Observations, exp_so3
from core.refine.schur import levenberg_marquardt
from core.refine.solve import Priors, solve_views
from core.refine.tracks import TrackSet


def _scene(n_views=5, n_points=120, dist=(0.0, 0.0), seed=0):
    """Cameras on an arc looking at a cloud of points; their exact observations (index pixels of 160x120)."""
    rng = np.random.default_rng(seed)
    points = rng.uniform([-1, -1, -1], [1, 1, 1], (n_points, 3)) + [0, 0, 5]
    R, C = [], []
    for k in range(n_views):
        angle = 0.15 * (k - n_views // 2)
        C.append([4 * np.sin(angle), 0.3 * np.cos(3 * k), 5 - 4 * np.cos(angle)])
        R.append(exp_so3(np.array([0.02 * k, -angle, 0.01])))  # camera_from_world, looking at the cloud
    R, C = np.array(R), np.array(C)
    K = np.stack(
        [np.array([[150.0 + 5 * k, 0, 80], [0, 150.0 + 5 * k, 60], [0, 0, 1]]) for k in range(n_views)]
    )
    view = np.repeat(np.arange(n_views), n_points)
    point = np.tile(np.arange(n_points), n_views)
    xy = np.concatenate([project_distorted(K[v], (points - C[v]) @ R[v].T, dist) for v in range(n_views)])
    truth = BundleState(R=R, C=C, K=K, dist=np.tile(dist, (n_views, 1)), points=points)
    return truth, Observations(view, point, xy)


def _perturbed(truth: BundleState, seed=1) -> BundleState:
    rng = np.random.default_rng(seed)
    n = len(truth.R)
    R = exp_so3(rng.normal(0, np.radians(0.7), (n, 3))) @ truth.R
    K = truth.K.copy()
    K[:, 0, 0] *= 1 + rng.normal(0, 0.01, n)
    K[:, 1, 1] = K[:, 0, 0]
    points = truth.points * (1 + rng.normal(0, 0.02, truth.points.shape))
    return BundleState(
        R=R, C=truth.C + rng.normal(0, 0.03, truth.C.shape), K=K, dist=np.zeros((n, 2)), points=points
    )


def _fixed_first(n):
    free = np.ones(n, dtype=bool)
    free[0] = False
    return free


def _groups(n, focal="per_view", num_dist=0):
    per_view = np.arange(n)
    shared = np.zeros(n, dtype=int)
    focal_group = per_view.copy() if focal == "per_view" else shared.copy()
    return Intrinsics(focal_group, np.full(n, -1), shared if num_dist else np.full(n, -1), num_dist)


def test_analytic_jacobian_matches_finite_differences() -> None:
    truth, obs = _scene(n_views=4, n_points=15, dist=(-0.1, 0.02))
    start = _perturbed(truth)
    start = BundleState(start.R, start.C, start.K, np.tile([-0.05, 0.01], (4, 1)), start.points)
    intr = Intrinsics(np.array([0, 1, -1, 1]), np.array([0, -1, 1, 1]), np.array([0, 0, -1, 1]), 2)
    weights = np.linspace(1, 3, BundleProblem(start, obs, _fixed_first(4), intr, (0, 3)).n_camera_params)
    problem = BundleProblem(start, obs, _fixed_first(4), intr, (0, 3), weights)
    x = problem.x0() + np.random.default_rng(3).normal(0, 0.01, problem.n_params)
    J = problem.jacobian(x).toarray()
    numeric = np.zeros_like(J)
    for c in range(problem.n_params):
        e = np.zeros(problem.n_params)
        e[c] = 1e-6
        numeric[:, c] = (problem.residuals(x + e) - problem.residuals(x - e)) / 2e-6
    assert np.abs(J - numeric).max() < 1e-5 * max(1.0, np.abs(numeric).max())


def test_exact_observations_give_back_the_cameras() -> None:
    truth, obs = _scene()
    start = _perturbed(truth)
    start = BundleState(start.R, truth.C, start.K, start.dist, start.points)  # gauge: view 0 and the scale
    start.R[0], start.K[0] = truth.R[0], truth.K[0]
    n = len(truth.R)
    problem = BundleProblem(start, obs, _fixed_first(n), _groups(n), (0, n - 1))
    result = problem.solve(problem.x0(), "linear", 1.0, 50)
    state = problem.state(result.x)
    assert np.max(np.abs(problem.residuals(result.x))) < 1e-6
    np.testing.assert_allclose(state.K, truth.K, rtol=1e-7)
    np.testing.assert_allclose(state.R, truth.R, atol=1e-8)
    np.testing.assert_allclose(state.C, truth.C, atol=1e-7)


def test_the_solve_with_its_default_prior_gives_back_the_cameras_from_exact_observations() -> None:
    # the prior holds the cameras only while outliers are rejected: the last round does not pull them back
    truth, obs = _scene(n_points=200)
    start = _perturbed(truth)
    start.R[0], start.K[0] = truth.R[0], truth.K[0]  # the gauge: view 0 and the scale pair are exact
    n = len(truth.R)
    world_from_cam = np.tile(np.eye(4), (n, 1, 1))
    world_from_cam[:, :3, :3] = np.swapaxes(start.R, 1, 2)
    world_from_cam[:, :3, 3] = truth.C
    tracks = TrackSet(obs, start.points, np.zeros(len(start.points), dtype=int))
    priors = Priors(False, np.zeros(n, bool), np.zeros(n, bool))
    config = RefineConfig()
    assert config.prior_weight_px > 0
    out = solve_views(world_from_cam, start.K, tracks, priors, config)
    assert out.refined.all()
    assert _rotation_errors_deg(out.state.R, truth.R).max() < 1e-5
    np.testing.assert_allclose(out.state.K, truth.K, rtol=1e-7)
    np.testing.assert_allclose(out.state.C, truth.C, atol=1e-6)
    assert np.abs(out.residuals).max() < 1e-5


def _rotation_errors_deg(R, R_true) -> np.ndarray:
    cos = (np.trace(R @ np.swapaxes(R_true, 1, 2), axis1=1, axis2=2) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_rounds_with_a_robust_loss_ignore_confidently_wrong_observations() -> None:
    truth, obs = _scene(n_points=200)
    rng = np.random.default_rng(4)
    noisy = obs.xy + rng.normal(0, 0.1, obs.xy.shape)
    bad = rng.random(len(noisy)) < 0.05  # 5 % of the matches 15 pixels off, the solve is not told which
    xy = noisy.copy()
    xy[bad] += rng.uniform(-15, 15, (bad.sum(), 2))
    clean_obs = Observations(obs.view, obs.point, noisy)
    obs = Observations(obs.view, obs.point, xy)
    start = _perturbed(truth)
    start.R[0], start.K[0] = truth.R[0], truth.K[0]
    n = len(truth.R)
    problem = BundleProblem(start, obs, _fixed_first(n), _groups(n), (0, n - 1))
    plain = problem.state(problem.solve(problem.x0(), "linear", 1.0, 50).x)
    assert _rotation_errors_deg(plain.R, truth.R).max() > 1.0  # least squares is dragged away

    world_from_cam = np.tile(np.eye(4), (n, 1, 1))
    world_from_cam[:, :3, :3] = np.swapaxes(start.R, 1, 2)
    world_from_cam[:, :3, 3] = truth.C
    host = np.zeros(len(start.points), dtype=int)
    priors = Priors(False, np.zeros(n, bool), np.zeros(n, bool))
    config = RefineConfig(prior_weight_px=0.0)
    clean = solve_views(world_from_cam, start.K, TrackSet(clean_obs, start.points, host), priors, config)
    out = solve_views(world_from_cam, start.K, TrackSet(obs, start.points, host), priors, config)
    assert out.refined.all() and set(out.notes) == {"refined"}
    noise_only = _rotation_errors_deg(clean.state.R, truth.R).max()
    assert _rotation_errors_deg(out.state.R, truth.R).max() < 1.5 * noise_only + 0.02
    focal_error = lambda o: np.abs(o.state.K[:, 0, 0] / truth.K[:, 0, 0] - 1).max()  # noqa: E731
    assert focal_error(out) < 1.5 * focal_error(clean) + 1e-3
    assert len(out.tracks.obs.view) < len(obs.view) - 0.8 * bad.sum()  # the wrong ones were dropped
    assert np.nanmax(out.solve_error) < 0.2


@pytest.mark.parametrize("num_dist", [1, 2])
def test_shared_lens_distortion_is_estimated(num_dist: int) -> None:
    k = (-0.12, 0.03) if num_dist == 2 else (-0.12, 0.0)
    truth, obs = _scene(n_points=200, dist=k)
    start = _perturbed(truth)
    K = np.repeat(truth.K[:1], len(truth.K), 0)  # one lens
    truth = BundleState(truth.R, truth.C, K, truth.dist, truth.points)
    xy = np.concatenate(
        [project_distorted(K[v], (truth.points - truth.C[v]) @ truth.R[v].T, k) for v in range(5)]
    )
    obs = Observations(obs.view, obs.point, xy)
    K_start = K.copy()
    K_start[:, 0, 0] *= 1.01
    K_start[:, 1, 1] *= 1.01
    start = BundleState(start.R, truth.C, K_start, start.dist, start.points)
    start.R[0] = truth.R[0]
    problem = BundleProblem(start, obs, _fixed_first(5), _groups(5, "shared", num_dist), (0, 4))
    state = problem.state(problem.solve(problem.x0(), "soft_l1", 1.0, 100).x)
    np.testing.assert_allclose(state.dist[:, :num_dist], np.tile(k[:num_dist], (5, 1)), atol=1e-6)
    np.testing.assert_allclose(state.K[:, 0, 0], K[:, 0, 0], rtol=1e-7)


def test_levenberg_marquardt_reaches_the_least_squares_optimum_of_scipy() -> None:
    truth, obs = _scene(n_views=4, n_points=40)
    obs = Observations(obs.view, obs.point, obs.xy + np.random.default_rng(5).normal(0, 0.3, obs.xy.shape))
    start = _perturbed(truth)
    start.R[0] = truth.R[0]
    problem = BundleProblem(start, obs, _fixed_first(4), _groups(4), (0, 3))
    ours = levenberg_marquardt(problem, problem.x0(), "linear", 1.0, max_iterations=100, tol=1e-12)
    dense = lambda x: problem.jacobian(x).toarray()  # noqa: E731 (a small problem: scipy's exact solver)
    ref = least_squares(problem.residuals, problem.x0(), jac=dense, method="trf", tr_solver="exact",
                        xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=200)  # fmt: skip
    assert ours.converged
    assert ours.cost == pytest.approx(ref.cost, rel=1e-9)
    m = problem.n_camera_params
    np.testing.assert_allclose(ours.x[:m], ref.x[:m], atol=1e-6)


def test_the_camera_prior_holds_what_the_images_do_not_determine() -> None:
    truth, obs = _scene(n_views=3, n_points=60)
    n = 3
    start = BundleState(truth.R, truth.C, truth.K, truth.dist, truth.points * 1.01)
    free = _fixed_first(n)
    groups = _groups(n)
    # no scale pair: the scale is free; without a prior the solve may wander along it, with one it stays
    weights = np.ones(BundleProblem(start, obs, free, groups, None).n_camera_params)
    problem = BundleProblem(start, obs, free, groups, None, weights)
    state = problem.state(problem.solve(problem.x0(), "linear", 1.0, 50).x)
    np.testing.assert_allclose(state.C, truth.C, atol=1e-6)
    assert problem.prior_residuals(problem.x0()).shape == (problem.n_camera_params,)
