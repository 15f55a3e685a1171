"""The radial lens model of INTERFACES.md: distort/undistort are inverses; projection agrees with pinhole."""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry.cameras import project
from core.geometry.distortion import (
    distort_normalized,
    pixel_rays,
    project_distorted,
    undistort_normalized,
)


def test_distort_matches_the_formula() -> None:
    xy = np.array([[0.3, -0.2], [0.0, 0.0], [-0.5, 0.4]])
    k1, k2 = -0.12, 0.03
    r2 = (xy**2).sum(-1, keepdims=True)
    np.testing.assert_allclose(distort_normalized(xy, (k1, k2)), xy * (1 + k1 * r2 + k2 * r2**2))


def test_undistort_inverts_distort() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(-0.6, 0.6, size=(1000, 2))
    for dist in ((-0.12, 0.03), (0.08, -0.01), (0.0, 0.0)):
        back = undistort_normalized(distort_normalized(xy, dist), dist)
        np.testing.assert_allclose(back, xy, atol=1e-10)


def test_zero_distortion_projection_is_pinhole_and_rays_invert_it() -> None:
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(200, 3)) + [0, 0, 5]
    K = np.array([[300.0, 0, 160.2], [0, 310.0, 119.7], [0, 0, 1]])
    np.testing.assert_allclose(project_distorted(K, pts), project(K, pts))
    uv = project_distorted(K, pts, (-0.1, 0.02))
    rays = pixel_rays(uv, K, (-0.1, 0.02))
    np.testing.assert_allclose(rays * pts[:, 2:3], pts, atol=1e-9)


@pytest.mark.parametrize("bad", [(1.0,), (np.nan, 0.0), "k1"])
def test_bad_coefficients_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="dist"):
        distort_normalized(np.zeros((1, 2)), bad)
