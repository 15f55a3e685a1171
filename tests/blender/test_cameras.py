"""Cameras built from a reconstruction reproject their own points onto the photo (CONVENTIONS.md 4 and 6)."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

SIZES = {
    "landscape": (640, 480),
    "portrait": (480, 640),
    "square": (512, 512),
    "odd": (1001, 667),
    "small": (300, 200),  # smaller than 512: upscaled by the loader
    "exif_rotated": ((480, 640), 6),  # stored 640x480, EXIF says rotate: the artist sees 480x640
}
POINTS_PER_VIEW = 1500


def _mesh_arrays(addon, obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    """World positions and views of the points, one entry per point (the face centres)."""
    cloud = addon.submodule("scene.points").read_points(obj.data)
    M = np.array(obj.matrix_world)
    return cloud.positions.astype(np.float64) @ M[:3, :3].T + M[:3, 3], cloud.view


def _build(addon, recon):
    builder = addon.submodule("scene.build")
    return builder.build_reconstruction(bpy.context.scene, recon)


def test_every_camera_reprojects_its_points_onto_the_photo(addon, make_reconstruction) -> None:
    recon, crops = make_reconstruction(list(SIZES.values()), seed=1)
    report = _build(addon, recon)
    cameras = addon.submodule("scene.cameras")
    photo = addon.submodule("core.geometry.photo")
    scene = bpy.context.scene
    positions, view = _mesh_arrays(addon, report.points_object)
    rng = np.random.default_rng(0)
    assert len(report.camera_objects) == len(SIZES)
    for k, (name, cam_obj) in enumerate(zip(SIZES, report.camera_objects, strict=True)):
        assert cameras.apply_camera_render_settings(scene, cam_obj)
        w0, h0 = (int(v) for v in recon.photo_size[k])
        assert (scene.render.resolution_x, scene.render.resolution_y) == (w0, h0)
        w2, h2 = crops[k].net_size
        own = np.flatnonzero(view == k)
        assert len(own) == w2 * h2
        pick = rng.choice(len(own), POINTS_PER_VIEW, replace=False)
        # Points are stored view by view, row-major over the network image: index -> (row j, column i).
        j, i = np.divmod(pick, w2)
        expected = photo.photo_from_net_pixels(np.stack([i, j], -1), crops[k])
        got = np.empty((POINTS_PER_VIEW, 3))
        for n, idx in enumerate(own[pick]):
            got[n] = world_to_camera_view(scene, cam_obj, Vector(positions[idx].tolist()))
        uv = np.stack([got[:, 0] * w0, (1.0 - got[:, 1]) * h0], -1)
        err = np.abs(uv - expected).max()
        assert err < 0.01, f"{name}: max reprojection error {err:.4f} px"
        np.testing.assert_allclose(got[:, 2], recon.depth[k][j, i], rtol=1e-5)
        # The background image is the photo as the artist sees it (EXIF orientation applied).
        bg = cam_obj.data.background_images[0]
        assert tuple(bg.image.size) == (w0, h0), name
        assert bg.frame_method == "FIT"
        assert cam_obj["dust3r_image"] == recon.image_paths[k]
        assert cam_obj["dust3r_index"] == k
        assert cam_obj.data.sensor_fit == ("HORIZONTAL" if w0 >= h0 else "VERTICAL")


def test_blender_camera_round_trip_is_identity(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(640, 480), (480, 640), (1001, 667)], seed=2)
    report = _build(addon, recon)
    bc = addon.submodule("core.geometry.blender_camera")
    scene = bpy.context.scene
    for k, cam_obj in enumerate(report.camera_objects):
        addon.submodule("scene.cameras").apply_camera_render_settings(scene, cam_obj)
        cam = cam_obj.data
        params = bc.BlenderCameraParams(
            matrix_world=np.array(cam_obj.matrix_world),
            lens=cam.lens,
            sensor_fit=cam.sensor_fit,
            sensor_width=cam.sensor_width,
            sensor_height=cam.sensor_height,
            shift_x=cam.shift_x,
            shift_y=cam.shift_y,
            resolution=(scene.render.resolution_x, scene.render.resolution_y),
            pixel_aspect=(scene.render.pixel_aspect_x, scene.render.pixel_aspect_y),
        )
        K, cam_from_world = bc.opencv_from_blender_camera(params)
        # Blender stores camera floats in single precision: compare relative to the magnitudes.
        np.testing.assert_allclose(K, recon.K_photo[k], rtol=1e-6, atol=1e-6 * K[0, 0])
        np.testing.assert_allclose(cam_from_world @ recon.world_from_cam[k], np.eye(4), atol=1e-6)
        again = bc.blender_camera_from_opencv(np.linalg.inv(cam_from_world), K, params.resolution)
        assert again.sensor_fit == cam.sensor_fit
        for attr in ("lens", "shift_x", "shift_y"):
            assert getattr(again, attr) == pytest.approx(getattr(cam, attr), rel=1e-6, abs=1e-7), attr
        np.testing.assert_allclose(again.matrix_world, params.matrix_world, atol=1e-6)


def test_refined_cameras_carry_their_lens_and_reproject_through_it(addon, make_reconstruction) -> None:
    """A refined reconstruction (radial distortion, solve errors): each camera stores (k1, k2) on its data
    and the solve error on the object, and its points reproject onto the photo through Blender's pinhole
    projection followed by that distortion (CONVENTIONS.md section 6 with the lens model) to 0.01 px."""
    distortion = addon.submodule("core.geometry.distortion")
    photo = addon.submodule("core.geometry.photo")
    recon, crops = make_reconstruction([(640, 480), (480, 640)], seed=3)
    dist = np.array([[-0.12, 0.03], [0.05, 0.0]])
    pts3d = []
    for k in range(recon.num_views):
        h2, w2 = recon.depth[k].shape
        v, u = np.mgrid[0:h2, 0:w2].astype(np.float64)
        rays = distortion.pixel_rays(np.stack([u, v], -1), recon.K_net[k], dist[k])
        cam = rays * recon.depth[k][..., None]
        T = recon.world_from_cam[k]
        pts3d.append((cam @ T[:3, :3].T + T[:3, 3]).astype(np.float32))
    fields = {
        **recon.__dict__,
        "pts3d": tuple(pts3d),
        "dist": dist,
        "solve_error_px": np.array([0.21, np.nan]),
    }
    refined = type(recon)(**fields)
    report = _build(addon, refined)
    cameras = addon.submodule("scene.cameras")
    first, second = report.camera_objects
    assert list(first.data[cameras.DISTORTION_KEY]) == pytest.approx([-0.12, 0.03])
    assert first[cameras.SOLVE_ERROR_KEY] == pytest.approx(0.21)
    assert cameras.SOLVE_ERROR_KEY not in second  # NaN: this view kept its aligned camera
    scene = bpy.context.scene
    positions, view = _mesh_arrays(addon, report.points_object)
    rng = np.random.default_rng(1)
    for k, cam_obj in enumerate(report.camera_objects):
        w0, h0 = (int(v) for v in refined.photo_size[k])
        cameras.apply_camera_render_settings(scene, cam_obj)
        w2, _h2 = crops[k].net_size
        own = np.flatnonzero(view == k)
        pick = rng.choice(len(own), 400, replace=False)
        j, i = np.divmod(pick, w2)
        expected = photo.photo_from_net_pixels(np.stack([i, j], -1), crops[k])
        ndc = np.array(
            [world_to_camera_view(scene, cam_obj, Vector(positions[n].tolist())) for n in own[pick]]
        )
        K = refined.K_photo[k]
        pinhole = np.stack([ndc[:, 0] * w0, (1.0 - ndc[:, 1]) * h0], -1)
        xy = (pinhole - K[:2, 2]) / np.diag(K)[:2]
        lens = cam_obj.data.get(cameras.DISTORTION_KEY, (0.0, 0.0))
        uv = distortion.distort_normalized(xy, tuple(lens)) * np.diag(K)[:2] + K[:2, 2]
        err = np.abs(uv - expected).max()
        assert err < 0.01, f"view {k}: max reprojection error {err:.4f} px"
        assert np.abs(pinhole - expected).max() > 1.0  # the distortion matters: without it the test fails
