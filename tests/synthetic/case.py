"""``make_case``: a synthetic multi-view case with ground truth and pair predictions, and its npz file.

Case layout (a dict of numpy arrays; ``np.savez(path, **case)`` writes the file that
``python -m core align --input CASE.npz`` reads, the layout of ``shared/tools/synthgen.py``):

========== ============== ======= ===============================================================
key        shape          dtype   meaning
========== ============== ======= ===============================================================
images     (N, H, W, 3)   uint8   rendered colours
depth      (N, H, W)      float32 z-depth in each camera's frame (metres) of each pixel's true ray
K          (N, 3, 3)      float32 ``[[f, 0, W/2], [0, f, H/2], [0, 0, 1]]`` (index coordinates)
focals     (N,)           float32 ``f`` in pixels
cam2world  (N, 4, 4)      float64 ``world_from_cam``, OpenCV axes
obj_id     (N, H, W)      int16   primitive seen by each pixel
scene_scale ()            float64 median ground-truth depth over all pixels of all views
dist       (N, 2)         float64 radial distortion ``(k1, k2)`` of each view (zeros: pinhole)
meta       ()             str     JSON: scene, n, noise, size, seed, graph, k1, k2, scene_scale,
                                  bg_ids (background primitives), generator, version
-- with ``preds`` (one row per ORDERED pair ``e = (i, j)``, see ``predictions``) --
edges      (E, 2)         int32   ``(i, j)``, order of ``core.graphs.photos.make_pairs``
pred_i     (E, H, W, 3)   float32 view i's pointmap in camera i's frame, times the pair scale
pred_j     (E, H, W, 3)   float32 view j's pointmap in camera i's frame, times the pair scale
conf_i     (E, H, W)      float32 confidence of pred_i in [1, 50]
conf_j     (E, H, W)      float32 confidence of pred_j in [1, 50]
pair_scale (E,)           float64 the pair scale ``s`` (noise 0: ``pred = s * truth``)
========== ============== ======= ===============================================================

Lens distortion: pixel ``(u, v)`` sees the undistorted ray of ``x_d = ((u - cx) / f, (v - cy) / f)`` under
``x_d = x_u (1 + k1 r^2 + k2 r^4)`` (``core.geometry.distortion``); depth and pointmaps are those of the true
rays, so a pinhole fit of them leaves a radial residual. Everything is deterministic given ``seed``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.geometry.cameras import intrinsics_from_focal

from .metrics import true_rays
from .predictions import PairPredictor, graph_edges
from .render import render_view
from .scenes import FOOTAGE, SCENES

VERSION = 1


def make_case(
    scene: str = "orbit",
    n: int = 8,
    noise: float = 1.0,
    size: tuple[int, int] = (128, 96),
    seed: int = 0,
    graph: str = "complete",
    preds: bool = True,
    k1: float = 0.0,
    k2: float = 0.0,
) -> dict:
    """A synthetic case (layout in the module docstring).

    Args:
        scene: ``orbit``, ``room`` (photo sets: each view its own focal) or ``shot``, ``arc`` (footage: one
            lens, consecutive frames); see ``scenes``.
        n: number of views. noise: the error knob of the pair predictions (0: exact).
        size: ``(W, H)`` in pixels. seed: everything is a function of it.
        graph: the pairs predicted (``predictions.graph_edges``). preds: False skips the predictions.
        k1, k2: radial distortion of every view.
    """
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; use one of {sorted(SCENES)}")
    W, H = (int(x) for x in size)
    prims = scene_prims(scene, seed)
    world_from_cam, focals = SCENES[scene][1](np.random.default_rng([seed, 1]), n, W)
    focals = focals.astype(np.float32).astype(np.float64)  # render with exactly the stored focal
    K = np.stack([intrinsics_from_focal(f, (W / 2.0, H / 2.0)) for f in focals])
    dist = np.tile([float(k1), float(k2)], (n, 1))
    depth = np.empty((n, H, W))
    images = np.empty((n, H, W, 3), np.uint8)
    obj_id = np.empty((n, H, W), np.int16)
    for v in range(n):
        depth[v], images[v], obj_id[v] = render_view(prims, world_from_cam[v], K[v], dist[v], H, W)
    bg_ids = [k for k, p in enumerate(prims) if p.background]
    case = {
        "images": images,
        "depth": depth.astype(np.float32),
        "K": K.astype(np.float32),
        "focals": focals.astype(np.float32),
        "cam2world": world_from_cam.astype(np.float64),
        "obj_id": obj_id,
        "scene_scale": np.float64(np.median(depth)),
        "dist": dist,
    }
    meta = {
        "scene": scene,
        "n": n,
        "noise": float(noise),
        "size": [W, H],
        "seed": seed,
        "graph": graph,
        "k1": float(k1),
        "k2": float(k2),
        "footage": scene in FOOTAGE,
        "scene_scale": float(case["scene_scale"]),
        "bg_ids": bg_ids,
        "generator": "tests.synthetic",
        "version": VERSION,
    }
    case["meta"] = np.array(json.dumps(meta))
    if preds:
        predictor = PairPredictor(
            case["depth"].astype(np.float64),
            true_rays(case),
            world_from_cam,
            K,
            dist,
            np.isin(obj_id, bg_ids),
            noise,
            seed,
        )
        case.update(predictor.predict_all(graph_edges(n, graph)))
    return case


def scene_prims(scene: str, seed: int) -> list:
    """The primitives of ``make_case(scene, seed=seed)`` (to ray-cast more pixels of the same scene)."""
    return SCENES[scene][0](np.random.default_rng([seed, 0]))


def case_meta(case) -> dict:
    """The case's ``meta`` as a dict."""
    return json.loads(str(case["meta"]))


def save_case(case, path: str | Path) -> None:
    """Write ``case`` as a compressed npz (what ``python -m core align --input`` reads)."""
    np.savez_compressed(path, **case)


def load_case(path: str | Path) -> dict:
    """Read a case written by :func:`save_case` (arrays as in memory; ``meta`` stays a JSON string)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
