"""The paper's global alignment (``method="paper"``): our faithful baseline of the reference optimiser.

Everything is optimised jointly by Adam (lr 0.01, betas (0.9, 0.9), cosine schedule to 1e-6, ``config.niter``
iterations, 300 by default) at full resolution, with the reference's parametrisation:

* per view: log-depth per pixel, focal as ``20 * log(f)`` (the reference's "focal break", which is why its
  focal barely moves), a unit quaternion + translation for ``world_from_cam``; principal points stay at the
  image centre;
* per pair: ``world_from_pair`` as quaternion + translation + log-scale, the scales normalised so that their
  product is 1 (unless two or more known poses fix the scale);
* loss: per pair and view, the mean over pixels of ``log(C) * ||X_world - s_e (R_e X^{v,e} + t_e)||``
  (pixels with ``C <= min_conf`` weigh 0), summed over the two views and averaged over pairs.

One deliberate difference: it starts from OUR spanning-tree initialisation (:mod:`.init`, each view's focal
from its own pointmap), not from the reference's, whose stale loop variable estimates a view's focal from
another view's pointmap. So the comparison with ``fast`` measures the optimisers, not the inits.
Known focals and known poses are kept fixed (they are not optimised).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from ..config import AlignConfig
from ..geometry.cameras import pixel_grid
from ..geometry.procrustes import batched_umeyama
from ..predictions import PairPrediction
from ..progress import ProgressFn, check_cancel
from .camera_fit import Cameras
from .graph import PairGraph, confidence_weights
from .init import InitialAlignment
from .result import AlignmentResult, result_from_cameras
from .solver import fixed_flags

logger = logging.getLogger(__name__)

LR, LR_MIN, BETAS, FOCAL_BREAK = 0.01, 1e-6, (0.9, 0.9), 20.0


def quaternion_to_rotation(q: torch.Tensor) -> torch.Tensor:
    """``(..., 4)`` quaternions ``(x, y, z, w)`` (normalised here) -> ``(..., 3, 3)`` rotations."""
    x, y, z, w = torch.unbind(q / q.norm(dim=-1, keepdim=True), dim=-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ]  # fmt: skip
    return torch.stack(rows, dim=-1).reshape(q.shape[:-1] + (3, 3))


class _PaperProblem:
    """Padded full-resolution tensors of all views and pairs (float32)."""

    def __init__(self, preds: Sequence[PairPrediction], graph: PairGraph, config: AlignConfig) -> None:
        n, num_edges = graph.num_views, len(graph.edges)
        self.hw = [H * W for H, W in graph.sizes]
        P = max(self.hw)
        uv = np.zeros((n, P, 2), np.float32)
        for v, (H, W) in enumerate(graph.sizes):
            uv[v, : H * W] = pixel_grid(H, W).reshape(-1, 2)
        self.uv = torch.from_numpy(uv)
        pts = torch.zeros((num_edges, 2, P, 3))
        weight = torch.zeros((num_edges, 2, P))
        conf_max = torch.zeros((n, P))
        for e, pred in enumerate(preds):
            for side, (X, C) in enumerate(((pred.pts3d_i, pred.conf_i), (pred.pts3d_j, pred.conf_j))):
                v = int(graph.edges[e, side])
                pts[e, side, : self.hw[v]] = torch.from_numpy(X.reshape(-1, 3))
                weight[e, side, : self.hw[v]] = torch.from_numpy(
                    confidence_weights(C.reshape(-1), config.min_conf)
                )
                conf_max[v, : self.hw[v]] = torch.maximum(
                    conf_max[v, : self.hw[v]], torch.from_numpy(C.reshape(-1))
                )
        self.pts, self.conf_max = pts, conf_max
        # reference: mean over each view's pixels, summed over the two views, averaged over the pairs
        count = torch.tensor(
            [[self.hw[v] for v in pair] for pair in graph.edges.tolist()], dtype=torch.float32
        )
        self.weight = weight / count[..., None] / num_edges
        self.edges = torch.from_numpy(graph.edges)


def _initial_params(problem: _PaperProblem, init: InitialAlignment, preds, graph: PairGraph):
    n, P = problem.uv.shape[:2]
    log_depth = torch.zeros((n, P))
    for v in range(n):
        d = np.maximum(init.depth(v, preds).reshape(-1), 1e-6)
        log_depth[v, : problem.hw[v]] = torch.from_numpy(np.log(d).astype(np.float32))
    quat = Rotation.from_matrix(init.world_from_cam[:, :3, :3]).as_quat()
    cam_q = torch.tensor(quat, dtype=torch.float32)
    cam_t = torch.tensor(init.world_from_cam[:, :3, 3], dtype=torch.float32)
    focal = torch.tensor(FOCAL_BREAK * np.log(init.focals), dtype=torch.float32)
    pair = _initial_pairs(problem, init, preds, graph)
    return log_depth, focal, cam_q, cam_t, pair


def _initial_pairs(problem, init: InitialAlignment, preds, graph: PairGraph):
    """Pair similarities fitted (weighted Umeyama) to the initial world points at full resolution."""
    world = [init.world_points(v, preds).reshape(-1, 3) for v in range(graph.num_views)]
    quats, trans, log_scale = [], [], []
    for e, (i, j) in enumerate(graph.edges.tolist()):
        src = problem.pts[e].reshape(-1, 3).double().numpy()[None]
        P = problem.pts.shape[2]
        dst = np.zeros_like(src)
        dst[0, : problem.hw[i]] = world[i]
        dst[0, P : P + problem.hw[j]] = world[j]
        scale, rot, shift = batched_umeyama(src, dst, problem.weight[e].reshape(1, -1).double().numpy())
        quats.append(Rotation.from_matrix(rot[0]).as_quat())
        trans.append(shift[0] / scale[0])  # x_world = s (R x + t)
        log_scale.append(math.log(scale[0]))
    as_tensor = lambda a: torch.tensor(np.array(a), dtype=torch.float32)  # noqa: E731
    return as_tensor(quats), as_tensor(trans), as_tensor(log_scale)


def paper_align(
    preds: Sequence[PairPrediction],
    graph: PairGraph,
    init: InitialAlignment,
    config: AlignConfig,
    progress: ProgressFn,
    cancel=None,
) -> AlignmentResult:
    """Run the reference optimiser from ``init``; returns the (unframed) :class:`AlignmentResult`."""
    problem = _PaperProblem(preds, graph, config)
    log_depth, focal, cam_q, cam_t, (pair_q, pair_t, pair_log_s) = _initial_params(
        problem, init, preds, graph
    )
    n = len(focal)
    fixed_pose, fixed_focal = (flags.tolist() for flags in fixed_flags(config, n))
    if config.optimize_pp:
        logger.warning("paper mode keeps the principal points at the image centres (optimize_pp ignored)")
    normalise_scale = sum(fixed_pose) < 2
    if normalise_scale:
        _normalise_gauge(log_depth, cam_t, pair_log_s, pair_t, fixed_pose)
    pp = torch.tensor(init.principal_points, dtype=torch.float32)
    params = [log_depth, cam_q, cam_t, pair_q, pair_t, pair_log_s] + ([] if all(fixed_focal) else [focal])
    for p in params:
        p.requires_grad_(True)
    pose_mask = torch.tensor([0.0 if f else 1.0 for f in fixed_pose])[:, None]
    focal_mask = torch.tensor([0.0 if f else 1.0 for f in fixed_focal])
    optimizer = torch.optim.Adam(params, lr=LR, betas=BETAS)
    history: list[float] = []
    with torch.enable_grad():
        for it in range(config.niter):
            check_cancel(cancel)
            for group in optimizer.param_groups:
                group["lr"] = LR_MIN + (LR - LR_MIN) * 0.5 * (
                    1 + math.cos(math.pi * it / max(config.niter, 1))
                )
            optimizer.zero_grad()
            world = _world_points(problem, log_depth, _focals(focal, config.shared_focal), pp, cam_q, cam_t)
            s = torch.exp(pair_log_s - pair_log_s.mean() if normalise_scale else pair_log_s)
            dist = (world[problem.edges] - _pair_points(problem, pair_q, pair_t, s)).norm(dim=-1)
            loss = (problem.weight * dist).sum()
            loss.backward()
            cam_q.grad *= pose_mask  # known poses and focals stay fixed
            cam_t.grad *= pose_mask
            if focal.grad is not None:
                focal.grad *= focal_mask
            optimizer.step()
            history.append(float(loss.detach()))
            progress(f"Aligning {it + 1}/{config.niter}", (it + 1) / max(config.niter, 1))
    return _result(problem, graph, log_depth, focal, pp, cam_q, cam_t, config.shared_focal, history)


def _focals(focal: torch.Tensor, shared: bool) -> torch.Tensor:
    """``(N,)`` focal lengths (pixels) from the ``FOCAL_BREAK * log(f)`` parameters."""
    f = torch.exp(focal / FOCAL_BREAK)
    return f.mean().expand_as(f) if shared else f


def _normalise_gauge(log_depth, cam_t, pair_log_s, pair_t, fixed_pose) -> None:
    """Rescale the initial world (in place) so that the pair scales' product is 1, about a known camera."""
    log_k = -float(pair_log_s.mean())
    k = math.exp(log_k)
    pivot = cam_t[fixed_pose.index(True)].clone() if any(fixed_pose) else torch.zeros(3)
    log_depth += log_k
    cam_t[:] = pivot + k * (cam_t - pivot)
    pair_log_s += log_k
    # s' (R x + t') = pivot + k s (R x + t)  =>  t' = t + (1 - k) pivot / s'
    pair_t += (1.0 - k) * pivot / torch.exp(pair_log_s)[:, None]


