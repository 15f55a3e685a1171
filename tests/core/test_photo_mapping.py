"""CONVENTIONS.md section 3: network image <-> original photo."""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry.photo import (
    K_net_from_K_photo,
    K_photo_from_K_net,
    PhotoCrop,
    crop_from_intrinsics,
    focal_35mm_from_net,
    focal_net_from_35mm,
    focal_net_from_exif_35mm,
    focal_photo_from_exif_35mm,
    intrinsics_matrix,
    net_from_photo_pixels,
    photo_from_net_pixels,
)

# 640x480 at size 224: resized to 299x224, crop x 37..261 (reference inputs_224.json).
CROP_224 = PhotoCrop(photo_size=(640, 480), resized_size=(299, 224), crop_offset=(37, 0), net_size=(224, 224))
# 600x400 at size 512: resized to 512x341, crop rows 2..338.
CROP_512 = PhotoCrop(photo_size=(600, 400), resized_size=(512, 341), crop_offset=(0, 2), net_size=(512, 336))


@pytest.mark.parametrize("crop", [CROP_224, CROP_512])
def test_pixel_mapping_round_trip(crop: PhotoCrop) -> None:
    rng = np.random.default_rng(0)
    uv = rng.uniform(-5, 600, size=(100, 2))
    np.testing.assert_allclose(net_from_photo_pixels(photo_from_net_pixels(uv, crop), crop), uv, atol=1e-9)


def test_first_network_pixel_maps_into_the_crop() -> None:
    # Network pixel (0, 0) spans resized [37, 38] x [0, 1]: its centre is at resized (37.5, 0.5).
    u0, v0 = photo_from_net_pixels(np.array([0.0, 0.0]), CROP_224)
    assert u0 == pytest.approx(37.5 * 640 / 299)
    assert v0 == pytest.approx(0.5 * 480 / 224)


@pytest.mark.parametrize("crop", [CROP_224, CROP_512])
def test_intrinsics_reproject_the_same_ray(crop: PhotoCrop) -> None:
    """A point projecting to network pixel (u, v) projects through K_photo to the mapped photo pixel."""
    K_net = intrinsics_matrix(300.0, 300.0, crop.net_size[0] / 2, crop.net_size[1] / 2)
    K_photo = K_photo_from_K_net(K_net, crop)
    rng = np.random.default_rng(1)
    pts = rng.uniform([-1, -1, 2], [1, 1, 5], size=(1000, 3))
    uv_net = (pts @ K_net.T)[:, :2] / pts[:, 2:]
    uv_photo = (pts @ K_photo.T)[:, :2] / pts[:, 2:]
    np.testing.assert_allclose(uv_photo, photo_from_net_pixels(uv_net, crop), atol=1e-9)
    np.testing.assert_allclose(K_net_from_K_photo(K_photo, crop), K_net, atol=1e-12)


@pytest.mark.parametrize("crop", [CROP_224, CROP_512])
def test_crop_is_recovered_from_the_two_intrinsics(crop: PhotoCrop) -> None:
    K_net = intrinsics_matrix(250.0, 250.0, crop.net_size[0] / 2, crop.net_size[1] / 2)
    K_photo = K_photo_from_K_net(K_net, crop)
    assert crop_from_intrinsics(K_net, K_photo, crop.photo_size, crop.net_size) == crop
    with pytest.raises(ValueError, match="3x3"):
        crop_from_intrinsics(K_net[:2], K_photo, crop.photo_size, crop.net_size)


def test_35mm_focal_round_trip_and_meaning() -> None:
    # 36 mm on the long side: a 36 mm lens sees the long side at exactly 1 focal length.
    f_net = focal_net_from_35mm(36.0, CROP_512)
    assert f_net * 600 / 512 == pytest.approx(600.0)
    assert focal_35mm_from_net(f_net, CROP_512) == pytest.approx(36.0)
    with pytest.raises(ValueError):
        focal_net_from_35mm(-1.0, CROP_512)


@pytest.mark.parametrize(
    ("photo_size", "long_side_error"),
    [((4000, 3000), 0.0385), ((3000, 4000), 0.0385), ((1920, 1080), -0.0475), ((3600, 2400), 0.0)],
)
def test_exif_35mm_focal_is_defined_on_the_diagonal(photo_size, long_side_error) -> None:
    """FocalLengthIn35mmFilm: f35 / 43.27 mm = f_px / diagonal_px (CONVENTIONS.md section 4)."""
    w0, h0 = photo_size
    f_px = focal_photo_from_exif_35mm(26.0, photo_size)
    assert f_px == pytest.approx(26.0 / 43.2666 * np.hypot(w0, h0), rel=1e-5)
    # a phone's 26 mm on a 4000 x 3000 photo: 3004 px, where the long-side rule said 2889 px (3.9 % short);
    # on 16:9 the long-side rule is 4.75 % too long
    long_side_rule = 26.0 / 36.0 * max(w0, h0)
    assert 1.0 - long_side_rule / f_px == pytest.approx(long_side_error, abs=5e-4)
    # on the network image: the same photo focal scaled by the resize
    crop = PhotoCrop(
        photo_size=photo_size, resized_size=(w0 // 8, h0 // 8), crop_offset=(0, 0), net_size=(16, 16)
    )
    assert focal_net_from_exif_35mm(26.0, crop) == pytest.approx(f_px / 8)
    for bad in (0.0, -5.0, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            focal_photo_from_exif_35mm(bad, photo_size)
