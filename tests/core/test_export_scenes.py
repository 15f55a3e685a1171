"""Synthetic results for the export tests, and the "what to export" step (core.export.source/scene).

``make_result`` builds a RESULT with ``reconstruction_from_depth`` from cameras and depths made here: three
photos of different sizes (landscape, portrait with a horizontal crop offset, an odd-sized landscape with a
vertical one), optionally with radial distortion (then the world points are the photo pixels' rays through
the lens, so that the points project onto their pixels through ``K_photo`` and ``dist``), and writes the
photos to disk so that the exporters can copy them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ConfigError
from core.export import ExportScene, scene_from_reconstruction
from core.geometry.cameras import pixel_grid
from core.geometry.distortion import pixel_rays, project_distorted
from core.geometry.photo import PhotoCrop, photo_from_net_pixels
from core.geometry.transforms import invert_rigid, transform_points
from core.result import Reconstruction, reconstruction_from_depth

# photo (W0, H0), resized (W1, H1), crop offset, network (W2, H2): as core.inference.images would plan them
CROPS = (
    PhotoCrop(photo_size=(120, 90), resized_size=(64, 48), crop_offset=(0, 0), net_size=(64, 48)),
    PhotoCrop(photo_size=(90, 130), resized_size=(44, 64), crop_offset=(2, 0), net_size=(40, 64)),
    PhotoCrop(photo_size=(101, 67), resized_size=(64, 42), crop_offset=(0, 1), net_size=(64, 40)),
)
DIST = np.array([[-0.12, 0.03], [0.05, -0.01], [-0.2, 0.04]])


def look_at(centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """OpenCV ``world_from_cam`` of a camera at ``centre`` looking at ``target`` (world -y is up)."""
    z = target - centre
    z /= np.linalg.norm(z)
    x = np.cross(np.array([0.0, -1.0, 0.0]), z)
    x /= np.linalg.norm(x)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    T[:3, 3] = centre
    return T


def write_photo(path: Path, size: tuple[int, int], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def make_result(
    folder: Path,
    crops: tuple[PhotoCrop, ...] = CROPS,
    dist: np.ndarray | None = None,
    seed: int = 0,
    suffix: str = ".png",
    conf_range: tuple[float, float] = (1.0, 8.0),
) -> Reconstruction:
    """A reconstruction of ``len(crops)`` views around the origin, its photos written into ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n = len(crops)
    world_from_cam, K_net, depth, pts3d = [], [], [], []
    for k, crop in enumerate(crops):
        angle = 2 * np.pi * k / max(n, 3) + rng.normal(0, 0.1)
        centre = np.array([3 * np.sin(angle), rng.normal(0, 0.3), -3 * np.cos(angle)])
        T = look_at(centre, rng.normal(0, 0.2, 3))
        w2, h2 = crop.net_size
        f = rng.uniform(0.9, 1.3) * max(w2, h2)
        K = np.array([[f, 0, w2 / 2 + rng.normal(0, 1)], [0, f * rng.uniform(0.98, 1.02), h2 / 2], [0, 0, 1]])
        v, u = np.mgrid[0:h2, 0:w2]
        d = 3.0 + 0.3 * np.sin(u / 7.0) * np.cos(v / 5.0) + rng.uniform(-0.05, 0.05, (h2, w2))
        world_from_cam.append(T)
        K_net.append(K)
        depth.append(d)
        if dist is not None:  # the points that this lens shows at the network pixels' photo pixels
            uv = photo_from_net_pixels(pixel_grid(h2, w2), crop)
            K_photo = _k_photo(K, crop)
            pts3d.append(transform_points(T, pixel_rays(uv, K_photo, dist[k]) * d[..., None]))
    paths = [
        write_photo(folder / f"photo {k}{suffix}", c.photo_size, seed * 10 + k) for k, c in enumerate(crops)
    ]
    rec = reconstruction_from_depth(
        image_paths=[str(p) for p in paths],
        world_from_cam=np.stack(world_from_cam),
        K_net=np.stack(K_net),
        crops=crops,
        depth=depth,
        conf=[rng.uniform(*conf_range, c.net_size[::-1]) for c in crops],
        colors=[rng.random((*c.net_size[::-1], 3)) for c in crops],
        pts3d=pts3d or None,
    )
    return rec if dist is None else dataclasses.replace(rec, dist=np.asarray(dist, dtype=np.float64)[:n])


def _k_photo(K_net: np.ndarray, crop: PhotoCrop) -> np.ndarray:
    from core.geometry.photo import K_photo_from_K_net

    return K_photo_from_K_net(K_net, crop)


def project_scene_points(scene: ExportScene) -> np.ndarray:
    """Our own projection of every point into the view it came from: ``(P, 2)`` continuous photo pixels."""
    out = np.full((scene.num_points, 2), np.nan)
    cam_from_world = invert_rigid(scene.world_from_cam)
    for k in range(scene.num_views):
        idx = np.flatnonzero(scene.point_view == k)
        pts_cam = transform_points(cam_from_world[k], scene.points[idx])
        out[idx] = project_distorted(scene.K_photo[k], pts_cam, scene.dist[k])
    return out


