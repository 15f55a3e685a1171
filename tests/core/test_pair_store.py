"""The compact pair store: float16 round trip, RAM and disk, clean-up, and exact alignment from it."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from core.align import global_align
from core.align.store import (
    FLOAT16_SAFE_MAX,
    STORED_BYTES_PER_PIXEL,
    PairStore,
    decode_float16,
    encode_float16,
    stored_pair_bytes,
)
from core.config import AlignConfig
from core.errors import ResourceError
from core.geometry import weighted_umeyama
from core.predictions import PairPrediction


def _look_at(centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``world_from_cam`` (OpenCV axes: x right, y down, z forward) of a camera at ``centre``."""
    z = target - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    T[:3, 3] = centre
    return T


def _depth_map(world_from_cam: np.ndarray, focal: float, H: int, W: int) -> np.ndarray:
    """z-depth of a unit sphere at the origin in front of the ground plane z = -1 (ray casting)."""
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    rays_cam = np.stack([(u - W / 2) / focal, (v - H / 2) / focal, np.ones_like(u)], axis=-1)
    d = rays_cam @ world_from_cam[:3, :3].T  # world direction of each pixel (z-depth 1)
    o = world_from_cam[:3, 3]
    b = d @ o
    a = np.einsum("hwi,hwi->hw", d, d)
    disc = b * b - a * (o @ o - 1.0)
    t_sphere = np.where(disc > 0, (-b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)
    t_plane = np.where(d[..., 2] < -1e-9, (-1.0 - o[2]) / np.minimum(d[..., 2], -1e-9), np.inf)
    t = np.minimum(np.where(t_sphere > 0, t_sphere, np.inf), t_plane)
    return np.where(np.isfinite(t), t, 20.0)


def exact_scene(n: int = 5, H: int = 48, W: int = 64, seed: int = 0):
    """Noise-free pair predictions of all ordered pairs, with ground-truth cameras and focals."""
    rng = np.random.default_rng(seed)
    world_from_cam, focals, points = [], [], []
    for k in range(n):
        angle = 2 * np.pi * k / n + rng.normal(0, 0.1)
        centre = np.array([4 * np.cos(angle), 4 * np.sin(angle), 1.0 + rng.uniform(0, 1)])
        T = _look_at(centre, rng.normal(0, 0.1, 3))
        f = float(W * rng.uniform(0.9, 1.3))
        depth = _depth_map(T, f, H, W)
        v, u = np.mgrid[0:H, 0:W].astype(np.float64)
        cam = np.stack([(u - W / 2) / f * depth, (v - H / 2) / f * depth, depth], axis=-1)
        world_from_cam.append(T)
        focals.append(f)
        points.append(cam @ T[:3, :3].T + T[:3, 3])
    preds = []
    for i in range(n):
        cam_from_world = np.linalg.inv(world_from_cam[i])
        for j in range(n):
            if i == j:
                continue
            pi = points[i] @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
            pj = points[j] @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
            scale = 1.0 / np.linalg.norm(pi, axis=-1).mean()
            conf = np.full((H, W), 10.0, np.float32)
            preds.append(PairPrediction(i, j, (pi * scale).astype(np.float32), conf,
                                        (pj * scale).astype(np.float32), conf.copy()))  # fmt: skip
    return preds, np.stack(world_from_cam), np.array(focals)


def _errors(result, world_from_cam: np.ndarray, focals: np.ndarray) -> tuple[float, float]:
    """(max relative focal error, camera-centre error after a similarity fit / scene size)."""
    focal_err = float(np.max(np.abs(result.focals / focals - 1)))
    est, gt = result.world_from_cam[:, :3, 3], world_from_cam[:, :3, 3]
    s, R, t = weighted_umeyama(est, gt, with_scale=True)
    fitted = s * est @ R.T + t
    return focal_err, float(np.max(np.linalg.norm(fitted - gt, axis=1)) / np.linalg.norm(gt, axis=1).mean())


def test_float16_round_trip_is_within_half_precision() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(40, 30, 3)).astype(np.float32) * 10
    stored, scale = encode_float16(values)
    assert stored.dtype == np.float16 and scale == 1.0
    back = decode_float16(stored, scale)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, values, rtol=2**-11, atol=1e-7)


