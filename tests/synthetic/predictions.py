"""DUSt3R-like pair predictions of a synthetic case, exact or with a noise model.

For an ORDERED pair ``e = (i, j)`` the "network" returns ``pred_i`` (view i's pointmap) and ``pred_j`` (view
j's pointmap), both in camera i's frame and multiplied by an arbitrary pair scale ``pair_scale[e]``, with
confidences ``conf_i``, ``conf_j`` in [1, 50]. With ``noise = 0`` they are exact:
``pred_i = s * depth_i * ray_i`` and ``pred_j = s * cam_i_from_cam_j(depth_j * ray_j)``, ``ray`` the true
(undistorted) pixel rays.

Error model (``nu`` = the noise knob; every magnitude below is multiplied by it; independent per ordered
pair, so ``(i, j)`` and ``(j, i)`` disagree like two network passes do):

* pair scale ``s = exp(U(-0.3, 0.3)) / mean point norm of the pair`` (also at ``nu = 0``);
* relative pose of view j in camera i: a rotation about camera j's centre, ``N(0, 0.6 deg)`` per axis
  (about 1 degree in all), and a translation error ``N(0, 0.02 |t_ij|)`` per axis;
* per (pair, view) focal error: the pointmap implies a focal ``f exp(0.02 g)`` (``g ~ N(0, 1)``);
* smooth multiplicative depth distortion ``exp(0.025 F_view + 0.02 F_pair)``, ``F`` zero-mean unit-std
  fields of three cosines of at most 1.5 cycles per image (``F_view`` shared by every pair that sees the
  view: a bias that alignment cannot average out); view j's depth is also scaled by ``exp(0.02 g)``;
* per-pixel depth noise ``exp(0.006 g)`` (2.5x where the pixel is not seen by the other view) plus an
  isotropic 3-D jitter of ``0.0015 depth``;
* flying pixels: at depth discontinuities the depth is moved towards a random depth between its
  neighbours' (by ``min(1, nu / 2)``);
* outliers: ``1.5 %`` of the pixels (capped at 20 %) get their depth multiplied by ``exp(+-U(0.2, 0.8))``;
  70 % of them have a low confidence (``U(1, 2.5)``), 30 % are confidently wrong (``U(8, 30)``);
* confidence ``C = 1 + 49 q exp(-e / 0.05) exp(0.1 g)`` clipped to [1, 50], ``e`` the pixel's relative 3-D
  error, ``q = 0.65 + 0.35 clip(F / 2, -1, 1)`` (a smooth field) halved where the pixel is not co-visible and
  x0.15 on background (sky) pixels.
"""

from __future__ import annotations

import math

import numpy as np

from core.geometry.distortion import project_distorted
from core.graphs.photos import make_pairs

from .scenes import rotation_from_rotvec

DEG = math.pi / 180.0


def graph_edges(n: int, graph: str) -> np.ndarray:
    """``(E, 2)`` int32 ordered pairs of a scene graph (``core.graphs.photos.make_pairs`` order).

    Besides the graphs of ``make_pairs`` (``complete``, ``swin-K[-noncyclic]``, ``logwin-K[-noncyclic]``,
    ``oneref-R``), ``pairs:0-1,1-2,...`` names the unordered pairs (sorted, then the reversed ones follow).
    """
    if graph.startswith("pairs:"):
        found = set()
        for token in graph[len("pairs:") :].split(","):
            a, b = (int(x) for x in token.split("-"))
            if a == b or not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"bad pair {token!r} for {n} views")
            found.add((min(a, b), max(a, b)))
        pairs = sorted(found)
        pairs += [(j, i) for i, j in pairs]
    else:
        pairs = make_pairs(n, graph, symmetrize=True)
    return np.array(pairs, dtype=np.int32).reshape(-1, 2)


def smooth_field(rng: np.random.Generator, H: int, W: int) -> np.ndarray:
    """``(H, W)`` zero-mean, unit-std field: three random cosines of at most 1.5 cycles per image."""
    u, v = 2 * math.pi * np.arange(W) / W, 2 * math.pi * np.arange(H) / H
    acc = np.zeros((H, W))
    for _ in range(3):  # cos(a + b) = cos a cos b - sin a sin b: two outer products
        fu, fv = rng.uniform(-1.5, 1.5, 2)
        a, b = fu * u + rng.uniform(0, 2 * math.pi), fv * v
        acc += np.outer(np.cos(b), np.cos(a)) - np.outer(np.sin(b), np.sin(a))
    acc -= acc.mean()
    return acc / (acc.std() + 1e-12)


