"""OpenCV <-> Blender camera conversion (pure numpy; the real-Blender checks are in tests/blender)."""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry.blender_camera import (
    BLENDER_WORLD_FROM_OPENCV_WORLD,
    BlenderCameraParams,
    blender_camera_from_opencv,
    blender_uv_from_photo_pixels,
    blender_world_from_opencv_world,
    matrix_world_from_world_from_cam,
    opencv_from_blender_camera,
    world_from_cam_from_matrix_world,
)


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (512, 512), (1001, 667), (300, 200)])
@pytest.mark.parametrize("fy_over_fx", [1.0, 0.997, 1.004])
def test_round_trip_is_identity(size: tuple[int, int], fy_over_fx: float, random_world_from_cam) -> None:
    rng = np.random.default_rng(sum(size))
    w0, h0 = size
    fx = 0.9 * max(size)
    K = np.array([[fx, 0, w0 / 2 + 7.3], [0, fx * fy_over_fx, h0 / 2 - 4.1], [0, 0, 1.0]])
    world_from_cam = random_world_from_cam(rng, translation_scale=3.0)
    params = blender_camera_from_opencv(world_from_cam, K, size)
    assert min(params.pixel_aspect) == 1.0
    assert params.sensor_fit == ("HORIZONTAL" if w0 >= h0 else "VERTICAL")
    K_back, cam_from_world = opencv_from_blender_camera(params)
    np.testing.assert_allclose(K_back, K, rtol=0, atol=1e-9 * fx)
    np.testing.assert_allclose(cam_from_world @ world_from_cam, np.eye(4), atol=1e-9)


def test_lens_is_35mm_equivalent() -> None:
    # A 4000x3000 photo with a 3000 px focal: 36 mm * 3000 / 4000 = 27 mm.
    K = np.array([[3000.0, 0, 2000], [0, 3000.0, 1500], [0, 0, 1]])
    params = blender_camera_from_opencv(np.eye(4), K, (4000, 3000))
    assert params.lens == pytest.approx(27.0)
    assert params.shift_x == 0.0 and params.shift_y == 0.0
    portrait = blender_camera_from_opencv(np.eye(4), K[[1, 0, 2]][:, [1, 0, 2]], (3000, 4000))
    assert portrait.lens == pytest.approx(27.0)
    assert portrait.sensor_fit == "VERTICAL"


def test_first_camera_looks_along_plus_y_with_z_up() -> None:
    M = matrix_world_from_world_from_cam(np.eye(4))
    # A Blender camera looks down its local -Z, with local +Y up.
    np.testing.assert_allclose(M[:3, :3] @ [0, 0, -1], [0, 1, 0], atol=0)
    np.testing.assert_allclose(M[:3, :3] @ [0, 1, 0], [0, 0, 1], atol=0)
    np.testing.assert_allclose(world_from_cam_from_matrix_world(M), np.eye(4), atol=0)


def test_points_and_poses_use_the_same_world_mapping() -> None:
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(10, 3)).astype(np.float32)
    out = blender_world_from_opencv_world(pts)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, pts @ BLENDER_WORLD_FROM_OPENCV_WORLD[:3, :3].T.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        blender_world_from_opencv_world(np.zeros((4, 2)))


def test_projection_through_blender_view_plane_matches_pinhole() -> None:
    """Re-derive Blender's view plane (BKE_camera_params_compute_viewplane) and project through it."""
    rng = np.random.default_rng(0)
    for size in [(640, 480), (480, 640), (1001, 667)]:
        w0, h0 = size
        K = np.array([[700.0, 0, w0 / 2 + 11], [0, 702.5, h0 / 2 - 9], [0, 0, 1]])
        params = blender_camera_from_opencv(np.eye(4), K, size)
        aspx, aspy = params.pixel_aspect
        ycor = aspy / aspx
        viewfac = w0 if params.sensor_fit == "HORIZONTAL" else ycor * h0
        sensor = params.sensor_width if params.sensor_fit == "HORIZONTAL" else params.sensor_height
        pixsize = sensor / params.lens / viewfac  # at distance 1
        xmin = (-0.5 * w0 + params.shift_x * viewfac) * pixsize
        ymin = (-0.5 * ycor * h0 + params.shift_y * viewfac) * pixsize
        xmax = (0.5 * w0 + params.shift_x * viewfac) * pixsize
        ymax = (0.5 * ycor * h0 + params.shift_y * viewfac) * pixsize
        pts = np.c_[rng.uniform(-1, 1, (100, 2)), rng.uniform(1, 5, 100)]  # OpenCV camera frame
        x_b, y_b = pts[:, 0] / pts[:, 2], -pts[:, 1] / pts[:, 2]  # Blender camera, on the plane z = -1
        u = (x_b - xmin) / (xmax - xmin) * w0
        v = (1 - (y_b - ymin) / (ymax - ymin)) * h0
        uv_pinhole = (pts @ K.T)[:, :2] / pts[:, 2:]
        np.testing.assert_allclose(np.c_[u, v], uv_pinhole, atol=1e-9)


def test_rejects_bad_intrinsics() -> None:
    with pytest.raises(ValueError, match="positive"):
        blender_camera_from_opencv(np.eye(4), np.diag([0.0, 1.0, 1.0]), (10, 10))
    with pytest.raises(ValueError, match="skew"):
        blender_camera_from_opencv(np.eye(4), np.array([[1.0, 0.5, 0], [0, 1, 0], [0, 0, 1]]), (10, 10))
    assert isinstance(blender_camera_from_opencv(np.eye(4), np.eye(3), (10, 10)), BlenderCameraParams)


def test_photo_corners_map_to_the_uv_square_with_v_up() -> None:
    corners = np.array([[0.0, 0.0], [640.0, 480.0], [320.0, 120.0]])  # top-left, bottom-right, a point
    np.testing.assert_allclose(
        blender_uv_from_photo_pixels(corners, (640, 480)), [[0.0, 1.0], [1.0, 0.0], [0.5, 0.75]], atol=0
    )
    with pytest.raises(ValueError, match="shape"):
        blender_uv_from_photo_pixels(np.zeros(3), (640, 480))
