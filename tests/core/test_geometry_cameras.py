"""core.geometry.cameras: DUSt3R's index-coordinate pinhole model."""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry.cameras import (
    cam_points_to_depth,
    default_principal_point,
    depth_to_cam_points,
    intrinsics_from_focal,
    pixel_grid,
    project,
)


def test_pixel_grid_is_column_then_row() -> None:
    grid = pixel_grid(3, 5)
    assert grid.shape == (3, 5, 2)
    assert tuple(grid[2, 4]) == (4.0, 2.0)
    assert tuple(grid[0, 1]) == (1.0, 0.0)


def test_back_projection_round_trip() -> None:
    rng = np.random.default_rng(0)
    H, W = 6, 8
    depth = rng.uniform(1.0, 5.0, size=(H, W)).astype(np.float32)
    pp = default_principal_point(H, W)
    pts = depth_to_cam_points(depth, 300.0, pp)
    assert pts.shape == (H, W, 3) and pts.dtype == np.float64
    np.testing.assert_allclose(cam_points_to_depth(pts), depth, rtol=1e-7)
    uv = project(intrinsics_from_focal(300.0, pp), pts)
    np.testing.assert_allclose(uv, pixel_grid(H, W), atol=1e-9)


def test_principal_point_pixel_looks_along_the_axis() -> None:
    pts = depth_to_cam_points(np.full((4, 6), 2.0), (100.0, 120.0), (3.0, 2.0))
    np.testing.assert_allclose(pts[2, 3], [0.0, 0.0, 2.0])
    np.testing.assert_allclose(pts[2, 4], [2.0 / 100.0, 0.0, 2.0])  # +u is +x
    np.testing.assert_allclose(pts[3, 3], [0.0, 2.0 / 120.0, 2.0])  # +v is +y (OpenCV, y down)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="depth"):
        depth_to_cam_points(np.ones((2, 2, 1)), 1.0, (0, 0))
    with pytest.raises(ValueError, match="focal"):
        depth_to_cam_points(np.ones((2, 2)), np.ones(3), (0, 0))
    with pytest.raises(ValueError, match="K"):
        project(np.eye(4), np.ones((2, 3)))
