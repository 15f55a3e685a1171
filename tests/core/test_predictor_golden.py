"""Pair prediction end to end against the official outputs: our loader + our network + encode-once decoding.

Runs on the full ../shared/reference when present (3 photos, every saved pair), else on the vendored subset
(tests.reference_data: photos 0 and 1, the golden of pair (1, 0), every 5th row and column at 512).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.config import InferenceConfig
from core.graphs.photos import make_pairs
from core.inference.images import load_images
from core.inference.predictor import STRATEGIES, predict_pairs
from core.model.checkpoint import load_model
from tests.reference_data import reference, subsample, vendored

REF = reference()
# (model name, image size, checkpoint form): the first form this tree holds
FORMS = [
    ("tiny_linear", 512, ("pth", "hf_folder")),
    ("tiny_dpt", 512, ("hf_folder",)),
    ("tiny_linear_224", 224, ("safetensors",)),
]
CASES = [
    (name, size, next(f for f in forms if REF.model(name, f)))
    for name, size, forms in FORMS
    if any(REF.model(name, f) for f in forms) and REF.has(f"outputs/{name}_pair10.npz")
]
NAMES = ("pred1_pts3d", "pred1_conf", "pred2_pts3d_in_other_view", "pred2_conf")


def _atol(name: str) -> float:
    return 1e-3 if name == "tiny_dpt" else 1e-4


def compare_to_golden(pred_arrays: dict, golden, atol: float, stride: int = 1) -> None:
    """``|ours - golden| <= atol + 1e-4 |golden|`` and a mean-abs check 10x tighter (reference README section 4),
    on every ``stride``-th row and column of ours when the golden keeps only those."""
    for key in ("pair", "true_shape1", "true_shape2"):
        np.testing.assert_array_equal(pred_arrays[key], golden[key])
        assert pred_arrays[key].dtype == golden[key].dtype, key
    for key in NAMES:
        ours, ref = subsample(pred_arrays[key], stride), golden[key]
        assert ours.dtype == np.float32 and ours.shape == ref.shape, key
        err = np.abs(ours.astype(np.float64) - ref)
        assert (err <= atol + 1e-4 * np.abs(ref)).all(), f"{key}: max abs err {err.max()}"
        assert err.mean() <= (atol + 1e-4 * np.abs(ref).mean()) / 10, f"{key}: mean abs err {err.mean()}"


@pytest.mark.parametrize(("name", "size", "form"), CASES)
def test_pairs_match_official_outputs(name: str, size: int, form: str) -> None:
    model = load_model(REF.model(name, form))
    images = load_images(REF.images(), size)
    goldens = {
        (i, j): REF.golden(name, i, j) for i in range(len(images)) for j in range(len(images)) if i != j
    }
    goldens = {pair: g for pair, g in goldens.items() if g is not None}
    assert (1, 0) in goldens, f"no golden outputs for {name}"
    # the saved pairs in graph order (all six for the 224 model), batched where shapes allow
    pairs = [p for p in make_pairs(len(images), "complete") if p in goldens]
    preds = predict_pairs(
        model, images, pairs, InferenceConfig(image_size=size, device="cpu", precision="fp32", batch_size=2)
    )
    assert [(p.i, p.j) for p in preds] == pairs
    for pred in preds:
        golden = goldens[(pred.i, pred.j)]
        compare_to_golden(pred.to_npz_dict(), golden.arrays, _atol(name), golden.stride)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_vendored_pair_matches_golden(strategy: str) -> None:
    """Every strategy on the vendored tiny 224 model, its input tensors and the golden of pair (1, 0)."""
    ref = vendored()
    model = load_model(ref.model("tiny_linear_224", "hf_folder"))
    inputs = ref.inputs(224)
    images = [torch.from_numpy(inputs[f"img{i}"]) for i in range(2)]
    config = InferenceConfig(image_size=224, device="cpu", precision="fp32")
    preds = predict_pairs(model, images, make_pairs(2), config, strategy=strategy)
    assert [(p.i, p.j) for p in preds] == [(1, 0), (0, 1)]
    compare_to_golden(preds[0].to_npz_dict(), ref.golden("tiny_linear_224", 1, 0).arrays, 1e-4)
