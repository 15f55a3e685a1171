"""core.align.cleanup: occlusion clean-up on a synthetic scene with injected floaters."""

from __future__ import annotations

import numpy as np
import pytest

from core.align.cleanup import clean_pointcloud
from core.align.result import AlignmentResult
from core.geometry.cameras import depth_to_cam_points, project
from core.geometry.transforms import invert_rigid, transform_points
from tests import synthetic


@pytest.fixture(scope="module")
def scene():
    """Ground-truth 3-view alignment of a room scene (the test block [30:60, 40:80] of view 0 lies on a wall),
    random confidences in [3, 10]."""
    case = synthetic.make_case(scene="room", n=3, noise=0, size=(128, 96), seed=0, preds=False)
    rng = np.random.default_rng(0)
    n, H, W = case["depth"].shape
    conf = [rng.uniform(3.0, 10.0, (H, W)).astype(np.float32) for _ in range(n)]
    return case, conf


def _result(case, depth, conf) -> AlignmentResult:
    n, H, W = case["depth"].shape
    pp = np.array([W / 2.0, H / 2.0])
    focals = case["focals"].astype(np.float64)
    pts3d = [
        transform_points(case["cam2world"][v], depth_to_cam_points(depth[v], focals[v], pp)).astype(
            np.float32
        )
        for v in range(n)
    ]
    return AlignmentResult(
        world_from_cam=case["cam2world"],
        focals=focals,
        principal_points=np.tile(pp, (n, 1)),
        depth=[d.astype(np.float32) for d in depth],
        pts3d=pts3d,
        conf=conf,
    )


def _seen_by_another_view(result: AlignmentResult, view: int, mask: np.ndarray, views=None) -> np.ndarray:
    """For the pixels of ``mask``, whether their point projects inside some other camera's image (of
    ``views``, default all)."""
    K = result.intrinsics()
    seen = np.zeros(int(mask.sum()), dtype=bool)
    for j in range(result.num_views) if views is None else views:
        if j == view:
            continue
        pts_cam = transform_points(invert_rigid(result.world_from_cam[j]), result.pts3d[view][mask])
        uv = project(K[j], pts_cam)
        H, W = result.depth[j].shape
        seen |= (
            (pts_cam[:, 2] > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < W - 1) & (uv[:, 1] >= 0) & (uv[:, 1] < H - 1)
        )
    return seen


def test_exact_scene_keeps_almost_everything(scene) -> None:
    case, conf = scene
    result = _result(case, [d.astype(np.float64) for d in case["depth"]], conf)
    cleaned = clean_pointcloud(result)
    dropped = np.mean([np.mean(c == 0) for c in cleaned])
    assert dropped < 1e-3  # a handful of pixels exactly on depth edges at most


def test_injected_floater_is_removed(scene) -> None:
    case, conf = scene
    depth = [d.astype(np.float64) for d in case["depth"]]
    floater = np.zeros(depth[0].shape, dtype=bool)
    floater[30:60, 40:80] = True
    depth[0][floater] *= 0.6  # pulled 40 % towards camera 0: in front of the surface the others see
    conf = [c.copy() for c in conf]
    conf[0][floater] = 2.0
    result = _result(case, depth, conf)

    cleaned = clean_pointcloud(result)
    assert all(c.dtype == np.float32 and c.shape == d.shape for c, d in zip(cleaned, depth, strict=True))
    dropped = cleaned[0] == 0
    seen = _seen_by_another_view(result, 0, floater)
    assert seen.mean() > 0.5  # the test is meaningful: most of the floater is in another camera's view
    assert dropped[floater][seen].all()  # every floater pixel another camera could judge is dropped
    assert not dropped[floater][~seen].any()  # outside every other view nothing can be said
    assert dropped[~floater].mean() < 1e-3
    kept = ~dropped
    np.testing.assert_array_equal(cleaned[0][kept], conf[0][kept])
    np.testing.assert_array_equal(result.conf[0], conf[0])  # the input is not modified


def test_confident_floater_is_kept(scene) -> None:
    case, conf = scene
    depth = [d.astype(np.float64) for d in case["depth"]]
    depth[0][30:60, 40:80] *= 0.6
    conf = [c.copy() for c in conf]
    conf[0][30:60, 40:80] = 50.0  # more confident than anything the other views saw there
    cleaned = clean_pointcloud(_result(case, depth, conf))
    assert not (cleaned[0][30:60, 40:80] == 0).any()


def test_bad_conf_and_tol(scene) -> None:
    case, conf = scene
    depth = [d.astype(np.float64) for d in case["depth"]]
    depth[0][30:60, 40:80] *= 0.999  # 0.1 % in front: inside a 1 % tolerance, outside a 0.01 % one
    conf = [c.copy() for c in conf]
    conf[0][30:60, 40:80] = 1.0
    result = _result(case, depth, conf)
    assert not (clean_pointcloud(result, tol=0.01)[0][30:60, 40:80] == 0).any()
    strict = clean_pointcloud(result, tol=1e-4, bad_conf=-1.0)[0]
    assert (strict[30:60, 40:80] == -1.0).any()
    with pytest.raises(ValueError, match="tol"):
        clean_pointcloud(result, tol=1.5)


def test_the_graph_pairs_limit_which_views_judge_each_other(scene) -> None:
    """With the scene graph's pairs, view 0's floater is judged only by the views paired with it (both
    orders count); every pair given is the same as none given."""
    case, conf = scene
    depth = [d.astype(np.float64) for d in case["depth"]]
    depth[0][30:60, 40:80] *= 0.6
    conf = [c.copy() for c in conf]
    conf[0][30:60, 40:80] = 2.0
    result = _result(case, depth, conf)
    n = result.num_views
    every = [(i, j) for i in range(n) for j in range(i)]
    for a, b in zip(clean_pointcloud(result, pairs=every), clean_pointcloud(result), strict=True):
        np.testing.assert_array_equal(a, b)
    others = [(i, j) for i in range(1, n) for j in range(1, n) if i != j]  # view 0 paired with nobody
    assert not (clean_pointcloud(result, pairs=others)[0] == 0).any()
    judged_by_1 = clean_pointcloud(result, pairs=[(1, 0)])[0] == 0
    everywhere = np.ones(depth[0].shape, dtype=bool)
    seen_by_1 = _seen_by_another_view(result, 0, everywhere, views=[1]).reshape(everywhere.shape)
    assert judged_by_1[30:60, 40:80].any() and not judged_by_1[~seen_by_1].any()
    with pytest.raises(ValueError, match="outside"):
        clean_pointcloud(result, pairs=[(0, n)])
