"""Our fast global alignment (``method="fast"``): block-coordinate descent with closed-form blocks.

The unknowns of paper section 3.4 split into three blocks, each with an (almost) closed-form optimum when
the others are fixed, inside an iteratively-reweighted least-squares loop for the robust loss
(:mod:`.losses`):

1. per pair ``e``, the similarity ``world_from_pair_e = (s_e, R_e, t_e)``: weighted Umeyama of the pair's
   two pointmaps onto the current world points of its two views (exact, batched over all pairs);
2. per view, the fused target: for fixed weights, ``sum_e w_e ||x - Y_e||^2 = W ||x - Ybar||^2 + const``,
   so all pairs' predictions of a pixel collapse into one weighted mean ``Ybar`` (a sparse incidence sum);
3. per view, the camera (pose, focal, optionally principal point) with the per-pixel depths eliminated:
   a Levenberg-Marquardt step on <= 9 parameters per view (:mod:`.camera_fit`), then the depths in closed
   form (the optimum along each pixel's ray).

All of this runs on a regular subsample of the pixels (``AlignConfig.fast_pixels`` per view): the
global unknowns are few, so a few thousand pixels per view determine them as well as all of them do.
The full-resolution depth maps are computed once at the end (:mod:`.dense`). The gauge is fixed by
the product of the pair scales (= 1), or by the known poses. Memory is linear in the number of pairs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import AlignConfig
from ..geometry.procrustes import batched_umeyama
from ..predictions import PairPrediction
from ..progress import ProgressFn, check_cancel
from .camera_fit import Cameras, camera_step, dot, parameter_layout
from .graph import PairGraph, confidence_weights
from .init import InitialAlignment
from .losses import RELATIVE_DELTA, irls_weights, robust_objective

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Samples:
    """Predictions at a regular subsample of each view's pixels, padded to a common count ``P``.

    Attributes:
        uv: ``(N, P, 2)`` float64 pixel index coordinates ``(u, v)`` (zeros on padding).
        pixel_index: N arrays ``(P_n,)`` int64 flat indices into the view's ``H*W`` pixels.
        pts: ``(E, 2, P, 3)`` float64 pointmaps ``X^{i,e}``, ``X^{j,e}`` at the samples (pair frame).
        base_weight: ``(E, 2, P)`` float64 confidence weights (0 on padding and unconfident pixels).
        slot_view: ``(E, 2)`` int64 view of each pointmap (the edges).
        incidence: ``(N, 2E)`` float64, 1 where a pointmap belongs to a view (sums slots into views).
    """

    uv: np.ndarray
    pixel_index: list[np.ndarray]
    pts: np.ndarray
    base_weight: np.ndarray
    slot_view: np.ndarray
    incidence: np.ndarray


@dataclass
class PairSimilarities:
    """``world_from_pair_e`` for every pair: ``x_world = scale * rot @ x_pair + trans`` (float64)."""

    scale: np.ndarray  # (E,)
    rot: np.ndarray  # (E, 3, 3)
    trans: np.ndarray  # (E, 3)

    def apply(self, pts: np.ndarray) -> np.ndarray:
        """``(E, 2, P, 3)`` pair-frame points -> world points."""
        num_edges = len(self.scale)
        flat = np.matmul(pts.reshape(num_edges, -1, 3), np.swapaxes(self.rot, 1, 2))
        flat = self.scale[:, None, None] * flat + self.trans[:, None, :]
        return flat.reshape(pts.shape)


def sample_predictions(preds: Sequence[PairPrediction], graph: PairGraph, config: AlignConfig) -> Samples:
    """Regular pixel subsample of every view, stride chosen for about ``config.fast_pixels`` pixels."""
    n, num_edges = graph.num_views, len(graph.edges)
    index, coords = [], []
    for H, W in graph.sizes:
        stride = max(1, round(math.sqrt(H * W / config.fast_pixels)))
        rows = np.arange(stride // 2, H, stride)
        cols = np.arange(stride // 2, W, stride)
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        index.append((rr * W + cc).reshape(-1))
        coords.append(np.stack([cc, rr], axis=-1).reshape(-1, 2).astype(np.float64))
    P = max(len(ix) for ix in index)
    uv = np.zeros((n, P, 2))
    for v in range(n):
        uv[v, : len(coords[v])] = coords[v]
    pts = np.zeros((num_edges, 2, P, 3))
    base_weight = np.zeros((num_edges, 2, P))
    for e, pred in enumerate(preds):
        for side, (X, C) in enumerate(((pred.pts3d_i, pred.conf_i), (pred.pts3d_j, pred.conf_j))):
            ix = index[graph.edges[e, side]]
            pts[e, side, : len(ix)] = X.reshape(-1, 3)[ix]
            base_weight[e, side, : len(ix)] = confidence_weights(C.reshape(-1)[ix], config.min_conf)
    incidence = np.zeros((n, 2 * num_edges))
    incidence[graph.edges.reshape(-1), np.arange(2 * num_edges)] = 1.0
    return Samples(uv, index, pts, base_weight, graph.edges.copy(), incidence)


def _initial_state(init: InitialAlignment, samples: Samples, preds) -> tuple[Cameras, np.ndarray]:
    cams = Cameras(
        init.world_from_cam[:, :3, :3].copy(),
        init.world_from_cam[:, :3, 3].copy(),
        init.focals.astype(np.float64).copy(),
        init.principal_points.astype(np.float64).copy(),
    )
    depth = np.zeros(samples.uv.shape[:2])
    for v, ix in enumerate(samples.pixel_index):
        depth[v, : len(ix)] = init.depth(v, preds).reshape(-1)[ix]
    return cams, depth


def _fix_gauge(cams: Cameras, depth: np.ndarray, sims: PairSimilarities, fixed_pose: np.ndarray) -> None:
    """Rescale the world so that the pair scales' product is 1 (about a known camera if one is fixed)."""
    if fixed_pose.sum() >= 2:
        return
    k = math.exp(-float(np.mean(np.log(np.maximum(sims.scale, 1e-300)))))
    pivot = cams.centre[int(np.flatnonzero(fixed_pose)[0])].copy() if fixed_pose.any() else np.zeros(3)
    cams.centre[:] = pivot + k * (cams.centre - pivot)
    depth *= k
    sims.scale *= k
    sims.trans[:] = k * sims.trans + (1.0 - k) * pivot


