"""tests.synthetic, the project's own generator: exact geometry at noise 0, the lens model, determinism, the
metrics (perfect estimate ~ 0, known perturbations measured), and a noise model whose errors grow with noise."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli import main
from core.geometry.cameras import depth_to_cam_points, pixel_grid
from core.geometry.distortion import project_distorted
from core.geometry.transforms import invert_rigid, transform_points
from core.graphs.photos import make_pairs
from tests.synthetic import evaluate, graph_edges, gt_estimate, load_case, make_case, save_case
from tests.synthetic.case import scene_prims
from tests.synthetic.metrics import gt_world_points
from tests.synthetic.render import cast_pixels
from tests.synthetic.scenes import SCENES

SIZE = (64, 48)


@pytest.fixture(scope="module")
def exact_cases() -> dict[str, dict]:
    return {
        "orbit": make_case("orbit", n=4, noise=0, size=SIZE, seed=3),
        "room": make_case("room", n=4, noise=0, size=SIZE, seed=3),
        "arc-distorted": make_case("arc", n=6, noise=0, size=SIZE, seed=3, graph="swin-2", k1=-0.15, k2=0.04),
    }


def test_case_layout_matches_the_documented_one(exact_cases) -> None:
    case = exact_cases["orbit"]
    n, (W, H) = 4, SIZE
    expected = {
        "images": ((n, H, W, 3), np.uint8),
        "depth": ((n, H, W), np.float32),
        "K": ((n, 3, 3), np.float32),
        "focals": ((n,), np.float32),
        "cam2world": ((n, 4, 4), np.float64),
        "obj_id": ((n, H, W), np.int16),
        "scene_scale": ((), np.float64),
        "dist": ((n, 2), np.float64),
        "edges": ((12, 2), np.int32),
        "pred_i": ((12, H, W, 3), np.float32),
        "pred_j": ((12, H, W, 3), np.float32),
        "conf_i": ((12, H, W), np.float32),
        "conf_j": ((12, H, W), np.float32),
        "pair_scale": ((12,), np.float64),
    }
    for key, (shape, dtype) in expected.items():
        assert case[key].shape == shape and case[key].dtype == dtype, key
    np.testing.assert_array_equal(case["K"][:, 0, 0], case["focals"])
    np.testing.assert_array_equal(case["K"][:, 1, 1], case["focals"])
    np.testing.assert_array_equal(case["K"][:, :2, 2], [[W / 2, H / 2]] * n)
    np.testing.assert_allclose(case["cam2world"][:, 3], [[0, 0, 0, 1]] * n)
    meta = json.loads(str(case["meta"]))
    assert meta["scene"] == "orbit" and meta["size"] == [W, H] and meta["n"] == n
    assert case["scene_scale"] == pytest.approx(np.median(case["depth"]))
    assert make_case("orbit", n=2, size=SIZE, preds=False).keys().isdisjoint({"edges", "pred_i", "conf_j"})


@pytest.mark.parametrize("name", ["orbit", "room", "arc-distorted"])
def test_ground_truth_points_project_to_their_pixels_in_other_views(exact_cases, name) -> None:
    """A surface point seen at pixel p of view i, projected into view j, is hit there by view j's ray, and
    that hit projects back to p: the views are one consistent scene to 1e-6 px, lens included."""
    case = exact_cases[name]
    prims = scene_prims(json.loads(str(case["meta"]))["scene"], seed=3)
    world = gt_world_points(case)  # from the stored float32 depth
    n, H, W = case["depth"].shape
    K, T, dist = case["K"].astype(np.float64), case["cam2world"], case["dist"]
    grid = pixel_grid(H, W)
    checked = 0
    for i, j in [(0, 1), (1, 2), (2, 3), (3, 0)]:
        _, pts_i, _, _, _ = cast_pixels(prims, T[i], K[i], dist[i], grid)  # float64 truth of view i
        cam_j = transform_points(invert_rigid(T[j]), pts_i)
        uv_j = project_distorted(K[j], cam_j, dist[j])
        inside = (cam_j[..., 2] > 0) & (uv_j >= 0).all(-1) & (uv_j[..., 0] <= W - 1) & (uv_j[..., 1] <= H - 1)
        _, hit_j, _, _, _ = cast_pixels(prims, T[j], K[j], dist[j], uv_j[inside])
        same = np.linalg.norm(hit_j - pts_i[inside], axis=-1) < 1e-9 * case["scene_scale"]
        assert same.mean() > 0.3  # the rest is hidden in view j
        back = project_distorted(K[i], transform_points(invert_rigid(T[i]), hit_j[same]), dist[i])
        np.testing.assert_allclose(back, grid[inside][same], atol=1e-6)
        checked += same.sum()
        np.testing.assert_allclose(world[i], pts_i, atol=1e-6 * case["scene_scale"])
    assert checked > 1000


@pytest.mark.parametrize("name", ["orbit", "room", "arc-distorted"])
def test_noise_free_predictions_are_the_scaled_truth(exact_cases, name) -> None:
    case = exact_cases[name]
    world = gt_world_points(case)
    assert len(case["edges"]) > 0
    for e, (i, j) in enumerate(case["edges"]):
        cam_i_from_world = invert_rigid(case["cam2world"][i])
        s = case["pair_scale"][e]
        for pred, v in ((case["pred_i"][e], i), (case["pred_j"][e], j)):
            truth = transform_points(cam_i_from_world, world[v])
            np.testing.assert_allclose(pred / s, truth, rtol=0, atol=2e-6 * np.abs(truth).max())
        for conf in (case["conf_i"][e], case["conf_j"][e]):
            assert conf.min() >= 1.0 and conf.max() <= 50.0 and np.ptp(conf) > 1.0
    # the pinhole case through core.geometry's own back-projection
    pinhole = exact_cases["orbit"]
    i, f = pinhole["edges"][0][0], pinhole["focals"][pinhole["edges"][0][0]]
    H, W = pinhole["depth"].shape[1:]
    np.testing.assert_allclose(
        pinhole["pred_i"][0] / pinhole["pair_scale"][0],
        depth_to_cam_points(pinhole["depth"][i], f, (W / 2, H / 2)),
        rtol=1e-6,
        atol=1e-6,
    )


def test_distortion_round_trip_and_pinhole_residual(exact_cases) -> None:
    """Each pixel's true ray re-distorts onto the pixel; ignoring the lens costs pixels at the corners."""
    case = exact_cases["arc-distorted"]
    n, H, W = case["depth"].shape
    est = gt_estimate(case)
    grid = pixel_grid(H, W)
    for v in range(n):
        cam = transform_points(invert_rigid(case["cam2world"][v]), est["pts3d"][v])
        K = case["K"][v].astype(np.float64)
        np.testing.assert_allclose(project_distorted(K, cam, case["dist"][v]), grid, atol=1e-6)
        pinhole = project_distorted(K, cam, (0.0, 0.0))
        assert np.abs(pinhole - grid).max() > 1.0
    assert evaluate(case, est)["reproj_px_max"] < 1e-6
    est.pop("dist")
    assert evaluate(case, est)["reproj_px_p95"] > 0.5


