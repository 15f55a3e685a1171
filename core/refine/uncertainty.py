"""How well the tracks determine each camera: the bundle adjustment's covariance, as pixels.

At the solution, the points are eliminated from the Gauss-Newton normal equations (the Schur complement on
the camera block, :mod:`.schur`), every view's pose left free. That matrix ``S`` is singular along the seven
directions of the gauge (a similarity of the whole scene changes no reprojection); the covariance is taken
in the gauge that moves the cameras least (the pseudo-inverse: the same gauge in which a ground truth is
compared, after a similarity fit of all cameras), scaled by the residual variance ``sigma^2``:
``Sigma = sigma^2 (S + sigma^2 D)^+``. ``D`` is the information of the camera prior the solve used, but never
more than the alignment's own (:data:`core.geometry.camera_uncertainty.ALIGNMENT_SIGMA`): a prior that the solve
held stronger than that keeps the cameras near the alignment's errors (a bias the covariance of the
measurements does not see), and the alignment's uncertainty is the honest figure for what it holds; a prior
the solve released (``final_prior_weight_px`` 0) is no information at all, and a direction the tracks do not
determine then reads as the large uncertainty it is (``_MIN_INFORMATION`` keeps the matrix invertible).

A view's ``uncertainty_px`` is the 1-sigma reprojection uncertainty of its points due to its camera:
``sqrt(median over its observations of trace(J_c Sigma_c J_c^T))``, ``J_c`` the observation's derivative
with respect to the camera-side parameters, in pixels of the refinement image. Its ``prior_px`` is the same
with the alignment's covariance alone; a view whose uncertainty is not well below it is one that the tracks
do not determine. A view whose own residuals are larger than ``sigma`` (its correspondences fit worse than
the others') has its figure scaled by their ratio (its chi-square per degree of freedom, never below 1).

The covariance assumes independent errors; the matcher's are not: a patch warp predicted from a slightly
wrong surface shifts every match on that surface the same way, and those shifts do not average out over
the observations. Each view's figure is therefore also scaled by the square root of its design effect (the
cluster-robust variance's): with its observations grouped in image cells (``_CELL_FRACTION`` of the long
side), the mean over cells of ``n_c |mean residual_c|^2 / (2 sigma^2)``, 1 for independent errors (never
below 1). Measured on tests/synthetic shot N=24 at 256x192: about 3, and the figure was 0.31-0.39 of the
true reprojection error without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.camera_uncertainty import ALIGNMENT_SIGMA
from .bundle import BundleProblem, BundleState

# the least information (per alignment sigma squared) a camera-side parameter keeps in the covariance: 100
# alignment sigmas, so that an undetermined direction reads as a huge uncertainty, not as a singular matrix
_MIN_INFORMATION = 1e-4
# the image cells (share of the long side) whose residuals' means measure how correlated the errors are, and
# the observations a cell needs to count
_CELL_FRACTION = 1.0 / 16.0
_CELL_MIN_OBS = 3


@dataclass(frozen=True)
class ViewUncertainty:
    """Attributes:
    uncertainty_px: ``(N,)`` float64 1-sigma reprojection uncertainty of each view's points due to its
        camera, refinement-image pixels (NaN for views without observations in the solve).
    prior_px: ``(N,)`` float64 the same from the alignment's uncertainty alone.
    sigma_px: the residual standard deviation the covariance is scaled by (pixels).
    param_ratio: ``(M,)`` float64 each camera-side parameter's posterior sigma over the alignment's (near 1:
        the tracks do not determine it; the pose parameters in the minimum-motion gauge).
    """

    uncertainty_px: np.ndarray
    prior_px: np.ndarray
    sigma_px: float
    param_ratio: np.ndarray


def _parameter_scales(problem: BundleProblem, depth: float) -> np.ndarray:
    """``(M,)`` the alignment's sigma of each camera-side parameter (units of the parameter)."""
    st = problem.start
    long_side = float(np.median(2.0 * np.max(st.K[:, :2, 2], axis=1)))
    sigma = np.zeros(problem.n_camera_params)
    poses = sigma[: problem.focal_col0].reshape(-1, 6)
    poses[:, :3] = np.radians(ALIGNMENT_SIGMA["rotation_deg"])
    poses[:, 3:] = ALIGNMENT_SIGMA["position"] * depth
    sigma[problem.focal_col0 : problem.pp_col0] = ALIGNMENT_SIGMA["focal"]
    sigma[problem.pp_col0 : problem.dist_col0] = ALIGNMENT_SIGMA["pp"] * long_side
    sigma[problem.dist_col0 : problem.point_col0] = ALIGNMENT_SIGMA["dist"]
    return sigma


