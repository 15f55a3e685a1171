"""How well the tracks determine each camera: the bundle adjustment's covariance, as pixels.

At the solution, the points are eliminated from the Gauss-Newton normal equations (the Schur complement on
the camera block, :mod:`.schur`), every view's pose left free. That matrix ``S`` is singular along the seven
directions of the gauge (a similarity of the whole scene changes no reprojection); the covariance is taken
in the gauge that moves the cameras least (the pseudo-inverse: the same gauge in which a ground truth is
compared, after a similarity fit of all cameras), scaled by the residual variance ``sigma^2``:
``Sigma = sigma^2 (S + sigma^2 D)^+``. ``D`` is the information of the alignment the refinement starts from
(:data:`core.geometry.camera_uncertainty.ALIGNMENT_SIGMA`): a direction the tracks do not determine (a focal
seen only by two-view tracks, depth along forward motion) keeps the alignment's uncertainty instead of an
infinite or a made-up one.

A view's ``uncertainty_px`` is the 1-sigma reprojection uncertainty of its points due to its camera:
``sqrt(median over its observations of trace(J_c Sigma_c J_c^T))``, ``J_c`` the observation's derivative
with respect to the camera-side parameters, in pixels of the refinement image. Its ``prior_px`` is the same
with the alignment's covariance ``D^-1`` alone; a view whose uncertainty is not well below it is one that
the tracks do not determine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.camera_uncertainty import ALIGNMENT_SIGMA
from .bundle import BundleProblem, BundleState


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
    problem: BundleProblem, x: np.ndarray | None, loss: str, loss_scale: float, n_views: int
) -> ViewUncertainty:
    """Per view reprojection uncertainty at the solution ``x`` of ``problem``.

    Args:
        problem: a bundle problem whose ``free`` views are all the views in the solve (no fixed view, no scale
            residual, no prior: the gauge is handled here) and ``x`` its solution (usually its ``x0()``, the
            problem built at the solved state; None: ``problem.x0()``).
        loss, loss_scale: the robust loss of the solve (its weights enter the normal equations).
        n_views: N.
    """
    from .schur import coupling, normal_equations, robust_cost_and_weight

    x = problem.x0() if x is None else x
    m = problem.n_camera_params
    obs = problem.obs
    r, J_cam, _ = problem.blocks(x)
    s = np.sum(r * r, axis=1)
    w = robust_cost_and_weight(s, loss, loss_scale)[1]
    dof = max(2 * len(s) - 3 * problem.n_points - (m - 7), 1)
    sigma2 = max(float(np.sum(w * s)) / dof, 1e-12)
    U, _, E, V, _ = normal_equations(problem, x, loss, loss_scale)
    W = coupling(problem, E)
    Vd = V + 1e-9 * np.maximum(np.einsum("pii->pi", V), 1e-12)[:, :, None] * np.eye(3)
    Vinv = np.linalg.inv(Vd)
    WV = (W.tocsr() @ _block_diag(Vinv)).tocsr()
    S = U - (WV @ W.T).toarray()
    depth = float(
        np.median(np.linalg.norm(problem.start.points[obs.point] - problem.start.C[obs.view], axis=1))
    )
    scales = _parameter_scales(problem, max(depth, 1e-12))
    Sn = S * np.outer(scales, scales) / sigma2  # information, normalised parameters
    G, _ = np.linalg.qr(_gauge_basis(problem, max(depth, 1e-12)) / scales[:, None])
    P = np.eye(m) - G @ G.T
    H = Sn + P + G @ G.T  # the alignment's information (identity, normalised) off the gauge
    cov_n = P @ np.linalg.inv(H) @ P
    outer = np.outer(scales, scales)
    return ViewUncertainty(
        uncertainty_px=_per_view_px(problem, J_cam, cov_n * outer, n_views),
        prior_px=_per_view_px(problem, J_cam, P * outer, n_views),
        sigma_px=float(np.sqrt(sigma2)),
        param_ratio=np.sqrt(np.maximum(np.diag(cov_n), 0.0)),
    )


def _block_diag(blocks: np.ndarray):
    from scipy import sparse

    n = len(blocks)
    return sparse.bsr_matrix((blocks, np.arange(n), np.arange(n + 1)), shape=(3 * n, 3 * n)).tocsr()


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