def fixed_flags(config: AlignConfig, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` bool: views whose pose is known, and whose focal is known (all, when shared and one is)."""
    fixed_pose = np.array(
        [config.known_poses is not None and config.known_poses[v] is not None for v in range(n)]
    )
    fixed_focal = np.array(
        [config.known_focals is not None and config.known_focals[v] is not None for v in range(n)]
    )
    if config.shared_focal and fixed_focal.any():
        fixed_focal[:] = True
    return fixed_pose, fixed_focal


def fast_align(
    preds: Sequence[PairPrediction],
    graph: PairGraph,
    init: InitialAlignment,
    config: AlignConfig,
    progress: ProgressFn,
    cancel=None,
) -> tuple[Cameras, PairSimilarities, list[float], float]:
    """Optimise cameras and pair similarities on the pixel subsample (see the module docstring).

    Returns:
        ``(cameras, pair similarities, loss history, delta)``; the loss is the weighted mean distance divided
        by the scene's median depth; ``delta`` is the robust loss's delta in final world units.
    """
    samples = sample_predictions(preds, graph, config)
    cams, depth = _initial_state(init, samples, preds)
    fixed_pose, fixed_focal = fixed_flags(config, graph.num_views)
    layout, size = parameter_layout(
        graph.num_views, fixed_pose, fixed_focal, config.shared_focal, config.optimize_pp
    )
    valid = samples.incidence @ (samples.base_weight.reshape(2 * len(graph.edges), -1) > 0)
    depth_scale = float(np.median(depth[valid > 0]))
    delta = RELATIVE_DELTA * depth_scale
    weight = samples.base_weight
    damping, history = 1e-4, []
    niter = config.fast_niter
    world, sims = _fit_pairs(samples, cams, depth, weight)
    _fix_gauge(cams, depth, sims, fixed_pose)
    for it in range(niter):
        check_cancel(cancel)
        if it > 0:
            world, sims = _fit_pairs(samples, cams, depth, weight)
        else:
            world = cams.world_points(samples.uv, depth)[samples.slot_view]
        target = sims.apply(samples.pts)
        diff = world - target
        sq = dot(diff, diff)
        history.append(robust_objective(samples.base_weight, sq) / depth_scale)
        weight = irls_weights(samples.base_weight, sq, delta)
        fused, fused_w = _fuse(samples, target, weight)
        cams, depth, damping = camera_step(cams, samples.uv, fused, fused_w, layout, size, damping)
        _fix_gauge(cams, depth, sims, fixed_pose)
        progress(f"Aligning {it + 1}/{niter}", (it + 1) / niter)
        if _converged(history, config.fast_tol):
            logger.info("fast alignment converged after %d iterations", it + 1)
            break
    final_delta = RELATIVE_DELTA * float(np.median(depth[valid > 0]))
    return cams, sims, history, final_delta


def _fit_pairs(samples: Samples, cams: Cameras, depth: np.ndarray, weight: np.ndarray):
    """World points of every pointmap slot ``(E, 2, P, 3)`` and the pair similarities fitted to them."""
    world = cams.world_points(samples.uv, depth)[samples.slot_view]
    num_edges = world.shape[0]
    sims = PairSimilarities(
        *batched_umeyama(
            samples.pts.reshape(num_edges, -1, 3),
            world.reshape(num_edges, -1, 3),
            weight.reshape(num_edges, -1),
        )
    )
    return world, sims


def _fuse(samples: Samples, target: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per view, the weighted mean of all pairs' targets ``(N, P, 3)`` and the summed weight ``(N, P)``."""
    num_slots = target.shape[0] * 2
    wsum = samples.incidence @ weight.reshape(num_slots, -1)
    numer = samples.incidence @ (weight[..., None] * target).reshape(num_slots, -1)
    fused = numer.reshape(wsum.shape + (3,)) / np.maximum(wsum, 1e-300)[..., None]
    return fused, wsum


def _converged(history: list[float], tol: float) -> bool:
    if history[-1] < 1e-12:
        return True
    if len(history) < 4:
        return False
    recent = np.array(history[-4:])
    return bool(np.all((recent[:-1] - recent[1:]) <= tol * recent[:-1]))