def _gauge_basis(problem: BundleProblem, depth: float) -> np.ndarray:
    """``(M, 7)`` the camera-side change of an infinitesimal similarity of the world (rotation, translation,
    scale), in parameters normalised by :func:`_parameter_scales`: the reprojections do not change along it."""
    st = problem.start
    G = np.zeros((problem.n_camera_params, 7))
    centre = st.C[problem.free].mean(axis=0)
    for v in problem.free:
        c = problem.cam_col[v]
        R, C = st.R[v], st.C[v] - centre
        # world rotation omega: R' = R exp(-[omega]) = exp(-[R omega]) R, C' = C + omega x C
        G[c : c + 3, 0:3] = -R
        G[c + 3 : c + 6, 0:3] = -np.array([[0, -C[2], C[1]], [C[2], 0, -C[0]], [-C[1], C[0], 0]])
        G[c + 3 : c + 6, 3:6] = np.eye(3)
        G[c + 3 : c + 6, 6] = C
    return G


def view_uncertainty(
    problem: BundleProblem,
    x: np.ndarray | None,
    loss: str,
    loss_scale: float,
    n_views: int,
    prior_px: tuple[float, float] | None = None,
    alignment_info: np.ndarray | None = None,
) -> ViewUncertainty:
    """Per view reprojection uncertainty at the solution ``x`` of ``problem``.

    Args:
        problem: a bundle problem whose ``free`` views are all the views in the solve (no fixed view, no scale
            residual, no prior: the gauge is handled here) and ``x`` its solution (usually its ``x0()``, the
            problem built at the solved state; None: ``problem.x0()``).
        loss, loss_scale: the robust loss of the solve (its weights enter the normal equations).
        n_views: N.
        prior_px: ``(pose_px, intrinsics_px)``, the camera prior the solve used (pixels of cost per alignment
            sigma; see :func:`core.refine.solve._round_prior`); None: the alignment's information.
        alignment_info: ``(M,)`` bool, parameters that keep the alignment's information whatever
            ``prior_px`` says (a focal the solve held at the aligned value); None: none.
    """
    from .schur import ReducedSystem, normal_equations, robust_cost_and_weight

    x = problem.x0() if x is None else x
    m = problem.n_camera_params
    obs = problem.obs
    r, J_cam, _ = problem.blocks(x)
    s = np.sum(r * r, axis=1)
    w = robust_cost_and_weight(s, loss, loss_scale)[1]
    dof = max(2 * len(s) - 3 * problem.n_points - (m - 7), 1)
    sigma2 = max(float(np.sum(w * s)) / dof, 1e-12)
    U, _, E, V, _ = normal_equations(problem, x, loss, loss_scale)
    Vd = V + 1e-9 * np.maximum(np.einsum("pii->pi", V), 1e-12)[:, :, None] * np.eye(3)
    S = ReducedSystem(problem, U, E, np.linalg.inv(Vd)).S
    depth = float(
        np.median(np.linalg.norm(problem.start.points[obs.point] - problem.start.C[obs.view], axis=1))
    )
    scales = _parameter_scales(problem, max(depth, 1e-12))
    Sn = S * np.outer(scales, scales) / sigma2  # information, normalised parameters
    G, _ = np.linalg.qr(_gauge_basis(problem, max(depth, 1e-12)) / scales[:, None])
    P = np.eye(m) - G @ G.T
    info = _prior_information(problem, prior_px, float(np.sqrt(sigma2)))
    if alignment_info is not None:
        info[alignment_info] = 1.0
    H = Sn + P @ (info[:, None] * P) + G @ G.T  # the prior's information (normalised) off the gauge
    cov_n = P @ np.linalg.inv(H) @ P
    outer = np.outer(scales, scales)
    chi2 = _view_chi2(obs.view, w * s, sigma2, n_views)
    long_side = float(np.median(2.0 * np.max(problem.start.K[:, :2, 2], axis=1)))
    chi2 = chi2 * _design_effect(obs.view, obs.xy, r, sigma2, _CELL_FRACTION * long_side, n_views)
    return ViewUncertainty(
        uncertainty_px=_per_view_px(problem, J_cam, cov_n * outer, n_views) * np.sqrt(chi2),
        prior_px=_per_view_px(problem, J_cam, P * outer, n_views),
        sigma_px=float(np.sqrt(sigma2)),
        param_ratio=np.sqrt(np.maximum(np.diag(cov_n), 0.0)),
    )


