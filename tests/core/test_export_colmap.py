"""COLMAP export (text and binary), read back with pycolmap (a test dependency; the extension writes the
files itself): cameras, poses, points and their 2-D observations, through pycolmap's own camera model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pycolmap
import pytest

from core.export import export_reconstruction, export_scene, scene_from_reconstruction
from core.export.colmap import quaternion_from_rotation
from core.geometry.photo import PhotoCrop
from tests.core.test_export_scenes import DIST, make_result


def _read(folder) -> pycolmap.Reconstruction:
    return pycolmap.Reconstruction(str(folder))


@pytest.fixture(params=[False, True], ids=["pinhole", "distorted"])
def exported(request, tmp_path):
    """(result, scene, text model, binary model) of one synthetic result."""
    rec = make_result(tmp_path / "photos", dist=DIST if request.param else None)
    scene = scene_from_reconstruction(rec, min_conf=3.0)
    export_scene(scene, "colmap", tmp_path / "text")
    export_scene(scene, "colmap-bin", tmp_path / "bin")
    return rec, scene, _read(tmp_path / "text"), _read(tmp_path / "bin")


def test_cameras_are_the_original_photos(exported) -> None:
    rec, _, text, binary = exported
    distorted = bool(np.any(rec.dist))
    for model in (text, binary):
        assert model.num_cameras() == 3 and model.num_images() == 3
        for k in range(3):
            image = model.image(k + 1)
            camera = model.camera(image.camera_id)
            assert (camera.width, camera.height) == tuple(rec.photo_size[k])
            assert camera.model.name == ("OPENCV" if distorted else "PINHOLE")
            np.testing.assert_allclose(camera.calibration_matrix(), rec.K_photo[k], rtol=0, atol=1e-9)
            if distorted:
                np.testing.assert_allclose(camera.params[4:], [*rec.dist[k], 0.0, 0.0], atol=1e-12)
            assert image.name == f"photo_{k}.png"


def test_poses_are_the_inverse_of_cam2world(exported) -> None:
    rec, _, text, binary = exported
    for model in (text, binary):
        for k in range(3):
            cam_from_world = model.image(k + 1).cam_from_world().matrix()
            np.testing.assert_allclose(cam_from_world, np.linalg.inv(rec.world_from_cam[k])[:3], atol=1e-6)


def test_points_project_onto_the_pixels_they_came_from(exported) -> None:
    _, scene, text, binary = exported
    for model in (text, binary):
        assert model.num_points3D() == scene.num_points
        checked = 0
        for image_id, image in model.images.items():
            ids = [p.point3D_id for p in image.points2D]
            observed = np.array([p.xy for p in image.points2D])
            for idx, point_id in enumerate(ids):
                (element,) = model.point3D(point_id).track.elements
                assert (element.image_id, element.point2D_idx) == (image_id, idx)
            xyz = np.array([model.point3D(i).xyz for i in ids])
            # pycolmap's own model: world -> camera (its pose) -> pixels (its camera, with its distortion)
            pts_cam = xyz @ image.cam_from_world().matrix()[:, :3].T + image.cam_from_world().translation
            uv = image.camera.img_from_cam(pts_cam)
            assert np.abs(uv - observed).max() < 0.01
            for i in range(0, len(ids), 97):
                np.testing.assert_allclose(image.project_point(xyz[i]), uv[i], atol=1e-9)
            checked += len(ids)
        assert checked == scene.num_points
        # ERROR is the reprojection error at the observation, in pixels
        errors = np.array([p.error for p in model.points3D.values()])
        assert errors.max() < 0.01


def test_text_and_binary_agree(exported) -> None:
    _, _, text, binary = exported
    for cam_id, cam in text.cameras.items():
        np.testing.assert_allclose(cam.params, binary.camera(cam_id).params, rtol=1e-15)
    for image_id, image in text.images.items():
        other = binary.image(image_id)
        assert image.name == other.name and image.camera_id == other.camera_id
        np.testing.assert_allclose(
            image.cam_from_world().matrix(), other.cam_from_world().matrix(), atol=1e-14
        )
        uv_text = np.array([p.xy for p in image.points2D])
        uv_bin = np.array([p.xy for p in other.points2D])
        np.testing.assert_allclose(uv_text, uv_bin, atol=1e-6)

    def points(model):
        items = sorted(model.points3D.items())
        xyz = np.array([p.xyz for _, p in items])
        rgb = np.array([p.color for _, p in items])
        tracks = [(e.image_id, e.point2D_idx) for _, p in items for e in p.track.elements]
        return [i for i, _ in items], xyz, rgb, tracks

    ids_t, xyz_t, rgb_t, tracks_t = points(text)
    ids_b, xyz_b, rgb_b, tracks_b = points(binary)
    assert ids_t == ids_b and tracks_t == tracks_b
    np.testing.assert_allclose(xyz_t, xyz_b, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(rgb_t, rgb_b)


def test_views_with_one_lens_share_one_camera(tmp_path) -> None:
    # footage: one lens, one photo size -> one COLMAP camera for every frame
    crop = PhotoCrop(photo_size=(96, 64), resized_size=(48, 32), crop_offset=(0, 0), net_size=(48, 32))
    rec = make_result(tmp_path / "frames", crops=(crop,) * 4)
    shared = np.tile(rec.K_net[0], (4, 1, 1))
    rec = dataclasses.replace(
        rec,
        K_net=shared,
        K_photo=np.tile(rec.K_photo[0], (4, 1, 1)),
        frame_numbers=np.array([10, 12, 14, 16]),
        fps=25.0,
    )
    export_reconstruction(rec, "colmap-bin", tmp_path / "out", min_conf=100.0)
    model = _read(tmp_path / "out")
    assert model.num_cameras() == 1 and {im.camera_id for im in model.images.values()} == {1}
    assert sorted(im.name for im in model.images.values()) == [f"frame_0000{n}.png" for n in (10, 12, 14, 16)]
    # a different principal point is a different camera, even at the same size
    K_photo = rec.K_photo.copy()
    K_photo[2, 0, 2] += 0.25
    export_reconstruction(
        dataclasses.replace(rec, K_photo=K_photo), "colmap", tmp_path / "two", min_conf=100.0
    )
    assert _read(tmp_path / "two").num_cameras() == 2


def test_quaternions_match_pycolmap(random_world_from_cam) -> None:
    rng = np.random.default_rng(3)
    R = np.stack([random_world_from_cam(rng)[:3, :3] for _ in range(200)])
    # the four branches of the conversion: near-identity and near-180-degree rotations about each axis
    R = np.concatenate([R, np.eye(3)[None], np.diag([1.0, -1, -1])[None], np.diag([-1.0, 1, -1])[None]])
    R = np.concatenate([R, np.diag([-1.0, -1, 1])[None]])
    q = quaternion_from_rotation(R)
    assert np.all(q[:, 0] >= 0)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)
    for Rk, (w, x, y, z) in zip(R, q, strict=True):
        back = pycolmap.Rotation3d(np.array([x, y, z, w])).matrix()
        np.testing.assert_allclose(back, Rk, atol=1e-12)


def test_overwrite_replaces_a_model_of_the_other_encoding(tmp_path) -> None:
    rec = make_result(tmp_path / "photos")
    export_reconstruction(rec, "colmap-bin", tmp_path / "out", min_conf=5.0)
    world_from_cam = rec.world_from_cam.copy()
    world_from_cam[:, :3, 3] += 1.0
    moved = dataclasses.replace(rec, world_from_cam=world_from_cam)
    export_reconstruction(moved, "colmap", tmp_path / "out", min_conf=5.0, overwrite=True)
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert "cameras.bin" not in names and {"cameras.txt", "images.txt", "points3D.txt"} <= names
    model = _read(tmp_path / "out")
    np.testing.assert_allclose(model.image(1).projection_center(), moved.world_from_cam[0, :3, 3], atol=1e-9)


def test_points_without_a_pixel_have_an_empty_track(tmp_path) -> None:
    # points from elsewhere (the Blender side may not know their pixel): written without observations
    rec = make_result(tmp_path / "photos")
    scene = scene_from_reconstruction(rec, min_conf=3.0, max_points=300)
    unknown = np.arange(scene.num_points) % 3 == 0
    view = np.where(unknown, -1, scene.point_view)
    scene = dataclasses.replace(
        scene, point_view=view, point_uv=np.where(unknown[:, None], np.nan, scene.point_uv)
    )
    for fmt in ("colmap", "colmap-bin"):
        export_scene(scene, fmt, tmp_path / fmt)
        model = _read(tmp_path / fmt)
        assert model.num_points3D() == 300
        lengths = np.array([model.point3D(i + 1).track.length() for i in range(300)])
        np.testing.assert_array_equal(lengths, (~unknown).astype(int))
        assert sum(im.num_points2D() for im in model.images.values()) == int((~unknown).sum())
        np.testing.assert_allclose(model.point3D(1).xyz, scene.points[0], rtol=1e-8)