def test_deterministic_given_the_seed() -> None:
    a = make_case("room", n=3, noise=1.0, size=(32, 24), seed=11, graph="swin-1")
    b = make_case("room", n=3, noise=1.0, size=(32, 24), seed=11, graph="swin-1")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    c = make_case("room", n=3, noise=1.0, size=(32, 24), seed=12, graph="swin-1")
    assert not np.array_equal(a["cam2world"], c["cam2world"])
    assert not np.array_equal(a["pred_j"], c["pred_j"])


@pytest.mark.parametrize(("scene", "n", "graph"), [("orbit", 5, "complete"), ("shot", 9, "swin-2-noncyclic")])
def test_perfect_estimate_scores_zero_in_any_similarity_frame(scene, n, graph) -> None:
    case = make_case(scene, n=n, noise=0, size=SIZE, seed=2, graph=graph, preds=False)
    est = gt_estimate(case)
    # the same estimate in another world frame: scaled 2.5x, rotated, moved
    S = np.eye(4)
    S[:3, :3] = 2.5 * np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0] * np.array([1, 1, -1])
    if np.linalg.det(S[:3, :3]) < 0:
        S[:3, 2] *= -1
    S[:3, 3] = [1.0, -2.0, 3.0]
    moved = dict(est)
    moved["cam2world"] = np.stack([S @ T for T in est["cam2world"]])
    moved["cam2world"][:, :3, :3] /= 2.5
    moved["pts3d"] = transform_points(S, est["pts3d"])
    moved["depth"] = 2.5 * est["depth"]
    for candidate in (est, moved):
        m = evaluate(case, candidate, max_points=4000)
        for key in ("ate", "focal_err_max", "depth_absrel", "point_err_mean", "chamfer", "jitter"):
            assert m[key] < 1e-6, (key, m[key])
        for key in ("rot_err_mean", "rot_err_abs_mean", "trans_err_mean", "rot_step_err_deg"):
            assert m[key] < 1e-5, (key, m[key])  # degrees
        assert m["reproj_px_max"] < 1e-5 and m["rra15"] == m["rta15"] == 1.0
    assert evaluate(case, moved)["sim3_scale"] == pytest.approx(1 / 2.5)