@pytest.mark.parametrize("with_dist", [False, True])
def test_synthetic_points_project_onto_their_photo_pixels(tmp_path, with_dist) -> None:
    rec = make_result(tmp_path, dist=DIST if with_dist else None)
    scene = scene_from_reconstruction(rec, min_conf=0.0)
    assert scene.num_points == sum(c.net_size[0] * c.net_size[1] for c in CROPS)
    err = np.abs(project_scene_points(scene) - scene.point_uv)
    assert err.max() < 1e-4  # world points are float32 in a RESULT
    # the photo pixels span the crop of each photo (portrait view 1: 2 resized px cut on the left)
    uv1 = scene.point_uv[scene.point_view == 1]
    assert uv1[:, 0].min() == pytest.approx((0.5 + 2) * 90 / 44)
    assert with_dist == bool(np.any(scene.dist))


def test_confidence_threshold_is_strict_and_keeps_colours(tmp_path) -> None:
    rec = make_result(tmp_path)
    conf0 = rec.conf[0].copy()
    conf0[:] = 1.0
    conf0[3, 5] = 3.0  # at the threshold: not exported
    conf0[4, 6] = 3.5
    rec = dataclasses.replace(rec, conf=(conf0, *rec.conf[1:]))
    scene = scene_from_reconstruction(rec, min_conf=3.0)
    mask = scene.point_view == 0
    assert mask.sum() == 1
    np.testing.assert_allclose(scene.point_uv[mask][0], photo_from_net_pixels(np.array([6.0, 4.0]), CROPS[0]))
    np.testing.assert_array_equal(scene.colors[mask][0], np.round(rec.colors[0][4, 6] * 255).astype(np.uint8))
    assert scene.confidence[mask][0] == np.float32(3.5)
    expected = sum(int((c > 3.0).sum()) for c in rec.conf)
    assert scene.num_points == expected


def test_max_points_is_a_deterministic_subset(tmp_path) -> None:
    rec = make_result(tmp_path)
    full = scene_from_reconstruction(rec, min_conf=1.5)
    a = scene_from_reconstruction(rec, min_conf=1.5, max_points=500)
    b = scene_from_reconstruction(rec, min_conf=1.5, max_points=500)
    assert a.num_points == 500
    np.testing.assert_array_equal(a.points, b.points)
    rows = {tuple(p) for p in full.points.tolist()}
    assert all(tuple(p) in rows for p in a.points.tolist())
    assert len(np.unique(a.point_view)) == 3  # spread over the views, not the first 500 pixels
    assert scene_from_reconstruction(rec, min_conf=1.5, max_points=10**9).num_points == full.num_points
    with pytest.raises(ConfigError, match="max-points"):
        scene_from_reconstruction(rec, max_points=0)


def test_similarity_moves_cameras_and_points_together(tmp_path) -> None:
    rec = make_result(tmp_path, dist=DIST)
    scene = scene_from_reconstruction(rec, min_conf=0.0, max_points=2000)
    c, s = np.cos(0.7), np.sin(0.7)
    new_from_world = np.array([[c, -s, 0, 1.0], [s, c, 0, -2.0], [0, 0, 1, 0.5], [0, 0, 0, 1]])
    new_from_world[:3, :3] *= 2.5
    moved = scene_from_reconstruction(rec, min_conf=0.0, max_points=2000, new_from_world=new_from_world)
    np.testing.assert_allclose(moved.points, transform_points(new_from_world, scene.points), atol=1e-9)
    R = moved.world_from_cam[:, :3, :3]
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(project_scene_points(moved), scene.point_uv, atol=1e-4)
    shear = np.eye(4)
    shear[0, 1] = 0.3
    for bad in (shear, np.diag([1.0, 1.0, -1.0, 1.0]), np.diag([1.0, 2.0, 1.0, 1.0])):
        with pytest.raises(ConfigError):
            scene.transformed(bad)


def test_scene_without_observations_for_points_from_elsewhere() -> None:
    # the Blender side may export points it has no pixel for: view -1, no 2-D observation
    scene = ExportScene(
        image_paths=("/a.png",),
        frame_numbers=[0],
        is_footage=False,
        world_from_cam=np.eye(4)[None],
        K_photo=np.array([[[100.0, 0, 50], [0, 100, 40], [0, 0, 1]]]),
        photo_size=[[100, 80]],
        dist=np.zeros((1, 2)),
        points=np.ones((4, 3)),
        colors=np.zeros((4, 3), dtype=np.uint8),
        confidence=np.full(4, 5.0),
    )
    assert (scene.point_view == -1).all() and np.isnan(scene.point_uv).all()
    with pytest.raises(ValueError, match="point_view"):
        dataclasses.replace(scene, point_view=np.full(4, 1))
