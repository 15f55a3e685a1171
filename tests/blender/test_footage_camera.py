"""A footage RESULT.npz -> ONE animated camera with the plate behind it (INTERFACES.md section 3).

Ground-truth results of the synthetic ``shot`` (true cameras and depths, the plate as a real H.264 video
from frame 1 or a PNG sequence from frame 1001): a key on every frame, the camera at every keyed frame
reprojecting the result's points of that frame to 0.01 px (CONVENTIONS.md section 6; through Blender's
POLYNOMIAL model of the clip's tracking camera when the lens distorts), the clip showing plate frame k on
scene frame k (rendered through the compositor's Movie Clip node), the scene's range, rate and resolution
from the plate, the tracking camera equal to the camera's lens, sensor and shift.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.footage_checks import footage_camera as _footage_camera
from tests.blender.footage_checks import import_result as _import
from tests.blender.footage_checks import reprojection_errors as _reprojection_errors

pytest.importorskip("av")


def test_video_result_keys_every_frame_and_reprojects_at_each(addon, footage_result) -> None:
    recon, _case, path, plate = footage_result("video", n=6, pp_offset=(3.0, -2.0), sensor_width=23.76)
    _import(path)
    cam = _footage_camera()
    anim = addon.submodule("scene.animation")
    assert anim.keyed_frames(cam, "location") == list(range(1, 7))
    assert anim.keyed_frames(cam, "rotation_quaternion") == list(range(1, 7))
    assert list(cam["dust3r_frame_numbers"]) == list(range(1, 7))
    assert cam.rotation_mode == "QUATERNION"
    errors = _reprojection_errors(recon, cam)
    assert sorted(errors) == list(range(1, 7)) and max(errors.values()) < 0.01, errors

    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (1, 6)
    assert scene.render.fps == 24 and scene.render.fps_base == pytest.approx(1.001, abs=1e-6)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (64, 48)
    assert scene.render.resolution_percentage == 100 and scene.camera == cam
    # The film back given: the camera has it (36 mm only when nothing is known).
    assert cam.data.sensor_width == pytest.approx(23.76) and cam.data.sensor_fit == "HORIZONTAL"
    assert not cam["dust3r_sensor_width_assumed"]
    clip = cam.data.background_images[0].clip
    assert cam.data.background_images[0].source == "MOVIE_CLIP" and scene.active_clip == clip
    assert Path(bpy.path.abspath(clip.filepath)) == plate.resolve()
    assert (clip.frame_start, clip.frame_offset) == (1, 0)
    assert "dust3r_solve_error_px" not in cam  # no refinement ran


def test_one_camera_and_no_flips(addon, footage_result) -> None:
    recon, _case, path, _plate = footage_result("video", n=8)
    _import(path)
    cam = _footage_camera()
    anim = addon.submodule("scene.animation")
    curves = {fc.array_index: fc for fc in anim.fcurves_of(cam) if fc.data_path == "rotation_quaternion"}
    q = np.array([[kp.co[1] for kp in curves[i].keyframe_points] for i in range(4)]).T
    assert (np.sum(q[1:] * q[:-1], axis=1) > 0).all()
    assert all(kp.interpolation == "LINEAR" for fc in anim.fcurves_of(cam) for kp in fc.keyframe_points)
    assert len([o for o in bpy.data.objects if o.type == "CAMERA"]) == 1
    points = next(o for o in bpy.data.objects if o.get("dust3r_role") == "points")
    assert len(points.data.polygons) == 8 * 64 * 48


def test_sequence_from_1001_with_distortion(addon, footage_result) -> None:
    recon, _case, path, plate = footage_result(
        "sequence", n=5, first=1001, k1=-0.12, k2=0.03, pp_offset=(-2.5, 1.5), fps=25.0
    )
    _import(path)
    cam = _footage_camera()
    clip = cam.data.background_images[0].clip
    assert (clip.frame_start, clip.frame_offset) == (1001, 0)
    assert Path(bpy.path.abspath(clip.filepath)).name == "plate.1001.png"
    errors = _reprojection_errors(recon, cam, clip)
    assert sorted(errors) == list(range(1001, 1006)) and max(errors.values()) < 0.01, errors
    # Without the distortion the same points miss by pixels: the test sees it.
    assert max(_reprojection_errors(recon, cam).values()) > 0.3
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (1001, 1005)
    assert scene.render.fps == 25 and scene.render.fps_base == pytest.approx(1.0)
    assert list(cam["dust3r_frame_paths"]) == list(recon.image_paths)
    assert cam["dust3r_sensor_width_assumed"]


def test_tracking_camera_equals_the_camera(addon, footage_result) -> None:
    recon, _case, path, _plate = footage_result(
        "video", n=4, k1=0.05, pp_offset=(4.0, 3.0), sensor_width=30.0
    )
    _import(path)
    cam = _footage_camera()
    tracking = cam.data.background_images[0].clip.tracking.camera
    w, h = 64, 48
    assert tracking.focal_length == pytest.approx(cam.data.lens, rel=1e-5)
    assert tracking.sensor_width == pytest.approx(cam.data.sensor_width, rel=1e-6)
    assert tracking.units == "MILLIMETERS" and tracking.distortion_model == "POLYNOMIAL"
    # The shift is the principal point: Blender's camera and the clip agree on it.
    cx, cy_up = tracking.principal_point_pixels
    assert w / 2 - cam.data.shift_x * w == pytest.approx(cx, abs=1e-4)
    assert h / 2 - cam.data.shift_y * w == pytest.approx(cy_up, abs=1e-4)
    K = recon.K_photo[0]
    assert (cx, h - cy_up) == pytest.approx((K[0, 2], K[1, 2]), abs=1e-4)
    assert (tracking.k1, tracking.k2, tracking.k3) == pytest.approx((0.05, 0.0, 0.0))
    assert tracking.pixel_aspect == pytest.approx(K[1, 1] / K[0, 0])
    assert list(cam.data["dust3r_distortion"]) == pytest.approx([0.05, 0.0])


def test_a_zoom_keys_the_lens(addon, footage_result) -> None:
    recon, _case, path, _plate = footage_result("video", n=5, zoom=0.3, pp_offset=(1.0, 1.0))
    _import(path)
    cam = _footage_camera()
    anim = addon.submodule("scene.animation")
    assert anim.keyed_frames(cam.data, "lens") == list(range(1, 6))
    errors = _reprojection_errors(recon, cam)
    assert max(errors.values()) < 0.01, errors


def test_a_fixed_lens_is_not_keyed(addon, footage_result) -> None:
    _recon, _case, path, _plate = footage_result("video", n=4)
    _import(path)
    anim = addon.submodule("scene.animation")
    assert anim.keyed_frames(_footage_camera().data, "lens") == []


def test_frame_status_and_solve_error_are_stored_and_reported(addon, footage_result, capfd) -> None:
    status = ["reconstructed", "interpolated", "flagged", "reconstructed", "localised"]
    solve = [0.3, np.nan, np.nan, 0.4, np.nan]
    recon, _case, path, _plate = footage_result("video", n=5, status=status, solve_error=solve)
    capfd.readouterr()
    _import(path)
    out = capfd.readouterr().out
    assert "5 frames: 2 reconstructed, 1 interpolated, 1 flagged, 1 localised" in out
    assert "Frame 3 flagged: black frame: pose interpolated" in out
    cam = _footage_camera()
    assert list(cam["dust3r_frame_status"]) == status
    assert cam["dust3r_frame_notes"][2] == "black frame: pose interpolated"
    assert cam["dust3r_solve_error_px"] == pytest.approx(np.sqrt((0.3**2 + 0.4**2) / 2))
    # Every frame has a pose, with or without points.
    anim = addon.submodule("scene.animation")
    assert anim.keyed_frames(cam, "location") == [1, 2, 3, 4, 5]
    points = next(o for o in bpy.data.objects if o.get("dust3r_role") == "points")
    assert len(points.data.polygons) == 2 * 64 * 48


def test_a_moved_plate_is_found_next_to_the_result(addon, footage_result, tmp_path) -> None:
    _recon, _case, path, plate = footage_result("video", n=3)
    farm = tmp_path / "farm"
    farm.mkdir()
    shutil.move(plate, farm / plate.name)
    shutil.move(path, farm / path.name)
    _import(farm / path.name)
    clip = _footage_camera().data.background_images[0].clip
    assert Path(bpy.path.abspath(clip.filepath)) == (farm / plate.name).resolve()


def test_a_missing_plate_is_reported_and_the_camera_still_built(addon, footage_result, capfd) -> None:
    _recon, _case, path, plate = footage_result("video", n=3)
    plate.unlink()
    capfd.readouterr()
    _import(path)
    out = capfd.readouterr().out
    assert "The footage plate.mp4 was not found" in out and "next to the .npz" in out
    cam = _footage_camera()
    assert len(cam.data.background_images) == 0 and len(bpy.data.movieclips) == 0


def test_a_footage_result_without_footage_arrays_still_builds_one_camera(addon, synthetic_result, tmp_path):
    """A result with frame numbers and fps only (another tool's writer): one camera, no plate, the frames
    with points counted as reconstructed."""
    recon, _case, _path = synthetic_result("room", n=3, size=(48, 36))
    bare = tmp_path / "bare.npz"
    recon = type(recon)(**{**recon.__dict__, "fps": 24.0, "frame_numbers": np.array([10, 11, 12])})
    recon.save_npz(bare)
    _import(bare)
    cam = _footage_camera()
    assert list(cam["dust3r_frame_numbers"]) == [10, 11, 12]
    assert list(cam["dust3r_frame_status"]) == ["reconstructed"] * 3
    assert (bpy.context.scene.frame_start, bpy.context.scene.frame_end) == (10, 12)
    assert bpy.context.scene.render.fps == 24 and bpy.context.scene.render.fps_base == pytest.approx(1.0)
    errors = _reprojection_errors(recon, cam)  # the room's views differ in focal: the lens is keyed too
    assert sorted(errors) == [10, 11, 12] and max(errors.values()) < 0.01, errors
