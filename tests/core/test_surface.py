"""The one "no face across a depth jump" rule (core.geometry.surface) and the photo resampling built on it."""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry.photo import PhotoCrop
from core.geometry.photo_resample import resample_to_photo
from core.geometry.surface import quads_to_triangles, surface_quads


def test_quads_skip_invalid_pixels_and_depth_jumps() -> None:
    depth = np.full((4, 5), 2.0)
    valid = np.ones((4, 5), dtype=bool)
    assert surface_quads(valid, depth).shape == (3 * 4, 4)
    valid[0, 0] = False  # removes the one cell touching it
    depth[3, 4] = 3.0  # a 50 % jump: removes the one cell touching it
    quads = surface_quads(valid, depth)
    assert quads.shape == (3 * 4 - 2, 4)
    assert 0 not in quads and 19 not in quads
    with pytest.raises(ValueError, match="same"):
        surface_quads(valid[:, :2], depth)


def test_triangles_keep_the_quads_winding() -> None:
    quads = np.array([[0, 5, 6, 1]])  # top-left, bottom-left, bottom-right, top-right of a 5-wide grid
    tris = quads_to_triangles(quads)
    np.testing.assert_array_equal(tris, [[0, 5, 6], [0, 6, 1]])
    grid = {0: (0, 0), 1: (1, 0), 5: (0, 1), 6: (1, 1)}  # (u, v) image coordinates, v down
    for t in tris:
        (x0, y0), (x1, y1), (x2, y2) = (grid[int(i)] for i in t)
        # negative cross product in image axes (v down) = counter-clockwise on the image as the camera sees
        # it: glTF's (and Blender's) front face
        assert (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0) < 0


def test_resampling_is_exact_on_network_pixel_centres_and_nan_outside_the_crop() -> None:
    crop = PhotoCrop(photo_size=(15, 12), resized_size=(5, 4), crop_offset=(1, 0), net_size=(3, 4))
    rng = np.random.default_rng(0)
    depth = rng.uniform(2.0, 2.05, (4, 3)).astype(np.float32)
    conf = rng.uniform(1, 9, (4, 3)).astype(np.float32)
    z, c = resample_to_photo(depth, (conf,), crop)
    assert z.shape == c.shape == (12, 15) and z.dtype == np.float32
    np.testing.assert_array_equal(z[1::3, 4:13:3], depth)  # photo pixel 3 (i + 1) + 1 is network pixel i
    np.testing.assert_array_equal(c[1::3, 4:13:3], conf)
    assert np.isnan(z[:, :3]).all() and np.isnan(z[:, 12:]).all() and np.isfinite(z[:, 3:12]).all()
    with pytest.raises(ValueError, match="shape"):
        resample_to_photo(depth[:, :2], (), crop)


def test_a_nan_neighbour_falls_back_to_the_nearest_pixel() -> None:
    crop = PhotoCrop(photo_size=(9, 3), resized_size=(3, 1), crop_offset=(0, 0), net_size=(3, 1))
    depth = np.array([[2.0, np.nan, 2.0]], dtype=np.float32)
    (z,) = resample_to_photo(depth, (), crop)
    # columns 0-4 are nearest to network pixel 0 or 1 (NaN), 5-8 to 1 or 2; never a blend with NaN
    np.testing.assert_array_equal(z[0], [2.0, 2.0, 2.0, np.nan, np.nan, np.nan, 2.0, 2.0, 2.0])