def _depth_edges(depth: np.ndarray):
    """Depth discontinuities of ``(H, W)`` depth, and the min / max depth of each 3x3 neighbourhood.

    Inverse depth is affine in the pixel coordinates on a plane, so its second differences vanish on flat
    surfaces and flag the pixels on both sides of a jump (above 5 % of the pixel's inverse depth).
    """
    H, W = depth.shape
    inv = np.pad(1.0 / depth, 1, mode="edge")
    centre = inv[1:-1, 1:-1]
    curv_u = np.abs(inv[1:-1, 2:] - 2 * centre + inv[1:-1, :-2])
    curv_v = np.abs(inv[2:, 1:-1] - 2 * centre + inv[:-2, 1:-1])
    pad = np.pad(depth, 1, mode="edge")
    nb = np.stack([pad[1 + dy : H + 1 + dy, 1 + dx : W + 1 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    return np.maximum(curv_u, curv_v) > 0.05 * centre, nb.min(0), nb.max(0)


def _apply(R: np.ndarray, t: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """``R @ p + t`` for points ``(..., 3)`` as one matrix product."""
    return (pts.reshape(-1, 3) @ R.T.astype(pts.dtype) + t.astype(pts.dtype)).reshape(pts.shape)


def _norms(pts: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("...i,...i->...", pts, pts))


class PairPredictor:
    """Predictions for the pairs of one case; per-view arrays and co-visibility masks are computed once.

    Args:
        depth: ``(N, H, W)`` float64 z-depth; rays: ``(N, H, W, 3)`` true camera rays (z = 1);
        world_from_cam: ``(N, 4, 4)``; K: ``(N, 3, 3)``; dist: ``(N, 2)``; background: ``(N, H, W)`` bool.
    """

    def __init__(self, depth, rays, world_from_cam, K, dist, background, noise: float, seed: int):
        self.depth, self.rays, self.T, self.K, self.dist = depth, rays, world_from_cam, K, dist
        self.background = background
        self.noise, self.seed = float(noise), int(seed)
        self.cam_pts = rays * depth[..., None]
        R, t = world_from_cam[:, :3, :3], world_from_cam[:, :3, 3]
        self.world_pts = np.einsum("nij,nhwj->nhwi", R, self.cam_pts) + t[:, None, None]
        self._covis: dict[tuple[int, int], np.ndarray] = {}
        self._shared: dict[int, np.ndarray] = {}
        self._edges: dict[int, tuple] = {}

    def covisible(self, a: int, b: int) -> np.ndarray:
        """``(H, W)`` bool: pixels of view a whose surface point is in view b's image and not hidden there."""
        if (a, b) not in self._covis:
            R, c = self.T[b, :3, :3], self.T[b, :3, 3]
            pts = _apply(R.T, -R.T @ c, self.world_pts[a])
            z = pts[..., 2]
            front = z > 1e-6
            uv = project_distorted(self.K[b], np.where(front[..., None], pts, 1.0), self.dist[b])
            uv = np.round(np.clip(np.nan_to_num(uv, nan=-1.0), -1e9, 1e9)).astype(np.int64)
            H, W = z.shape
            inside = front & (uv[..., 0] >= 0) & (uv[..., 0] < W) & (uv[..., 1] >= 0) & (uv[..., 1] < H)
            seen = self.depth[b][np.clip(uv[..., 1], 0, H - 1), np.clip(uv[..., 0], 0, W - 1)]
            self._covis[(a, b)] = inside & (z <= seen * 1.03)
        return self._covis[(a, b)]

    def _shared_field(self, v: int) -> np.ndarray:
        if v not in self._shared:
            self._shared[v] = smooth_field(np.random.default_rng([self.seed, 211, v]), *self.depth.shape[1:])
        return self._shared[v]

    def _noisy_view(self, rng, v: int, vis: np.ndarray, second: bool):
        """View v's noisy camera-frame points (its own frame) and its outlier mask."""
        nu, d = self.noise, self.depth[v].astype(np.float32)
        H, W = d.shape
        if v not in self._edges:
            self._edges[v] = _depth_edges(d)
        flying, lo, hi = self._edges[v]
        d[flying] += min(1.0, nu / 2) * (
            lo[flying] + rng.random(flying.sum()) * (hi - lo)[flying] - d[flying]
        )
        d *= np.exp(nu * (0.025 * self._shared_field(v) + 0.02 * smooth_field(rng, H, W))).astype(np.float32)
        if second:
            d *= math.exp(0.02 * nu * rng.normal())
        d *= np.exp(0.006 * nu * np.where(vis, 1.0, 2.5) * rng.standard_normal((H, W), np.float32))
        outlier = rng.random((H, W), np.float32) < min(0.015 * nu, 0.2)
        w = rng.uniform(-1.0, 1.0, outlier.sum())
        d[outlier] *= np.exp(np.sign(w) * (0.2 + 0.6 * np.abs(w)))
        pts = self.rays[v].astype(np.float32) * d[..., None]
        pts[..., :2] *= math.exp(-0.02 * nu * rng.normal())  # implied focal f * exp(0.02 g)
        pts += (0.0015 * nu) * d[..., None] * rng.standard_normal((H, W, 3), np.float32)
        return pts, outlier

    def _confidence(self, rng, pts, truth, vis, background, outlier) -> np.ndarray:
        H, W = vis.shape
        field = np.clip(smooth_field(rng, H, W).astype(np.float32) / 2.0, -1.0, 1.0)
        gain = 49.0 * (0.65 + 0.35 * field) * np.where(vis, 1.0, 0.5) * np.where(background, 0.15, 1.0)
        log_gain = 0.1 * rng.standard_normal((H, W), np.float32)
        if self.noise > 0:
            diff = pts - truth
            err = np.sqrt(
                np.einsum("...i,...i->...", diff, diff) / (np.einsum("...i,...i->...", truth, truth) + 1e-24)
            )
            log_gain -= err / 0.05
        gain *= np.exp(log_gain)
        conf = 1.0 + gain
        k = int(outlier.sum())
        if k:
            hard = rng.random(k) < 0.3
            conf[outlier] = np.where(hard, rng.uniform(8.0, 30.0, k), rng.uniform(1.0, 2.5, k))
        return np.clip(conf, 1.0, 50.0)

    def predict(self, i: int, j: int):
        """``pred_i, pred_j (H, W, 3)`` float32, ``conf_i, conf_j (H, W)`` float32, ``scale`` float."""
        rng = np.random.default_rng([self.seed, 101, i, j])
        cam_i_from_cam_j = np.linalg.inv(self.T[i]) @ self.T[j]
        R, t = cam_i_from_cam_j[:3, :3], cam_i_from_cam_j[:3, 3]
        truth_i, truth_j = self.cam_pts[i], _apply(R, t, self.cam_pts[j])
        mean_norm = 0.5 * (_norms(truth_i).mean() + _norms(truth_j).mean())
        scale = math.exp(rng.uniform(-0.3, 0.3)) / mean_norm
        vis_i, vis_j = self.covisible(i, j), self.covisible(j, i)
        if self.noise > 0:
            pts_i, out_i = self._noisy_view(rng, i, vis_i, second=False)
            pts_j, out_j = self._noisy_view(rng, j, vis_j, second=True)
            R_err = rotation_from_rotvec(rng.normal(0.0, 0.6 * DEG * self.noise, 3))
            t_err = rng.normal(0.0, 0.02 * self.noise * np.linalg.norm(t), 3)
            pts_j = _apply(R @ R_err, t + t_err, pts_j)
        else:
            pts_i, pts_j = truth_i, truth_j
            out_i = out_j = np.zeros(vis_i.shape, dtype=bool)
        conf_i = self._confidence(rng, pts_i, truth_i, vis_i, self.background[i], out_i)
        conf_j = self._confidence(rng, pts_j, truth_j, vis_j, self.background[j], out_j)
        f32 = np.float32
        return (
            (pts_i * scale).astype(f32),
            (pts_j * scale).astype(f32),
            conf_i.astype(f32),
            conf_j.astype(f32),
            scale,
        )

    def predict_all(self, edges: np.ndarray) -> dict[str, np.ndarray]:
        """The pairwise arrays of the case layout for ``edges`` ``(E, 2)``."""
        E = len(edges)
        H, W = self.depth.shape[1:]
        out = {
            "edges": np.asarray(edges, dtype=np.int32).reshape(E, 2),
            "pred_i": np.empty((E, H, W, 3), np.float32),
            "pred_j": np.empty((E, H, W, 3), np.float32),
            "conf_i": np.empty((E, H, W), np.float32),
            "conf_j": np.empty((E, H, W), np.float32),
            "pair_scale": np.empty(E, np.float64),
        }
        for e, (i, j) in enumerate(out["edges"]):
            (out["pred_i"][e], out["pred_j"][e], out["conf_i"][e], out["conf_j"][e], out["pair_scale"][e]) = (
                self.predict(int(i), int(j))
            )
        return out
