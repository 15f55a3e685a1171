"""Scores of an estimate against a synthetic case's ground truth, and the perfect estimate.

An estimate is a mapping with ``cam2world (N, 4, 4)`` (any similarity frame), ``focals (N,)`` in pixels and,
optionally, ``pts3d (N, H, W, 3)`` world points, ``depth (N, H, W)``, ``conf (N, H, W)``,
``principal_points (N, 2)`` (index coordinates; default ``(W / 2, H / 2)``) and ``dist (N, 2)`` (``k1, k2``;
default none). Lengths are divided by the case's ``scene_scale`` (median ground-truth depth).
"""

from __future__ import annotations

import numpy as np

from core.geometry.cameras import pixel_grid
from core.geometry.distortion import pixel_rays, project_distorted

BEHIND_PX = 1e9  # reprojection error counted for a ground-truth point behind the estimated camera


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ~ s R src + t`` of ``(M, 3)`` point sets (Umeyama 1991)."""
    src, dst = np.asarray(src, float), np.asarray(dst, float)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    U, S, Vt = np.linalg.svd(b.T @ a / len(src))
    sign = np.ones(3)
    sign[2] = np.sign(np.linalg.det(U @ Vt)) or 1.0
    R = U @ np.diag(sign) @ Vt
    var = (a**2).sum() / len(src)
    s = float((S * sign).sum() / var) if var > 0 else 1.0
    return s, R, mu_d - s * R @ mu_s


def pose_fit(T_est: np.ndarray, T_gt: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity ``gt ~ s R est + t`` from camera orientations (R) and then centres (s, t).

    Well-posed for any camera path (two views, a line), unlike a fit of the centres alone.
    """
    M = np.einsum("nij,nkj->ik", T_gt[:, :3, :3], T_est[:, :3, :3])  # sum of R_gt R_est^T
    U, _, Vt = np.linalg.svd(M)
    R = U @ np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt)) or 1.0]) @ Vt
    c_e, c_g = T_est[:, :3, 3], T_gt[:, :3, 3]
    a, b = (c_e - c_e.mean(0)) @ R.T, c_g - c_g.mean(0)
    var = float((a**2).sum())
    s = float((a * b).sum() / var) if var > 1e-300 else 1.0
    return s, R, c_g.mean(0) - s * R @ c_e.mean(0)


