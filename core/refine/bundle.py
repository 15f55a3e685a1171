"""Bundle adjustment: cameras, intrinsics, lens distortion and the tracks' points.

Model of an observation of world point ``X`` in view ``v`` (the lens model of :mod:`core.geometry.distortion`; pixels of the refinement image, index coordinates):
``x_c = R_v (X - C_v)`` with ``R_v = exp([w_v]) R0_v`` (axis-angle update of the aligned rotation, camera from
world) and ``C_v`` the camera centre; ``x_u = x_c[:2] / x_c[2]``; ``x_d = x_u (1 + k1 r^2 + k2 r^4)``; ``u = s fx0 x_d + cx0 + dcx``, ``v = s fy0 y_d + cy0 + dcy`` with ``s`` the
focal's scale from its aligned value (``fx0 / fy0`` keeps its ratio). Residuals are ``(u, v)`` minus the
observed pixel. The Jacobian is analytic and sparse (each row touches one camera, one point and its view's
intrinsic groups); :mod:`.schur` solves it (Levenberg-Marquardt, points eliminated, robust loss).

Gauge: fixed views (known poses, or view 0) keep their pose; with fewer than two fixed views, one extra
residual keeps the distance from the reference view to the farthest free view (the scale).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..geometry.transforms import skew
from .schur import LMResult, levenberg_marquardt

# weight of the scale residual, in pixels per relative change of the baseline
_SCALE_WEIGHT = 1e3


@dataclass(frozen=True)
class Intrinsics:
    """Groups of shared intrinsic parameters, one entry per view (``-1``: not estimated for that view).

    Attributes:
        focal_group: ``(N,)`` int, the focal-scale parameter each view uses.
        pp_group: ``(N,)`` int, the principal-point offset each view uses.
        dist_group: ``(N,)`` int, the distortion coefficients each view uses.
        num_dist: 0 (pinhole), 1 (``k1``) or 2 (``k1, k2``) coefficients per distortion group.
    """

    focal_group: np.ndarray
    pp_group: np.ndarray
    dist_group: np.ndarray
    num_dist: int


@dataclass(frozen=True)
class Observations:
    """Attributes: ``view`` ``(O,)`` int, ``point`` ``(O,)`` int, ``xy`` ``(O, 2)`` float64 observed pixels."""

    view: np.ndarray
    point: np.ndarray
    xy: np.ndarray


@dataclass(frozen=True)
class BundleState:
    """Cameras and points of a bundle adjustment.

    Attributes:
        R: ``(N, 3, 3)`` camera-from-world rotations; C: ``(N, 3)`` camera centres (world).
        K: ``(N, 3, 3)`` intrinsics (refinement-image index coordinates); dist: ``(N, 2)`` ``(k1, k2)``.
        points: ``(P, 3)`` world points of the tracks.
    """

    R: np.ndarray
    C: np.ndarray
    K: np.ndarray
    dist: np.ndarray
    points: np.ndarray


def exp_so3(w: np.ndarray) -> np.ndarray:
    """Rodrigues: ``(..., 3)`` axis-angle -> ``(..., 3, 3)`` rotations."""
    theta = np.linalg.norm(w, axis=-1)[..., None, None]
    K = skew(w)
    small = theta < 1e-8
    t = np.where(small, 1.0, theta)
    a = np.where(small, 1.0 - theta**2 / 6.0, np.sin(t) / t)
    b = np.where(small, 0.5 - theta**2 / 24.0, (1.0 - np.cos(t)) / t**2)
    return np.eye(3) + a * K + b * (K @ K)


def left_jacobian_so3(w: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` left Jacobian of SO(3): ``exp(w + d) ~ exp(J_l(w) d) exp(w)``."""
    theta = np.linalg.norm(w, axis=-1)[..., None, None]
    K = skew(w)
    small = theta < 1e-6
    t = np.where(small, 1.0, theta)
    b = np.where(small, 0.5 - theta**2 / 24.0, (1.0 - np.cos(t)) / t**2)
    c = np.where(small, 1.0 / 6.0 - theta**2 / 120.0, (t - np.sin(t)) / t**3)
    return np.eye(3) + b * K + c * (K @ K)


