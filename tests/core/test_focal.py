"""core.geometry.focal against the reference goldens (README section 6, focal.npz)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.geometry.cameras import default_principal_point, depth_to_cam_points
from core.geometry.focal import estimate_focal_knowing_depth, focal_base
from tests.reference_data import reference

REF = reference()  # the full ../shared/reference or the vendored subset (tests.reference_data)

MODES = ("median", "weiszfeld")


def _close(ours: float, golden: float) -> bool:
    return abs(ours - golden) <= 1e-4 * abs(golden) + 1e-12


@pytest.fixture(scope="module")
def focal_golden():
    return REF.npz("postprocess/focal.npz")


def test_focal_on_every_network_output(focal_golden) -> None:
    """Every full-size output of the tree (all 13 with the full reference; the vendored subset keeps one)."""
    checked = 0
    for path in REF.outputs():
        golden = REF.golden(path.stem.rsplit("_pair", 1)[0], int(path.stem[-2]), int(path.stem[-1]))
        if golden.stride != 1:  # a strided map has other votes: not comparable
            continue
        pts = golden["pred1_pts3d"]
        pp = default_principal_point(*pts.shape[:2])
        for mode in MODES:
            key = f"{path.stem}_{mode}"
            clipped = estimate_focal_knowing_depth(pts, pp, mode)
            unclipped = estimate_focal_knowing_depth(pts, pp, mode, min_focal=-math.inf)
            assert _close(clipped, float(focal_golden[key][0])), key
            assert _close(unclipped, float(focal_golden[key + "_unclipped"][0])), key
            checked += 1
    listed = sum(1 for k in focal_golden if k.endswith(("_median", "_weiszfeld")) and "pair" in k)
    assert checked == listed if REF.full else checked == 2  # tiny_linear_224_pair10, both modes


@pytest.mark.parametrize(
    ("pts_key", "golden_key", "mode", "clip"),
    [
        ("synthetic_pts3d", "synthetic_median", "median", {}),
        ("synthetic_pts3d", "synthetic_weiszfeld", "weiszfeld", {}),
        (
            "synthetic_pts3d",
            "synthetic_weiszfeld_clip_min0.5_max1.0",
            "weiszfeld",
            {"min_focal": 0.5, "max_focal": 1.0},
        ),
        ("synthetic_noisy_pts3d", "synthetic_noisy_median", "median", {}),
        ("synthetic_noisy_pts3d", "synthetic_noisy_weiszfeld", "weiszfeld", {}),
    ],
)
def test_focal_on_synthetic_points(focal_golden, pts_key, golden_key, mode, clip) -> None:
    pts = focal_golden[pts_key]
    ours = estimate_focal_knowing_depth(pts, default_principal_point(*pts.shape[:2]), mode, **clip)
    assert _close(ours, float(focal_golden[golden_key][0]))


def test_median_is_the_lower_middle_value() -> None:
    # One row of 2 pixels -> 4 votes; du*z/x = pp-relative column / (x/z).
    pts = np.array([[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]])  # x/z = y/z = 1
    # u - cx = (0 - 1, 1 - 1) = (-1, 0); v - cy = (0 - 0.5) twice -> votes [-1, 0, -0.5, -0.5]
    f = estimate_focal_knowing_depth(pts, (1.0, 0.5), "median", min_focal=-math.inf)
    assert f == -0.5  # sorted [-1, -0.5, -0.5, 0]
    pts[0, 1, 0] = 0.5  # u vote of pixel 1 stays 0; make the middle pair differ
    pts[0, :, 1] = [2.0, 4.0]  # v votes -0.25, -0.125 -> sorted [-1, -0.25, -0.125, 0]
    f = estimate_focal_knowing_depth(pts, (1.0, 0.5), "median", min_focal=-math.inf)
    assert f == -0.25  # np.median would give the average, -0.1875


@pytest.mark.parametrize("mode", MODES)
def test_weights_mask_out_corrupted_pixels(mode: str) -> None:
    rng = np.random.default_rng(0)
    H, W, f_true = 48, 64, 80.0
    pp = default_principal_point(H, W)
    pts = depth_to_cam_points(rng.uniform(1, 3, size=(H, W)), f_true, pp)
    bad = rng.random((H, W)) < 0.6  # a majority of wrong pixels defeats even the robust estimators
    pts[bad, :2] *= 1.7
    unweighted = estimate_focal_knowing_depth(pts, pp, mode)
    masked = estimate_focal_knowing_depth(pts, pp, mode, weights=~bad)
    weighted = estimate_focal_knowing_depth(
        pts, pp, mode, weights=np.where(bad, 0.0, rng.uniform(1, 5, (H, W)))
    )
    assert abs(unweighted - f_true) > 1.0
    assert masked == pytest.approx(f_true, rel=1e-6)
    assert weighted == pytest.approx(f_true, rel=1e-6)


def test_all_ones_weights_equal_no_weights() -> None:
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(10, 12, 3)) + np.array([0.0, 0.0, 5.0])
    pp = default_principal_point(10, 12)
    for mode in MODES:
        assert estimate_focal_knowing_depth(pts, pp, mode, weights=np.ones((10, 12))) == pytest.approx(
            estimate_focal_knowing_depth(pts, pp, mode), rel=1e-12
        )


def test_clipping_and_errors() -> None:
    assert focal_base(96, 128) == pytest.approx(128 / (2 * math.tan(math.radians(30))))
    pts = depth_to_cam_points(np.ones((4, 4)), 1000.0, (2.0, 2.0))
    assert estimate_focal_knowing_depth(pts, (2.0, 2.0), max_focal=1.0) == pytest.approx(focal_base(4, 4))
    with pytest.raises(ValueError, match="focal_mode"):
        estimate_focal_knowing_depth(pts, (2.0, 2.0), "mean")
    with pytest.raises(ValueError, match="pts3d"):
        estimate_focal_knowing_depth(pts[..., :2], (2.0, 2.0))
    with pytest.raises(ValueError, match="zero everywhere"):
        estimate_focal_knowing_depth(pts, (2.0, 2.0), weights=np.zeros((4, 4)))