def test_metrics_measure_known_errors() -> None:
    case = make_case("orbit", n=5, noise=0, size=SIZE, seed=4, preds=False)
    est = gt_estimate(case)
    est["focals"] = est["focals"] * np.array([1.0, 1.05, 1.0, 1.0, 1.0])
    m = evaluate(case, est)
    assert m["focal_err_max"] == pytest.approx(0.05) and m["focal_err_mean"] == pytest.approx(0.01)
    # view 1's pixel p lands on pp + 1.05 (p - pp): 5 % of the corner's 40 px from the centre
    assert m["reproj_px_max"] == pytest.approx(0.05 * np.hypot(32, 24), rel=1e-5)
    assert m["reproj_px_median"] < 1e-6 and m["ate"] < 1e-9 and m["rot_err_mean"] < 1e-6

    est = gt_estimate(case)
    angle = np.radians(2.0)
    roll = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    est["cam2world"][2, :3, :3] = est["cam2world"][2, :3, :3] @ roll  # camera 2 rolled by 2 degrees
    m = evaluate(case, est)
    assert m["rot_err_mean"] == pytest.approx(2.0 * 4 / 10, rel=1e-6)  # 4 of the 10 pairs hold camera 2
    assert m["rot_step_err_deg"] == pytest.approx(2.0 * 2 / 4, rel=1e-6)  # steps 1-2 and 2-3
    assert m["ate"] < 1e-9 and m["focal_err_max"] == 0.0
    assert m["reproj_px_max"] > 1.0


@pytest.mark.parametrize("scene", ["orbit", "room"])
def test_prediction_errors_grow_with_noise_and_confidence_falls_with_error(scene) -> None:
    rel_err, outliers = [], []
    for noise in (0.0, 0.5, 1.0, 2.0):
        case = make_case(scene, n=3, noise=noise, size=SIZE, seed=5)
        world = gt_world_points(case)
        errs, confs = [], []
        for e, (i, j) in enumerate(case["edges"]):
            cam_i_from_world = invert_rigid(case["cam2world"][i])
            for pred, conf, v in (
                (case["pred_i"][e], case["conf_i"][e], i),
                (case["pred_j"][e], case["conf_j"][e], j),
            ):
                truth = transform_points(cam_i_from_world, world[v])
                errs.append(
                    np.linalg.norm(pred / case["pair_scale"][e] - truth, axis=-1)
                    / np.linalg.norm(truth, axis=-1)
                )
                confs.append(conf)
        errs, confs = np.concatenate(errs).ravel(), np.concatenate(confs).ravel()
        assert confs.min() >= 1.0 and confs.max() <= 50.0
        rel_err.append(np.median(errs))
        outliers.append(np.mean(errs > 0.15))
        if noise == 1.0:
            # confidence falls with the error: the accurate half is more confident than the rest ...
            accurate = errs < np.median(errs)
            assert np.median(confs[accurate]) > 1.3 * np.median(confs[~accurate])
            # ... but some gross errors are confidently wrong
            assert 0.003 < np.mean((errs > 0.15) & (confs > 8)) < 0.02
    assert rel_err[0] < 1e-6
    assert rel_err[1] < rel_err[2] < rel_err[3]
    assert 0.005 < outliers[2] < 0.1  # outliers and flying pixels at depth edges