def _cross_rows(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(O, r, 3)`` cross products of the rows of ``a`` ``(O, r, 3)`` with ``x`` ``(O, 3)`` (``np.cross`` is
    twice as slow on these shapes)."""
    out = np.empty_like(a)
    x0, x1, x2 = x[:, None, 0], x[:, None, 1], x[:, None, 2]
    out[:, :, 0] = a[:, :, 1] * x2 - a[:, :, 2] * x1
    out[:, :, 1] = a[:, :, 2] * x0 - a[:, :, 0] * x2
    out[:, :, 2] = a[:, :, 0] * x1 - a[:, :, 1] * x0
    return out


class BundleProblem:
    """One bundle adjustment: the parameter layout, residuals, analytic sparse Jacobian and the solve.

    Args:
        start: the cameras and points to start from (the aligned cameras; no distortion, or a prior one).
        obs: the observations.
        free_views: ``(N,)`` bool, views whose pose is estimated.
        intrinsics: the intrinsic parameter groups.
        scale_pair: ``(reference view, far view)`` whose centre distance is kept, or None.
        prior_weight: ``(n_camera_params,)`` weights (pixels per unit of each parameter) of a prior that
            keeps the camera-side parameters near their start (the alignment): directions the images do not
            determine stay where the alignment put them. None: no prior.
    """

    def __init__(
        self,
        start: BundleState,
        obs: Observations,
        free_views,
        intrinsics: Intrinsics,
        scale_pair,
        prior_weight: np.ndarray | None = None,
    ):
        self.start = start
        self.obs = obs
        self.n_views = len(start.R)
        self.n_points = len(start.points)
        self.intr = intrinsics
        self.free = np.flatnonzero(np.asarray(free_views, dtype=bool))
        cam_col = np.full(self.n_views, -1)
        cam_col[self.free] = 6 * np.arange(len(self.free))
        self.cam_col = cam_col
        o = 6 * len(self.free)
        self.n_focal = int(intrinsics.focal_group.max(initial=-1)) + 1
        self.n_pp = int(intrinsics.pp_group.max(initial=-1)) + 1
        self.n_distg = int(intrinsics.dist_group.max(initial=-1)) + 1 if intrinsics.num_dist else 0
        self.focal_col0, o = o, o + self.n_focal
        self.pp_col0, o = o, o + 2 * self.n_pp
        self.dist_col0, o = o, o + intrinsics.num_dist * self.n_distg
        self.point_col0 = o
        self.n_params = o + 3 * self.n_points
        self.scale_pair = scale_pair
        if scale_pair is not None:
            r, f = scale_pair
            self.scale_d0 = float(np.linalg.norm(start.C[f] - start.C[r]))
        self._structure()
        self.prior_weight = None if prior_weight is None else np.asarray(prior_weight, dtype=np.float64)
        self.prior_ref = self.x0()[: self.point_col0]

    # ------------------------------------------------------------------ parameters
    def x0(self) -> np.ndarray:
        x = np.zeros(self.n_params)
        x[self.point_col0 :] = self.start.points.ravel()
        for v in self.free:
            x[self.cam_col[v] + 3 : self.cam_col[v] + 6] = self.start.C[v]
        return x

    def state(self, x: np.ndarray) -> BundleState:
        """The cameras, intrinsics and points that ``x`` describes."""
        R = self.start.R.copy()
        C = self.start.C.copy()
        if len(self.free):
            blocks = x[: 6 * len(self.free)].reshape(-1, 6)
            R[self.free] = exp_so3(blocks[:, :3]) @ self.start.R[self.free]
            C[self.free] = blocks[:, 3:]
        K = self.start.K.copy()
        fg, pg, dg = self.intr.focal_group, self.intr.pp_group, self.intr.dist_group
        focal = fg >= 0
        scale = 1.0 + x[self.focal_col0 + fg[focal]]
        K[focal, 0, 0] *= scale
        K[focal, 1, 1] *= scale
        pp = pg >= 0
        K[pp, 0, 2] += x[self.pp_col0 + 2 * pg[pp]]
        K[pp, 1, 2] += x[self.pp_col0 + 2 * pg[pp] + 1]
        dist = self.start.dist.copy()
        lens = dg >= 0
        for k in range(self.intr.num_dist):
            dist[lens, k] += x[self.dist_col0 + self.intr.num_dist * dg[lens] + k]
        points = x[self.point_col0 :].reshape(-1, 3)
        return BundleState(R=R, C=C, K=K, dist=dist, points=points)

    # ------------------------------------------------------------------ model
    def _project(self, x: np.ndarray):
        st = self.state(x)
        v, p = self.obs.view, self.obs.point
        y = st.points[p] - st.C[v]
        xc = np.einsum("oij,oj->oi", st.R[v], y)
        z = np.where(xc[:, 2] > 1e-9, xc[:, 2], 1e-9)
        xu = xc[:, :2] / z[:, None]
        k = st.dist[v]
        r2 = np.sum(xu * xu, axis=-1)
        g = 1.0 + k[:, 0] * r2 + k[:, 1] * r2 * r2
        xd = xu * g[:, None]
        f = np.stack([st.K[v, 0, 0], st.K[v, 1, 1]], axis=-1)
        uv = xd * f + st.K[v, :2, 2]
        return st, y, xc, z, xu, xd, r2, g, k, f, uv

    def _structure(self) -> None:
        """Camera-side columns each observation's residual pair touches: ``cam_cols`` ``(O, k)`` int (``-1``:
        not a parameter), and the point of each pair, ``row_point`` ``(O,)``."""
        v = self.obs.view
        pose = np.where(self.cam_col[v, None] >= 0, self.cam_col[v, None] + np.arange(6), -1)
        cols = [pose]
        for first, group, width in (
            (self.focal_col0, self.intr.focal_group, 1),
            (self.pp_col0, self.intr.pp_group, 2),
            (self.dist_col0, self.intr.dist_group, self.intr.num_dist),
        ):
            g = group[v, None]
            cols.append(np.where(g >= 0, first + width * g + np.arange(width), -1))
        self.cam_cols = np.concatenate(cols, axis=1)
        self.row_point = self.obs.point
        self._unused_cols = bool(np.any(self.cam_cols < 0))
        self._col_mask = (self.cam_cols >= 0)[:, None, :].astype(np.float64)  # (O, 1, k)

    @property
    def n_rows(self) -> int:
        """Residual pairs (one per observation)."""
        return len(self.row_point)

    @property
    def n_camera_params(self) -> int:
        """Parameters before the points: poses, focal scales, principal points, distortion."""
        return self.point_col0

    def blocks(self, x: np.ndarray):
        """Residuals and Jacobian blocks per observation.

        Returns:
            ``(r, J_cam, J_point)``: ``(O, 2)`` residuals (pixels); ``(O, 2, k)`` derivatives with respect to the
            camera-side parameters of :attr:`cam_cols` (zero where a column is ``-1``); ``(O, 2, 3)``
            derivatives with respect to the observation's point.
        """
        st, y, xc, z, xu, xd, r2, g, k, f, uv = self._project(x)
        v = self.obs.view
        n_obs = len(v)
        # d(u, v) / d x_c: focal * distortion * perspective, D (I | -x_u) / z with D = g I + 2 g' x_u x_u^T
        dg_dr2 = k[:, 0] + 2.0 * k[:, 1] * r2
        D = g[:, None, None] * np.eye(2) + 2.0 * dg_dr2[:, None, None] * xu[:, :, None] * xu[:, None, :]
        J_xc = np.empty((n_obs, 2, 3))
        J_xc[:, :, :2] = D
        J_xc[:, :, 2] = -xu * (g + 2.0 * dg_dr2 * r2)[:, None]  # D x_u
        J_xc *= (f / z[:, None])[:, :, None]
        J_X = J_xc @ st.R[v]
        Jl = np.zeros((self.n_views, 3, 3))
        if len(self.free):
            Jl[self.free] = left_jacobian_so3(x[: 6 * len(self.free)].reshape(-1, 6)[:, :3])
        # a^T [x_c]_x = (a x x_c)^T: the rows of J_xc times the cross-product matrix
        J_w = -(_cross_rows(J_xc, xc) @ Jl[v])
        f0 = np.stack([self.start.K[v, 0, 0], self.start.K[v, 1, 1]], axis=-1)
        parts = [J_w, -J_X, (f0 * xd)[:, :, None], np.broadcast_to(np.eye(2), (n_obs, 2, 2))]
        if self.intr.num_dist:
            fr = f * xu
            parts.append(np.stack([fr * r2[:, None], fr * (r2 * r2)[:, None]][: self.intr.num_dist], axis=-1))
        J_cam = np.concatenate(parts, axis=2)
        r = uv - self.obs.xy
        if self._unused_cols:
            J_cam *= self._col_mask
        return r, J_cam, J_X

    def scale_term(self, x: np.ndarray) -> tuple[float, np.ndarray] | None:
        """The scale residual and its ``(n_camera_params,)`` gradient, or None without a scale pair."""
        if self.scale_pair is None:
            return None
        r, f = self.scale_pair
        C = self.state(x).C
        diff = C[f] - C[r]
        grad = np.zeros(self.n_camera_params)
        dr = _SCALE_WEIGHT * diff / (np.linalg.norm(diff) * self.scale_d0)
        for view, sign in ((f, 1.0), (r, -1.0)):
            if self.cam_col[view] >= 0:
                grad[self.cam_col[view] + 3 : self.cam_col[view] + 6] += sign * dr
        return _SCALE_WEIGHT * (np.linalg.norm(diff) / self.scale_d0 - 1.0), grad

    def prior_residuals(self, x: np.ndarray) -> np.ndarray:
        """The camera prior's residuals ``(n_camera_params,)`` (empty without a prior); linear in ``x``."""
        if self.prior_weight is None:
            return np.zeros(0)
        return self.prior_weight * (x[: self.point_col0] - self.prior_ref)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """``(2 O + extra,)``: the reprojection residuals (pixels), then the camera prior's and the scale
        residual when there are."""
        *_, uv = self._project(x)
        r = [(uv - self.obs.xy).ravel(), self.prior_residuals(x)]
        term = self.scale_term(x)
        if term is not None:
            r.append([term[0]])
        return np.concatenate(r)

    def jacobian(self, x: np.ndarray) -> sparse.csr_matrix:
        """Analytic ``(2 O [+ 1], n_params)`` sparse Jacobian of :meth:`residuals` (for checks and
        ``scipy.optimize.least_squares``)."""
        _, J_cam, J_X = self.blocks(x)
        n_obs = self.n_rows
        rows = np.arange(2 * n_obs)
        cam_rows = np.broadcast_to(rows.reshape(n_obs, 2)[:, :, None], J_cam.shape)
        cam_cols = np.broadcast_to(self.cam_cols[:, None, :], J_cam.shape)
        valid = cam_cols >= 0
        pt_cols = self.point_col0 + 3 * self.row_point[:, None, None] + np.arange(3)
        pt_rows = np.broadcast_to(rows.reshape(n_obs, 2)[:, :, None], J_X.shape)
        J = sparse.csr_matrix(
            (
                np.concatenate([J_cam[valid], J_X.ravel()]),
                (np.concatenate([cam_rows[valid], pt_rows.ravel()]),
                 np.concatenate([cam_cols[valid], np.broadcast_to(pt_cols, J_X.shape).ravel()])),
            ),
            shape=(2 * n_obs, self.n_params),
        )  # fmt: skip
        extra = []
        if self.prior_weight is not None:
            m = self.n_camera_params
            extra.append(
                sparse.csr_matrix((self.prior_weight, (np.arange(m), np.arange(m))), shape=(m, self.n_params))
            )
        term = self.scale_term(x)
        if term is not None:
            row = np.zeros((1, self.n_params))
            row[0, : self.n_camera_params] = term[1]
            extra.append(sparse.csr_matrix(row))
        return sparse.vstack([J, *extra], format="csr") if extra else J

    def solve(
        self, x0: np.ndarray, loss: str, loss_scale: float, max_iterations: int, tol: float = 1e-10
    ) -> LMResult:
        """Minimise the robust cost from ``x0`` (:func:`.schur.levenberg_marquardt`; ``tol``: stop when an
        iteration lowers the cost by less than this share)."""
        return levenberg_marquardt(self, x0, loss, loss_scale, max_iterations=max_iterations, tol=tol)
