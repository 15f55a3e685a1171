"""First guesses from the network's own cross-view geometry (core/refine/network_seeds.py): reciprocal nearest
neighbours of a pair's pointmaps find the right pixels, and guide the matcher where the aligned cameras are
tens of pixels off (tests/synthetic ground truth)."""

from __future__ import annotations

import numpy as np
import pytest

from core.align import global_align
from core.align.store import PairStore
from core.config import AlignConfig, InferenceConfig, ReconstructConfig, RefineConfig
from core.geometry.distortion import project_distorted
from core.geometry.transforms import invert_rigid
from core.jobs.refine import network_correspondences
from core.predictions import predictions_from_pairwise
from core.refine import pair_correspondences
from core.refine.lucas_kanade import PatchParams
from core.refine.matches import _match_guided, match_pair
from core.refine.network_seeds import correspondence_index, network_guesses, reciprocal_matches
from core.refine.pyramid import build_pyramid, to_grey
from core.refine.seeds import SeedParams, host_points, predict_in
from core.refine.views import ImageFrame, RefineView, identity_crop
from core.refine.warps import PlaneWarp
from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT
from tests.synthetic import make_case
from tests.synthetic.metrics import true_rays

SIZE = (160, 120)


@pytest.fixture(scope="module")
def room():
    case = make_case("room", n=4, noise=0.0, size=SIZE, seed=2, graph="complete")
    preds = predictions_from_pairwise(case)
    return case, preds, global_align(preds, AlignConfig())


