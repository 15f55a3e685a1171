"""The refinement's image matcher: Shi-Tomasi points, NCC search, Lucas-Kanade on known warps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.refine.keypoints import grid_keypoints, shi_tomasi_score
from core.refine.lucas_kanade import PatchParams, align_patches, match_patches
from core.refine.pyramid import build_pyramid, from_level, sample, to_level
from core.refine.search import ncc_search


def _texture(h: int = 160, w: int = 200, seed: int = 0) -> np.ndarray:
    """A smooth random texture in [0, 1] (band-limited: interpolation is exact enough for 0.01 px tests)."""
    rng = np.random.default_rng(seed)
    img = ndimage.gaussian_filter(rng.random((h, w)), 2.0)
    img = (img - img.min()) / (img.max() - img.min())
    return img.astype(np.float32)


def _warped(img: np.ndarray, M: np.ndarray, t: np.ndarray, gain=1.0, bias=0.0) -> np.ndarray:
    """Image B with B(M (x - c) + c + t) = gain * A(x) + bias (index coordinates, c the centre)."""
    h, w = img.shape
    c = np.array([w / 2, h / 2])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    src = (np.stack([xx.ravel(), yy.ravel()], 1) - c - t) @ np.linalg.inv(M).T + c
    out = ndimage.map_coordinates(img, [src[:, 1], src[:, 0]], order=3, mode="nearest").reshape(h, w)
    return (gain * out + bias).astype(np.float32)


def _truth(p, M, t, shape):
    h, w = shape
    c = np.array([w / 2, h / 2])
    return (p - c) @ M.T + c + t


def test_pyramid_levels_keep_the_continuous_position() -> None:
    xy = np.array([[0.0, 0.0], [10.25, 3.5]])
    np.testing.assert_allclose(from_level(to_level(xy, 3), 3), xy)
    np.testing.assert_allclose(to_level(np.array([[1.5, 1.5]]), 1), [[0.5, 0.5]])  # centre of a 2x2 block
    img = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    assert sample(img, np.array([[1.5, 1.0]]))[0] == pytest.approx(5.5)
    assert len(build_pyramid(np.zeros((100, 120), np.float32), 3)) == 3


def test_keypoints_are_spread_and_skip_flat_areas() -> None:
    img = _texture()
    img[:, :100] = 0.5  # the left half has no texture
    kp = grid_keypoints(shi_tomasi_score(img), cell=10, min_score=1e-5, margin=8, spacing=3)
    assert len(kp) > 50
    assert kp[:, 0].min() >= 95  # nothing on the flat half
    d = np.hypot(*(kp[:, None] - kp[None]).transpose(2, 0, 1))
    assert d[np.triu_indices(len(kp), 1)].min() >= 3  # never two points on one feature


def test_lucas_kanade_finds_an_affine_warp_to_a_hundredth_of_a_pixel_despite_exposure() -> None:
    img = _texture()
    th = np.radians(6.0)
    M = (
        1.1
        * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
        @ np.array([[1, 0.08], [0, 0.95]])
    )
    t = np.array([2.3, -1.7])
    other = _warped(img, M, t, gain=0.8, bias=0.1)
    pa, pb = build_pyramid(img, 3, presmooth=0), build_pyramid(other, 3, presmooth=0)
    p = grid_keypoints(shi_tomasi_score(img), 16, 1e-6, 24).astype(np.float64)
    q_true = _truth(p, M, t, img.shape)
    q0 = q_true + np.random.default_rng(1).normal(0, 1.5, q_true.shape)
    q, ok, ncc = align_patches(pa, pb, p, np.repeat(M[None], len(p), 0), q0, PatchParams(levels=2))
    err = np.hypot(*(q - q_true).T)
    assert ok.mean() > 0.9 and np.median(ncc[ok]) > 0.99
    assert np.median(err[ok]) < 0.02 and np.percentile(err[ok], 95) < 0.05


def test_search_then_subpixel_reaches_guesses_many_pixels_off() -> None:
    img = _texture()
    M = np.array([[0.9, 0.05], [-0.05, 0.9]])
    t = np.array([-4.4, 3.2])
    other = _warped(img, M, t)
    pa, pb = build_pyramid(img, 4, presmooth=0), build_pyramid(other, 4, presmooth=0)
    p = grid_keypoints(shi_tomasi_score(img), 16, 1e-6, 30).astype(np.float64)
    q_true = _truth(p, M, t, img.shape)
    q0 = q_true + np.random.default_rng(2).uniform(-9, 9, q_true.shape)
    q, ok = match_patches(pa, pb, p, np.repeat(M[None], len(p), 0), q0, 12.0, PatchParams())
    err = np.hypot(*(q - q_true).T)
    assert ok.mean() > 0.6
    assert np.max(err[ok]) < 0.1


def test_search_refuses_a_repetitive_texture_rather_than_guess() -> None:
    x = np.arange(200)
    stripes = np.tile(0.5 + 0.5 * np.sin(2 * np.pi * x / 6.0), (160, 1)).astype(np.float32)
    stripes += 0.02 * np.sin(np.arange(160) / 7.0)[:, None].astype(np.float32)  # a little texture along y
    pyr = build_pyramid(stripes, 1, presmooth=0)
    p = np.array([[100.0, 80.0], [60.0, 50.0]])
    A = np.repeat(np.eye(2)[None], 2, 0)
    _, ok = ncc_search(pyr, pyr[0], 0, p, A, p + [2.0, 0.0], radius=8, window=13)
    assert not ok.any()  # peaks every 6 pixels: no distinct best position
    _, ok = ncc_search([_texture()], _texture(), 0, p, A, p + [2.0, 0.0], radius=8, window=13)
    assert ok.all()


def test_matcher_on_a_real_photo_with_a_known_warp() -> None:
    """Real texture (examples/photos: JPEG, blur, sensor noise) warped by a known affine map with an exposure
    change: the search from guesses several pixels off, then Lucas-Kanade, recovers the warp's positions."""
    from pathlib import Path

    from PIL import Image

    from core.refine.pyramid import to_grey

    photo = sorted((Path(__file__).resolve().parents[2] / "examples" / "photos").glob("*.jpg"))[0]
    img = to_grey(np.asarray(Image.open(photo).convert("RGB")))
    th = np.radians(4.0)
    M = 0.95 * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    t = np.array([3.6, -2.1])
    other = _warped(img, M, t, gain=0.85, bias=0.05)
    pa, pb = build_pyramid(img, 4), build_pyramid(other, 4)
    p = grid_keypoints(shi_tomasi_score(img), 12, 1e-4, 30).astype(np.float64)
    q_true = _truth(p, M, t, img.shape)
    q0 = q_true + np.random.default_rng(3).uniform(-6, 6, q_true.shape)
    q, ok = match_patches(pa, pb, p, np.repeat(M[None], len(p), 0), q0, 10.0, PatchParams())
    err = np.hypot(*(q - q_true).T)
    assert len(p) > 100 and ok.mean() > 0.5
    assert np.median(err[ok]) < 0.05 and np.percentile(err[ok], 95) < 0.2