def prior_pull(
    problem: BundleProblem, x: np.ndarray, loss: str, loss_scale: float, n_views: int, used: bool = True
) -> np.ndarray:
    """``(N,)`` pixels: how far the camera prior holds each view's reprojections from where the tracks alone
    would put them (0 without a prior).

    At the solution of ``problem`` (the solve's last round, with its prior and gauge) the tracks' gradient
    balances the prior's, ``g``; one Newton step on the tracks' cost alone moves the camera-side parameters
    by ``delta = S^-1 g`` (``S`` the reduced camera system without the prior). Where the two disagree, one of
    them is wrong by about that much: a focal held by the prior at the alignment's error (tests/synthetic arc
    N=12 with k1, k2: 3.1 % off, the covariance saying 0.4 %) reads as what it moves, ``sqrt(median |J_c
    delta|^2)`` over the view's observations. ``used=False``: the solve did not use ``problem``'s prior (it
    was released); ``delta = (S + D)^-1 g`` is then how far applying it would move the cameras (a focal
    the tracks let drift reads as what the alignment's prior would take back).
    """
    if problem.prior_weight is None or problem.n_camera_params == 0:
        return np.zeros(n_views)
    from .schur import ReducedSystem, normal_equations

    m = problem.n_camera_params
    U, _, E, V, _ = normal_equations(problem, x, loss, loss_scale)
    if used:
        U[np.diag_indices(m)] -= problem.prior_weight**2
    Vd = V + 1e-9 * np.maximum(np.einsum("pii->pi", V), 1e-12)[:, :, None] * np.eye(3)
    S = ReducedSystem(problem, U, E, np.linalg.inv(Vd)).S
    g = problem.prior_weight * problem.prior_residuals(x)
    S[np.diag_indices(m)] += 1e-9 * max(float(np.max(np.abs(np.diag(S)))), 1e-12)
    delta = np.linalg.lstsq(S, g, rcond=None)[0]
    _, J_cam, _ = problem.blocks(x)
    return np.nan_to_num(_per_view_px(problem, J_cam, np.outer(delta, delta), n_views))


def _prior_information(problem: BundleProblem, prior_px, sigma_px: float) -> np.ndarray:
    """``(M,)`` the prior's information per camera-side parameter, in alignment sigmas^-2: ``(w / sigma)^2``
    for a prior of ``w`` pixels per sigma next to residuals of ``sigma`` pixels, within
    ``[_MIN_INFORMATION, 1]``."""
    m = problem.n_camera_params
    if prior_px is None:
        return np.ones(m)
    pose_px, intrinsics_px = prior_px
    weight = np.full(m, float(intrinsics_px))
    weight[: problem.focal_col0] = pose_px
    return np.clip((weight / max(sigma_px, 1e-12)) ** 2, _MIN_INFORMATION, 1.0)


def _design_effect(view, xy, r, sigma2: float, cell: float, n_views: int) -> np.ndarray:
    """``(N,)`` each view's design effect (see the module docstring), at least 1: ``view`` ``(O,)``,
    ``xy`` ``(O, 2)`` observed pixels, ``r`` ``(O, 2)`` residuals, ``cell`` the cells' side in pixels."""
    out = np.ones(n_views)
    if len(view) == 0:
        return out
    ij = np.floor(xy / max(cell, 1e-9)).astype(np.int64)
    ij -= ij.min(axis=0)
    key = (view * (ij[:, 1].max() + 1) + ij[:, 1]) * (ij[:, 0].max() + 1) + ij[:, 0]
    _, inv, count = np.unique(key, return_index=False, return_inverse=True, return_counts=True)
    mean = np.stack([np.bincount(inv, weights=r[:, c]) for c in (0, 1)], axis=1) / count[:, None]
    effect = count * np.sum(mean**2, axis=1) / (2.0 * max(sigma2, 1e-300))
    cell_view = np.zeros(len(count), dtype=np.int64)
    cell_view[inv] = view
    used = count >= _CELL_MIN_OBS
    total = np.bincount(cell_view[used], weights=effect[used], minlength=n_views)
    cells = np.bincount(cell_view[used], minlength=n_views)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cells > 0, np.maximum(total / np.maximum(cells, 1), 1.0), 1.0)


def _view_chi2(view: np.ndarray, weighted_sq: np.ndarray, sigma2: float, n_views: int) -> np.ndarray:
    """``(N,)`` each view's mean weighted squared residual norm over the solve's (``2 sigma2``), at least 1."""
    count = np.bincount(view, minlength=n_views)
    total = np.bincount(view, weights=weighted_sq, minlength=n_views)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = total / np.maximum(count, 1) / (2.0 * sigma2)
    return np.where(count > 0, np.maximum(ratio, 1.0), 1.0)


def _per_view_px(problem: BundleProblem, J_cam: np.ndarray, cov: np.ndarray, n_views: int) -> np.ndarray:
    cols = problem.cam_cols
    safe = np.where(cols >= 0, cols, 0)
    sub = cov[safe[:, :, None], safe[:, None, :]]  # (O, k, k); J_cam is zero where a column is -1
    tr = np.einsum("oik,okl,oil->o", J_cam, sub, J_cam)
    view = problem.obs.view
    out = np.full(n_views, np.nan)
    order = np.argsort(view, kind="stable")
    bounds = np.searchsorted(view[order], np.arange(n_views + 1))
    for v in range(n_views):
        if bounds[v + 1] > bounds[v]:
            out[v] = float(np.sqrt(max(np.median(tr[order[bounds[v] : bounds[v + 1]]]), 0.0)))
    return out


def problem_at(state: BundleState, problem: BundleProblem, free: np.ndarray) -> BundleProblem:
    """A problem at the solved ``state`` with the same observations and intrinsic groups, every view in
    ``free`` free, no scale residual and no prior (for :func:`view_uncertainty`)."""
    return BundleProblem(state, problem.obs, free, problem.intr, None)