def test_large_values_are_scaled_by_a_power_of_two_and_non_finite_values_kept() -> None:
    values = np.array([1e6, -3e5, 1.5, np.nan, np.inf, -np.inf], dtype=np.float32)
    stored, scale = encode_float16(values)
    assert scale == 2.0 ** np.ceil(np.log2(1e6 / FLOAT16_SAFE_MAX)) and np.isfinite(stored[:3]).all()
    back = decode_float16(stored, scale)
    np.testing.assert_allclose(back[:2], values[:2], rtol=2**-11)
    assert np.isnan(back[3]) and back[4] == np.inf and back[5] == -np.inf


@pytest.mark.parametrize("on_disk", [False, True], ids=["ram", "disk"])
def test_store_returns_the_float16_rounding_of_every_map(on_disk: bool) -> None:
    preds, _, _ = exact_scene(n=3, H=16, W=24)
    with PairStore(on_disk=on_disk) as store:
        for pred in preds:
            store.add(pred)
        assert len(store) == len(preds) and store.on_disk == on_disk
        assert store.nbytes == STORED_BYTES_PER_PIXEL * 16 * 24 * len(preds)
        assert store.nbytes == stored_pair_bytes([(16, 24)] * 3, [(p.i, p.j) for p in preds])
        for stored, pred in zip(store, preds, strict=True):
            assert (stored.i, stored.j) == (pred.i, pred.j)
            for name in ("pts3d_i", "conf_i", "pts3d_j", "conf_j"):
                expected = getattr(pred, name).astype(np.float16).astype(np.float32)
                np.testing.assert_array_equal(getattr(stored, name), expected, err_msg=name)
        assert store[-1].i == preds[-1].i and len(store[1:3]) == 2
        copy = store[0].to_prediction()
        assert isinstance(copy, PairPrediction) and copy.pts3d_i.dtype == np.float32
    assert len(store) == 0 and store.nbytes == 0


def test_scratch_file_leaves_nothing_in_the_temporary_folder(tmp_path) -> None:
    preds, _, _ = exact_scene(n=2, H=16, W=16)
    store = PairStore(on_disk=True, directory=str(tmp_path))
    for pred in preds:
        store.add(pred)
    if os.name == "posix":  # the file has no name at all while it is in use
        assert list(tmp_path.iterdir()) == []
    store.close()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ResourceError, match="scratch space"):
        PairStore(on_disk=True, directory=str(tmp_path), expected_bytes=1 << 62)


def test_failure_during_alignment_releases_the_scratch_file(tmp_path) -> None:
    preds, _, _ = exact_scene(n=3, H=16, W=16)
    with pytest.raises(RuntimeError, match="boom"), PairStore(on_disk=True, directory=str(tmp_path)) as store:
        for pred in preds:
            store.add(pred)
        handle = store._file
        raise RuntimeError("boom")
    assert handle.closed and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("on_disk", [False, True], ids=["ram", "disk"])
def test_noise_free_alignment_from_the_store_stays_exact(on_disk: bool) -> None:
    preds, world_from_cam, focals = exact_scene(n=5)
    reference = global_align(preds, AlignConfig())
    with PairStore(on_disk=on_disk, directory=tempfile.gettempdir()) as store:
        for pred in preds:
            store.add(pred)
        compact = global_align(store, AlignConfig())
    ref_focal, ref_centre = _errors(reference, world_from_cam, focals)
    focal_err, centre_err = _errors(compact, world_from_cam, focals)
    assert ref_focal < 1e-5 and ref_centre < 1e-5  # float32 input: exact
    assert focal_err < 1e-3 and centre_err < 1e-3  # float16 input: within its 2^-11 relative rounding
    for depth, ref in zip(compact.depth, reference.depth, strict=True):
        np.testing.assert_allclose(depth, ref, rtol=2e-3)