def _world_points(problem: _PaperProblem, log_depth, f, pp, cam_q, cam_t) -> torch.Tensor:
    """``(N, P, 3)`` world points of every pixel."""
    xy = (problem.uv - pp[:, None, :]) / f[:, None, None]
    rays = torch.cat([xy, torch.ones_like(xy[..., :1])], dim=-1)
    cam = rays * torch.exp(log_depth)[..., None]
    return cam @ quaternion_to_rotation(cam_q).transpose(1, 2) + cam_t[:, None, :]


def _pair_points(problem: _PaperProblem, pair_q, pair_t, s) -> torch.Tensor:
    """``(E, 2, P, 3)`` world points predicted by every pair: ``s_e (R_e X + t_e)``."""
    num_edges = problem.pts.shape[0]
    flat = problem.pts.reshape(num_edges, -1, 3) @ quaternion_to_rotation(pair_q).transpose(1, 2)
    flat = s[:, None, None] * (flat + pair_t[:, None, :])
    return flat.reshape(problem.pts.shape)


def _result(
    problem, graph: PairGraph, log_depth, focal, pp, cam_q, cam_t, shared, history
) -> AlignmentResult:
    with torch.no_grad():
        f = _focals(focal, shared)
        cams = Cameras(
            quaternion_to_rotation(cam_q).double().numpy(),
            cam_t.double().numpy(),
            f.double().numpy().copy(),
            pp.double().numpy(),
        )
        depth = torch.exp(log_depth).numpy()
        conf = problem.conf_max.numpy()
    depths = [depth[v, : problem.hw[v]].reshape(H, W) for v, (H, W) in enumerate(graph.sizes)]
    confs = [conf[v, : problem.hw[v]].reshape(H, W) for v, (H, W) in enumerate(graph.sizes)]
    return result_from_cameras(cams, depths, confs, history)
