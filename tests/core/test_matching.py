"""core.geometry.matching against the reference goldens (README section 6, matches.npz)."""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry.matching import fast_reciprocal_nns, find_reciprocal_matches, reciprocal_pixel_matches
from tests.reference_data import reference

REF = reference()


@pytest.fixture(scope="module")
def matches_golden() -> dict[str, np.ndarray]:
    """The matches golden; the vendored subset drops its inputs, which are the maps of tiny_linear_224's
    pair (1, 0) (reference README section 6), and takes them from that output."""
    golden = REF.npz("postprocess/matches.npz")
    if "pts1" not in golden:
        i, j = (int(v) for v in golden["model_pair"])
        pair = REF.golden("tiny_linear_224", i, j)
        golden.update(
            pts1=pair["pred1_pts3d"],
            pts2=pair["pred2_pts3d_in_other_view"],
            conf1=pair["pred1_conf"],
            conf2=pair["pred2_conf"],
        )
    return golden


def test_find_reciprocal_matches_golden(matches_golden) -> None:
    g = matches_golden
    reciprocal, nn2_in_p1, count = find_reciprocal_matches(g["pts1"].reshape(-1, 3), g["pts2"].reshape(-1, 3))
    assert nn2_in_p1.dtype == np.int64
    np.testing.assert_array_equal(reciprocal, g["frm_reciprocal_in_P2"])
    np.testing.assert_array_equal(nn2_in_p1, g["frm_nn2_in_P1"])
    assert count == int(g["frm_num_matches"])


def test_find_reciprocal_matches_masked_golden(matches_golden) -> None:
    g = matches_golden
    mask1, mask2 = g["conf1"] > g["conf_thr1"], g["conf2"] > g["conf_thr2"]
    np.testing.assert_array_equal(mask1, g["mask1"])
    reciprocal, nn2_in_p1, count = find_reciprocal_matches(g["pts1"][mask1], g["pts2"][mask2])
    np.testing.assert_array_equal(reciprocal, g["frm_masked_reciprocal_in_P2"])
    np.testing.assert_array_equal(nn2_in_p1, g["frm_masked_nn2_in_P1"])
    assert count == int(g["frm_masked_num_matches"])

    # The pixel-coordinate wrapper returns the same matches, mapped back to full-image pixels.
    xy1, xy2 = reciprocal_pixel_matches(g["pts1"], g["pts2"], mask1, mask2)
    assert len(xy1) == count
    assert mask1[xy1[:, 1], xy1[:, 0]].all() and mask2[xy2[:, 1], xy2[:, 0]].all()
    flat1 = np.flatnonzero(mask1)[nn2_in_p1[reciprocal]]
    np.testing.assert_array_equal(xy1[:, 0] + 224 * xy1[:, 1], flat1)


@pytest.mark.parametrize("subsample", [8, 4])
def test_fast_reciprocal_nns_golden(matches_golden, subsample: int) -> None:
    xy1, xy2 = fast_reciprocal_nns(matches_golden["pts1"], matches_golden["pts2"], subsample)
    assert xy1.dtype == xy2.dtype == np.int64
    np.testing.assert_array_equal(xy1, matches_golden[f"frnn_s{subsample}_xy1"])
    np.testing.assert_array_equal(xy2, matches_golden[f"frnn_s{subsample}_xy2"])


def test_fast_matches_are_reciprocal_and_a_subset_of_exhaustive(matches_golden) -> None:
    pts1, pts2 = matches_golden["pts1"], matches_golden["pts2"]
    fast1, fast2 = fast_reciprocal_nns(pts1, pts2, 4)
    all1, all2 = reciprocal_pixel_matches(pts1, pts2)
    exhaustive = set(zip(map(tuple, all1), map(tuple, all2), strict=True))
    assert set(zip(map(tuple, fast1), map(tuple, fast2), strict=True)) <= exhaustive


def test_identical_pointmaps_match_pixel_to_pixel() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(12, 10, 3))
    xy1, xy2 = reciprocal_pixel_matches(pts, pts + 1e-6)
    assert len(xy1) == 120
    np.testing.assert_array_equal(xy1, xy2)
    f1, f2 = fast_reciprocal_nns(pts, pts, subsample=2)
    np.testing.assert_array_equal(f1, f2)
    assert len(f1) == 30  # every start of the 6 x 5 grid is its own reciprocal match


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="P1"):
        find_reciprocal_matches(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="pts2"):
        fast_reciprocal_nns(np.zeros((4, 4, 3)), np.zeros((16, 3)))
    with pytest.raises(ValueError, match="mask"):
        reciprocal_pixel_matches(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)), mask1=np.ones((3, 4), bool))