def test_noise_increases_alignment_errors_of_the_predictions() -> None:
    """Scored through core's two-view alignment: more noise, larger pose and focal errors."""
    from core.align.two_view import align_two_views
    from core.config import AlignConfig
    from core.predictions import predictions_from_pairwise

    errors = []
    for noise in (0.0, 1.0, 3.0):
        case = make_case("orbit", n=2, noise=noise, size=SIZE, seed=1)
        result = align_two_views(predictions_from_pairwise(case), AlignConfig())
        est = {"cam2world": result.world_from_cam, "focals": result.focals, "pts3d": np.stack(result.pts3d)}
        m = evaluate(case, est, max_points=4000)
        errors.append((m["rot_err_mean"], m["point_err_mean"]))
    assert errors[0][0] < 1e-3 and errors[0][1] < 1e-4
    assert errors[0] < errors[1] and errors[1][1] < errors[2][1]


def test_graphs_follow_core_make_pairs() -> None:
    for graph in ("complete", "swin-2", "swin-3-noncyclic", "logwin-2", "logwin-3-noncyclic", "oneref-2"):
        np.testing.assert_array_equal(graph_edges(7, graph), np.array(make_pairs(7, graph), np.int32))
    np.testing.assert_array_equal(graph_edges(4, "pairs:2-1,0-1,1-0"), [[0, 1], [1, 2], [1, 0], [2, 1]])
    with pytest.raises(ValueError):
        graph_edges(3, "pairs:0-3")
    case = make_case("orbit", n=4, noise=0.5, size=(32, 24), seed=0, graph="oneref-1")
    np.testing.assert_array_equal(case["edges"], make_pairs(4, "oneref-1"))


def test_photo_sets_and_footage_have_their_lenses_and_motion() -> None:
    for scene in ("orbit", "room"):
        case = make_case(scene, n=6, size=(128, 96), seed=0, preds=False)
        fov = np.degrees(2 * np.arctan(64 / case["focals"]))
        assert fov.min() >= 50 and fov.max() <= 70 and np.ptp(case["focals"]) > 1.0
    for scene in ("shot", "arc"):
        case = make_case(scene, n=24, size=(16, 12), seed=0, preds=False)
        assert np.all(case["focals"] == case["focals"][0])
        T, _ = SCENES[scene][1](np.random.default_rng([0, 1]), 48, 128)  # make_case's camera path, 48 frames
        np.testing.assert_array_equal(T[:24], case["cam2world"])  # a longer shot extends the same path
        steps = np.linalg.norm(np.diff(T[:, :3, 3], axis=0), axis=1)
        turns = np.degrees(
            np.arccos(np.clip((np.einsum("nji,nji->n", T[:-1, :3, :3], T[1:, :3, :3]) - 1) / 2, -1, 1))
        )
        assert steps.max() < 0.12 and turns.max() < 4.0  # small frame-to-frame motion ...
        assert np.linalg.norm(T[-1, :3, 3] - T[0, :3, 3]) > 1.0  # ... adding up to a real baseline
        accel = np.linalg.norm(np.diff(T[:, :3, 3], 2, axis=0), axis=1)
        assert accel.max() < 0.5 * steps.mean()  # smooth


