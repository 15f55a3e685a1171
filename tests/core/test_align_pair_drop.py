"""A pair without confident pixels is left out with a warning instead of aborting the alignment.

The predictions are exact pointmaps of a small scene (:mod:`tests.exact_pairs`), so that these tests need
nothing outside the repository.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.align import global_align
from core.config import AlignConfig
from core.errors import AlignmentError
from core.predictions import PairPrediction
from tests.exact_pairs import FOCAL, H, W, exact_predictions

NAMES = ("north.jpg", "east.jpg", "south.jpg", "west.jpg")


def _unconfident(pred: PairPrediction, side: str) -> PairPrediction:
    fields = {k: getattr(pred, k) for k in ("i", "j", "pts3d_i", "conf_i", "pts3d_j", "conf_j")}
    fields[f"conf_{side}"] = np.ones((H, W), np.float32)
    return PairPrediction(**fields)


def _relative_poses_match(result, truth: np.ndarray) -> None:
    """Cameras equal up to a similarity: compare every camera relative to camera 0, scale-normalised."""
    est = np.linalg.inv(result.world_from_cam[0]) @ result.world_from_cam
    ref = np.linalg.inv(truth[0]) @ truth
    np.testing.assert_allclose(est[:, :3, :3], ref[:, :3, :3], atol=1e-3)
    scale = np.linalg.norm(ref[1:, :3, 3]) / np.linalg.norm(est[1:, :3, 3])
    np.testing.assert_allclose(scale * est[:, :3, 3], ref[:, :3, 3], atol=1e-3)


def test_exact_predictions_align_without_warnings() -> None:
    preds, truth = exact_predictions()
    result = global_align(preds, AlignConfig(), view_names=NAMES)
    assert result.warnings == ()
    np.testing.assert_allclose(result.focals, FOCAL, rtol=1e-3)
    _relative_poses_match(result, truth)


def test_a_pair_without_confident_pixels_is_left_out_with_a_warning(caplog) -> None:
    preds, truth = exact_predictions()
    bad = next(k for k, p in enumerate(preds) if (p.i, p.j) == (2, 1))
    preds[bad] = _unconfident(preds[bad], "j")
    with caplog.at_level("WARNING", logger="core.align.graph"):
        result = global_align(preds, AlignConfig(), view_names=NAMES)
    assert len(result.warnings) == 1 and isinstance(result.warnings, tuple)
    (warning,) = result.warnings
    assert "east.jpg" in warning and "south.jpg" in warning and "left out" in warning
    assert warning in caplog.text
    np.testing.assert_allclose(result.focals, FOCAL, rtol=1e-3)
    _relative_poses_match(result, truth)


def test_both_directions_of_a_pair_give_one_warning() -> None:
    preds, _ = exact_predictions()
    preds = [_unconfident(p, "i") if {p.i, p.j} == {0, 3} else p for p in preds]
    result = global_align(preds, AlignConfig(method="paper", niter=5), view_names=NAMES)
    assert len(result.warnings) == 1 and "north.jpg" in result.warnings[0]


def test_a_photo_without_any_confident_pixel_is_named() -> None:
    preds, _ = exact_predictions()
    preds = [_unconfident(p, "i" if p.i == 3 else "j") if 3 in (p.i, p.j) else p for p in preds]
    with pytest.raises(AlignmentError, match=r"west\.jpg: no pixel has a confidence above 3"):
        global_align(preds, AlignConfig(), view_names=NAMES)
    with pytest.raises(AlignmentError, match=r"view 3: no pixel"):  # no names known: the view number
        global_align(preds, AlignConfig())


def test_leaving_out_a_bridge_pair_is_a_clear_error() -> None:
    preds, _ = exact_predictions(3, pairs=[(1, 0), (2, 1)])  # a chain 0 - 1 - 2
    # in both directions of pair 1-2, view 1's pointmap has no confident pixel (one direction alone links)
    preds = [_unconfident(p, "i" if p.i == 1 else "j") if {p.i, p.j} == {1, 2} else p for p in preds]
    with pytest.raises(AlignmentError, match=r"south\.jpg share\(s\) no usable pair"):
        global_align(preds, AlignConfig(), view_names=NAMES[:3])


def test_every_pair_unusable_is_one_clear_error() -> None:
    preds, _ = exact_predictions(3)
    preds = [_unconfident(p, "i") for p in preds]
    with pytest.raises(AlignmentError, match="no pair has pixels with a confidence above 3"):
        global_align(preds, AlignConfig(), view_names=NAMES[:3])


def test_nan_names_the_photo() -> None:
    preds, _ = exact_predictions(3)
    bad = preds[0].pts3d_j.copy()
    bad[0, 0, 0] = np.nan
    preds[0] = PairPrediction(preds[0].i, preds[0].j, preds[0].pts3d_i, preds[0].conf_i, bad, preds[0].conf_j)
    with pytest.raises(AlignmentError, match=rf"{NAMES[preds[0].j]} contains NaN"):
        global_align(preds, AlignConfig(), view_names=NAMES[:3])