def _true_pixels(case, a: int, b: int, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where view ``b`` truly sees the pixels ``xy`` (integers) of view ``a``, and whether it does (in front,
    inside, not hidden)."""
    H, W = case["depth"].shape[1:]
    x, y = xy[:, 0].astype(int), xy[:, 1].astype(int)
    cam_a = true_rays(case)[a][y, x] * case["depth"][a][y, x, None]
    T = invert_rigid(case["cam2world"][b]) @ case["cam2world"][a]
    cam_b = cam_a @ T[:3, :3].T + T[:3, 3]
    q = project_distorted(np.asarray(case["K"][b], float), cam_b)
    inside = (cam_b[:, 2] > 0) & (q[:, 0] >= 0) & (q[:, 0] <= W - 1) & (q[:, 1] >= 0) & (q[:, 1] <= H - 1)
    qi = np.clip(np.rint(q).astype(int), 0, [W - 1, H - 1])
    seen = inside & (np.abs(case["depth"][b][qi[:, 1], qi[:, 0]] / cam_b[:, 2] - 1) < 0.02)
    return q, seen


def _view(case, aligned, v: int, world_from_cam: np.ndarray) -> RefineView:
    crop = identity_crop(*SIZE)
    return RefineView(image=case["images"][v], K=aligned.intrinsics()[v], world_from_cam=world_from_cam,
                      pts3d=aligned.pts3d[v], depth=aligned.depth[v], conf=aligned.conf[v],
                      frame=ImageFrame(net_crop=crop, image_crop=crop))  # fmt: skip


def _turned(world_from_cam: np.ndarray, degrees: float) -> np.ndarray:
    """The camera turned about its own y axis (its image moves sideways by about f tan(degrees))."""
    a = np.radians(degrees)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    out = world_from_cam.copy()
    out[:3, :3] = world_from_cam[:3, :3] @ R
    return out


def test_reciprocal_nearest_neighbours_are_each_others_pixels() -> None:
    # two views of one plane z = 1 in one frame: view j is view i shifted by 3 pixels
    ys, xs = np.mgrid[0:40, 0:50].astype(np.float32)
    pts_i = np.stack([xs * 0.01, ys * 0.01, np.ones_like(xs)], -1)
    pts_j = np.stack([(xs + 3) * 0.01, ys * 0.01, np.ones_like(xs)], -1)
    conf = np.full((40, 50), 5.0, np.float32)
    conf_low = conf.copy()
    conf_low[:, :10] = 1.0  # not confident: never used
    uv_i, uv_j, c = reciprocal_matches(pts_i, conf, pts_j, conf_low, step=1)
    assert len(uv_i) > 1000
    np.testing.assert_allclose(uv_i[:, 0], uv_j[:, 0] + 3)
    np.testing.assert_allclose(uv_i[:, 1], uv_j[:, 1])
    assert uv_j[:, 0].min() >= 10 and np.all(c == 5.0)


def test_pair_correspondences_keep_one_order_of_each_pair(room) -> None:
    case, preds, _ = room
    corrs = pair_correspondences(preds)
    assert len(preds) == 12 and len(corrs) == 6  # complete graph of 4 views, both orders predicted
    for c in corrs:
        assert c.i != c.j and len(c) > 100
        # noise-free pointmaps: the network's correspondences are the true ones, to the grid's step
        q, seen = _true_pixels(case, c.i, c.j, np.rint(c.uv_i))
        err = np.hypot(*(q[seen] - c.uv_j[seen]).T)
        assert seen.mean() > 0.8 and np.median(err) < 1.5


def test_network_seeds_find_the_points_where_the_aligned_camera_is_tens_of_pixels_off(room) -> None:
    case, preds, aligned = room
    a, b = 0, 1
    host = _view(case, aligned, a, aligned.world_from_cam[a])
    wrong = _view(case, aligned, b, _turned(aligned.world_from_cam[b], 12.0))  # about 30 px off
    pyr_a, pyr_b = (build_pyramid(to_grey(v.image), 5) for v in (host, wrong))
    points = host_points(host, pyr_a[0], SeedParams(), 9)
    q0, A, visible = predict_in(wrong, points, SeedParams(occlusion_tol=1.0), 9)
    truth, seen = _true_pixels(case, a, b, points.xy)
    idx = np.flatnonzero(visible & seen)
    assert len(idx) > 30
    reprojection_error = np.hypot(*(q0[idx] - truth[idx]).T)
    assert np.median(reprojection_error) > 15.0
    net = network_guesses(
        host, wrong, points.xy[idx], q0[idx], correspondence_index(pair_correspondences(preds))[(a, b)]
    )
    net_error = np.hypot(*(net - truth[idx]).T)
    assert np.median(net_error) < 3.0
    # the matcher searching 8 px around its guess: from reprojection it cannot find them, from the
    # network's guesses it finds most, to a fraction of a pixel
    warp = PlaneWarp(points.X[idx], points.dX_dxy[idx], wrong.world_from_cam, wrong.K)
    params = PatchParams(window=9)
    q_r, ok_r = match_pair(pyr_a, pyr_b, points.xy[idx], warp, q0[idx], 8.0, params)
    q_n, ok_n = _match_guided(pyr_a, pyr_b, points.xy[idx], warp, q0[idx], 8.0, params, net)
    right_r = ok_r & (np.hypot(*(q_r - truth[idx]).T) < 1.0)
    right_n = ok_n & (np.hypot(*(q_n - truth[idx]).T) < 1.0)
    assert right_n.sum() >= max(10, 3 * right_r.sum())
    assert np.mean(np.hypot(*(q_n[ok_n] - truth[idx][ok_n]).T) < 1.0) > 0.9  # what it finds is right


def test_the_jobs_take_the_correspondences_from_the_pair_store_only_when_asked(room) -> None:
    _, preds, _ = room
    with PairStore() as store:
        for pred in preds:
            store.add(pred)
        assert network_correspondences(store, RefineConfig(), 4) is None  # off by default
        assert network_correspondences(store, RefineConfig(enabled=False, network_seeds=True), 4) is None
        stored = network_correspondences(store, RefineConfig(network_seeds=True), 4)
    direct = pair_correspondences(preds)
    assert [(c.i, c.j) for c in stored] == [(c.i, c.j) for c in direct]
    # the store keeps float16 maps: the same correspondences, but for a few on ties
    for s, d in zip(stored, direct, strict=True):
        assert abs(len(s) - len(d)) <= 0.05 * len(d)


def test_reconstruct_with_network_seeds_runs_end_to_end_with_the_tiny_model() -> None:
    from core.jobs.photos import reconstruct
    from core.model.checkpoint import load_model

    config = ReconstructConfig(inference=InferenceConfig(image_size=224, device="cpu", precision="fp32"),
                               refine=RefineConfig(enabled=True, network_seeds=True))  # fmt: skip
    result = reconstruct(PHOTOS, None, config, model=load_model(TINY_CHECKPOINT))
    assert len(result.refine_status) == 3
    assert all(s == "refined" or s.startswith("kept: ") for s in result.refine_status)