def test_saved_case_is_read_by_the_align_command(tmp_path, capsys) -> None:
    case = make_case("room", n=3, noise=0, size=SIZE, seed=7)
    path = tmp_path / "case.npz"
    save_case(case, path)
    loaded = load_case(path)
    assert loaded.keys() == case.keys() and json.loads(str(loaded["meta"]))["scene"] == "room"
    out = tmp_path / "est.npz"
    assert main(["align", "--input", str(path), "--output", str(out)]) == 0
    with np.load(out) as z:
        m = evaluate(loaded, {k: z[k] for k in z.files})
    assert m["ate"] < 1e-4 and m["focal_err_max"] < 1e-4 and m["reproj_px_max"] < 1e-2


def _affine_lk(img_i, img_j, p_i, start_j, radius=5, iterations=20):
    """Affine Lucas-Kanade (forward additive, cubic sampling) of the patches around ``p_i`` (M, 2) of img_i."""
    from scipy.ndimage import map_coordinates, sobel

    r = np.arange(-radius, radius + 1.0)
    off = np.stack(np.meshgrid(r, r), -1).reshape(-1, 2)
    tmpl = map_coordinates(img_i, [p_i[:, None, 1] + off[:, 1], p_i[:, None, 0] + off[:, 0]], order=3)
    gx, gy = sobel(img_j, 1) / 8, sobel(img_j, 0) / 8
    A, t = np.tile(np.eye(2), (len(p_i), 1, 1)), start_j.copy()
    for _ in range(iterations):
        pos = t[:, None] + off @ A.transpose(0, 2, 1)
        at = [pos[..., 1], pos[..., 0]]
        Gx, Gy = map_coordinates(gx, at, order=3), map_coordinates(gy, at, order=3)
        J = np.stack([Gx * off[:, 0], Gx * off[:, 1], Gy * off[:, 0], Gy * off[:, 1], Gx, Gy], -1)
        e = tmpl - map_coordinates(img_j, at, order=3)
        step = np.linalg.solve(
            np.einsum("mki,mkj->mij", J, J) + 1e-6 * np.eye(6), np.einsum("mki,mk->mi", J, e)
        )
        A, t = A + step[:, :4].reshape(-1, 2, 2), t + step[:, 4:]
    return t


@pytest.mark.parametrize(("scene", "size"), [("arc", (128, 96)), ("shot", (256, 192)), ("room", (128, 96))])
def test_textures_support_sub_pixel_matching(scene, size) -> None:
    """From 1 px off, affine Lucas-Kanade finds where a view's pixels are in the next view to a few
    hundredths of a pixel (patches away from depth edges): the refinement relies on it."""
    from scipy.ndimage import uniform_filter

    from tests.synthetic.predictions import _depth_edges

    case = make_case(scene, n=2 if scene != "room" else 8, noise=0, size=size, seed=0, preds=False)
    W, H = size
    world = gt_world_points(case)
    gray = case["images"].astype(np.float64).mean(-1)
    rng = np.random.default_rng(0)
    near_edge = uniform_filter(_depth_edges(case["depth"][0].astype(np.float64))[0].astype(float), 13) > 0
    u, v = rng.integers(10, W - 10, 1000), rng.integers(10, H - 10, 1000)
    u, v = u[~near_edge[v, u]][:250], v[~near_edge[v, u]][:250]
    cam = transform_points(invert_rigid(case["cam2world"][1]), world[0][v, u])
    uv = project_distorted(case["K"][1].astype(np.float64), cam, case["dist"][1])
    ok = (uv > 10).all(1) & (uv[:, 0] < W - 11) & (uv[:, 1] < H - 11)
    seen = case["depth"][1][
        np.round(uv[:, 1]).astype(int).clip(0, H - 1), np.round(uv[:, 0]).astype(int).clip(0, W - 1)
    ]
    ok &= cam[:, 2] < 1.01 * seen
    assert ok.sum() > 100
    found = _affine_lk(
        gray[0], gray[1], np.stack([u, v], 1)[ok].astype(float), uv[ok] + rng.uniform(-1, 1, (ok.sum(), 2))
    )
    err = np.linalg.norm(found - uv[ok], axis=1)
    assert np.median(err) < 0.05 and np.mean(err < 0.25) > 0.75