def _rot_angle_deg(R: np.ndarray) -> np.ndarray:
    """Angles of ``(..., 3, 3)`` rotations, accurate near 0 (atan2 of the axis part and the trace part)."""
    axis = np.stack(
        [R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1
    )
    return np.degrees(
        np.arctan2(0.5 * np.linalg.norm(axis, axis=-1), 0.5 * (np.trace(R, axis1=-2, axis2=-1) - 1))
    )


def true_rays(case) -> np.ndarray:
    """``(N, H, W, 3)`` float64 ground-truth camera rays (z = 1) of every pixel, through the case's lens."""
    n, H, W = case["depth"].shape
    dist = np.asarray(case.get("dist", np.zeros((n, 2))), float)
    grid = pixel_grid(H, W)
    return np.stack([pixel_rays(grid, np.asarray(case["K"][v], float), dist[v]) for v in range(n)])


def gt_world_points(case) -> np.ndarray:
    """``(N, H, W, 3)`` float64 ground-truth world points of every pixel."""
    pts = true_rays(case) * np.asarray(case["depth"], float)[..., None]
    T = np.asarray(case["cam2world"], float)
    return np.einsum("nij,nhwj->nhwi", T[:, :3, :3], pts) + T[:, None, None, :3, 3]


def gt_estimate(case) -> dict[str, np.ndarray]:
    """The perfect estimate of a case (every error of :func:`evaluate` about 0)."""
    n, H, W = case["depth"].shape
    return {  # copies: changing the estimate never changes the case
        "cam2world": np.array(case["cam2world"], float),
        "focals": np.array(case["focals"], float),
        "principal_points": np.tile([W / 2.0, H / 2.0], (n, 1)),
        "dist": np.array(case.get("dist", np.zeros((n, 2))), float),
        "pts3d": gt_world_points(case),
        "depth": np.array(case["depth"], float),
    }


def alignment_estimate(alignment, dist=None) -> dict[str, np.ndarray]:
    """The estimate :func:`evaluate` reads, from a ``core.align`` ``AlignmentResult`` (cameras, focals,
    principal points, points, depth) and, when given, the lens's ``(N, 2)`` ``dist``."""
    est = {
        "cam2world": alignment.world_from_cam,
        "focals": alignment.focals,
        "principal_points": alignment.principal_points,
        "pts3d": np.stack(alignment.pts3d),
        "depth": np.stack(alignment.depth),
    }
    if dist is not None:
        est["dist"] = dist
    return est


def _relative_pose_errors(T_est, T_gt, res) -> None:
    i, j = np.triu_indices(len(T_gt), 1)
    if len(i) == 0:
        return
    rel = {}
    for name, T in (("est", T_est), ("gt", T_gt)):
        Ri = T[i, :3, :3]
        rel[name] = (
            np.einsum("nki,nkj->nij", Ri, T[j, :3, :3]),
            np.einsum("nki,nk->ni", Ri, T[j, :3, 3] - T[i, :3, 3]),
        )
    rot = _rot_angle_deg(np.einsum("nki,nkj->nij", rel["est"][0], rel["gt"][0]))
    te, tg = rel["est"][1], rel["gt"][1]
    trans = np.degrees(np.arctan2(np.linalg.norm(np.cross(te, tg), axis=1), (te * tg).sum(1)))
    res.update(rot_err_mean=float(rot.mean()), rot_err_median=float(np.median(rot)))
    res.update(trans_err_mean=float(trans.mean()), trans_err_median=float(np.median(trans)))
    for thr in (5, 15, 30):
        res[f"rra{thr}"] = float(np.mean(rot < thr))
        res[f"rta{thr}"] = float(np.mean(trans < thr))
    res["n_pairs"] = len(i)


def _depth_errors(case, est, T_est, res) -> None:
    D_gt = np.asarray(case["depth"], float)
    if "depth" in est:
        D_est = np.asarray(est["depth"], float).reshape(D_gt.shape)
    elif "pts3d" in est:
        P = np.asarray(est["pts3d"], float).reshape(*D_gt.shape, 3)
        D_est = np.einsum("nk,nhwk->nhw", T_est[:, :3, 2], P - T_est[:, None, None, :3, 3])
    else:
        return
    absrel, delta1 = [], []
    for de, dg in zip(D_est, D_gt, strict=True):
        ok = np.isfinite(de) & (de > 0)
        if not ok.any():
            absrel.append(np.inf), delta1.append(0.0)
            continue
        scaled = de[ok] * np.median(dg[ok]) / np.median(de[ok])
        absrel.append(np.mean(np.abs(scaled - dg[ok]) / dg[ok]))
        delta1.append(np.mean(np.maximum(scaled / dg[ok], dg[ok] / scaled) < 1.25))
    res.update(depth_absrel=float(np.mean(absrel)), depth_delta1=float(np.mean(delta1)))


def _point_errors(case, est, fit, conf_thr, max_points, rng, res) -> None:
    from scipy.spatial import cKDTree

    s, R, t = fit
    scale = float(case["scene_scale"])
    P_gt = gt_world_points(case)
    P_al = s * np.asarray(est["pts3d"], float).reshape(P_gt.shape) @ R.T + t
    err = np.linalg.norm(P_al - P_gt, axis=-1)
    res.update(point_err_mean=float(np.mean(err) / scale), point_err_median=float(np.median(err) / scale))
    keep = np.isfinite(P_al).all(-1)
    if conf_thr is not None and "conf" in est:
        keep &= np.asarray(est["conf"]).reshape(keep.shape) > conf_thr
    total = keep.size  # one subsample of the pixels for both clouds: the truth scores exactly 0
    pick = rng.choice(total, max_points, replace=False) if total > max_points else np.arange(total)
    cloud_gt = P_gt.reshape(-1, 3)[pick]
    cloud_est = P_al.reshape(-1, 3)[pick][keep.reshape(-1)[pick]]
    if len(cloud_est) == 0:
        res.update(accuracy=np.inf, completeness=np.inf, chamfer=np.inf)
        return
    acc = cKDTree(cloud_gt).query(cloud_est)[0] / scale
    comp = cKDTree(cloud_est).query(cloud_gt)[0] / scale
    res.update(accuracy=float(acc.mean()), completeness=float(comp.mean()))
    res["chamfer"] = 0.5 * (res["accuracy"] + res["completeness"])


def _reprojection_errors(case, est, T_est, F_est, max_points, rng, res) -> None:
    """Ground-truth surface points through the estimated cameras (after :func:`pose_fit`) vs their pixels."""
    T_gt = np.asarray(case["cam2world"], float)
    n, H, W = case["depth"].shape
    s, R, t = pose_fit(T_est, T_gt)
    pp = np.asarray(est.get("principal_points", np.tile([W / 2.0, H / 2.0], (n, 1))), float).reshape(n, 2)
    dist = np.asarray(est.get("dist", np.zeros((n, 2))), float).reshape(n, 2)
    P_gt = gt_world_points(case).reshape(n, H * W, 3)
    grid = pixel_grid(H, W).reshape(-1, 2)
    per_view = min(H * W, max(500, max_points // n))
    errs = []
    for v in range(n):
        sel = rng.choice(H * W, per_view, replace=False) if per_view < H * W else np.arange(H * W)
        P_est = (P_gt[v, sel] - t) @ R / s  # ground-truth world -> estimated world
        cam = (P_est - T_est[v, :3, 3]) @ T_est[v, :3, :3]
        K = np.array([[F_est[v], 0, pp[v, 0]], [0, F_est[v], pp[v, 1]], [0, 0, 1.0]])
        uv = project_distorted(K, np.where(cam[:, 2:] > 1e-12, cam, 1.0), dist[v])
        e = np.linalg.norm(uv - grid[sel], axis=1)
        errs.append(np.where((cam[:, 2] > 1e-12) & np.isfinite(e), e, BEHIND_PX))
    res["reproj_px_median_per_view"] = np.array([np.median(e) for e in errs])
    e = np.concatenate(errs)
    res.update(reproj_px_median=float(np.median(e)), reproj_px_p95=float(np.percentile(e, 95)))
    res.update(reproj_px_max=float(e.max()), reproj_px_rms=float(np.sqrt(np.mean(e**2))))
    res["reproj_behind_frac"] = float(np.mean(e >= BEHIND_PX))


def _ate_fit(T_est, T_gt):
    C_gt = T_gt[:, :3, 3]
    sv = np.linalg.svd(C_gt - C_gt.mean(0), compute_uv=False)
    if len(T_gt) < 3 or sv[1] < 0.05 * sv[0]:  # two views or (nearly) collinear centres
        return pose_fit(T_est, T_gt), True
    return umeyama(T_est[:, :3, 3], C_gt), False


def evaluate(case, est, conf_thr: float | None = None, max_points: int = 100_000, seed: int = 0) -> dict:
    """Errors of ``est`` against ``case`` (see the module docstring for both layouts).

    Keys: ``ate`` (RMS camera-centre error after a Sim(3) fit of the centres, or of :func:`pose_fit` when
    the centres are (nearly) collinear; / scene_scale), ``ate_abs``, ``sim3_scale``; ``rot_err_*``,
    ``trans_err_*`` (degrees, relative poses of every pair of views, so free of the gauge: any Sim(3) fit
    gives the same), ``rra5/15/30``, ``rta5/15/30``; ``rot_err_abs_mean`` (degrees, camera orientations after
    :func:`pose_fit`); ``focal_err_mean/median/max`` (relative); with depth or pts3d: ``depth_absrel``,
    ``depth_delta1`` (each view's depth scaled by its median ratio); with pts3d: ``point_err_mean/median``
    (per pixel after the ATE fit, / scene_scale), ``accuracy``, ``completeness``, ``chamfer`` (up to
    ``max_points`` points each, est points with ``conf > conf_thr`` when given); ``reproj_px_median/p95/max/rms``
    and ``reproj_behind_frac``, ``reproj_px_median_per_view`` ``(N,)`` (ground-truth points of each view
    through the estimated camera, principal point and distortion after :func:`pose_fit`, against their pixels; a point behind the camera counts
    ``BEHIND_PX``); for 3 views or more, ``jitter`` (RMS error of the centres' second differences after the
    ATE fit / scene_scale) and ``rot_step_err_deg`` (mean error of the view-to-view rotations).
    """
    T_gt = np.asarray(case["cam2world"], float)
    F_gt = np.asarray(case["focals"], float)
    n = len(T_gt)
    scale = float(case["scene_scale"])
    T_est = np.asarray(est["cam2world"], float).reshape(n, 4, 4)
    F_est = np.asarray(est["focals"], float).reshape(n)
    rng = np.random.default_rng(seed)
    (s, R, t), degenerate = _ate_fit(T_est, T_gt)
    C_al = s * T_est[:, :3, 3] @ R.T + t
    ate = float(np.sqrt(np.mean(np.sum((C_al - T_gt[:, :3, 3]) ** 2, 1))))
    res = {"ate": ate / scale, "ate_abs": ate, "sim3_scale": s, "sim3_degenerate": degenerate}
    _relative_pose_errors(T_est, T_gt, res)
    _, R_pose, _ = pose_fit(T_est, T_gt)
    abs_rot = _rot_angle_deg(np.einsum("ij,njk,nlk->nil", R_pose, T_est[:, :3, :3], T_gt[:, :3, :3]))
    res["rot_err_abs_mean"] = float(abs_rot.mean())
    fe = np.abs(F_est - F_gt) / F_gt
    res.update(
        focal_err_mean=float(fe.mean()), focal_err_median=float(np.median(fe)), focal_err_max=float(fe.max())
    )
    _depth_errors(case, est, T_est, res)
    if "pts3d" in est:
        _point_errors(case, est, (s, R, t), conf_thr, max_points, rng, res)
    _reprojection_errors(case, est, T_est, F_est, max_points, rng, res)
    if n >= 3:
        C_gt = T_gt[:, :3, 3]
        acc = (C_al[2:] - 2 * C_al[1:-1] + C_al[:-2]) - (C_gt[2:] - 2 * C_gt[1:-1] + C_gt[:-2])
        res["jitter"] = float(np.sqrt(np.mean(np.sum(acc**2, 1))) / scale)
        step_e = np.einsum("nki,nkj->nij", T_est[:-1, :3, :3], T_est[1:, :3, :3])
        step_g = np.einsum("nki,nkj->nij", T_gt[:-1, :3, :3], T_gt[1:, :3, :3])
        res["rot_step_err_deg"] = float(_rot_angle_deg(np.einsum("nki,nkj->nij", step_e, step_g)).mean())
    return res
