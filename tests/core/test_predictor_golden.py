"""Pair prediction end to end against the official outputs: our loader + our network + encode-once decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.config import InferenceConfig
from core.inference.images import load_images
from core.inference.pairs import make_pairs
from core.inference.predictor import STRATEGIES, predict_pairs

VENDORED = Path(__file__).resolve().parents[1] / "data"

# (model name, image size, checkpoint file relative to the model folder, or "" for the Hugging Face folder)
CASES = [
    ("tiny_linear", 512, "tiny_linear.pth"),
    ("tiny_dpt", 512, ""),
    ("tiny_linear_224", 224, "model.safetensors"),
]
NAMES = ("pred1_pts3d", "pred1_conf", "pred2_pts3d_in_other_view", "pred2_conf")


def _atol(name: str) -> float:
    return 1e-3 if name == "tiny_dpt" else 1e-4


def compare_to_golden(pred_arrays: dict, golden, atol: float) -> None:
    """``|ours - golden| <= atol + 1e-4 |golden|`` and a mean-abs check 10x tighter (reference README section 4)."""
    for key in ("pair", "true_shape1", "true_shape2"):
        np.testing.assert_array_equal(pred_arrays[key], golden[key])
        assert pred_arrays[key].dtype == golden[key].dtype, key
    for key in NAMES:
        ours, ref = pred_arrays[key], golden[key]
        assert ours.dtype == np.float32 and ours.shape == ref.shape, key
        err = np.abs(ours.astype(np.float64) - ref)
        assert (err <= atol + 1e-4 * np.abs(ref)).all(), f"{key}: max abs err {err.max()}"
        assert err.mean() <= (atol + 1e-4 * np.abs(ref).mean()) / 10, f"{key}: mean abs err {err.mean()}"


@pytest.mark.parametrize(("name", "size", "checkpoint"), CASES)
def test_pairs_match_official_outputs(reference_dir: Path, name: str, size: int, checkpoint: str) -> None:
    load_model = pytest.importorskip("core.model.checkpoint").load_model
    model = load_model(reference_dir / "models" / name / checkpoint)
    images = load_images(sorted((reference_dir / "images").glob("img*.png")), size)
    goldens = sorted((reference_dir / "outputs").glob(f"{name}_pair??.npz"))
    assert goldens, f"no golden outputs for {name}"
    saved = {(int(n[-6]), int(n[-5])) for n in (p.name for p in goldens)}
    # the saved pairs in graph order (all six for the 224 model), batched where shapes allow
    pairs = [p for p in make_pairs(len(images), "complete") if p in saved]
    preds = predict_pairs(
        model, images, pairs, InferenceConfig(image_size=size, device="cpu", precision="fp32", batch_size=2)
    )
    assert [(p.i, p.j) for p in preds] == pairs
    by_pair = {(p.i, p.j): p for p in preds}
    for path in goldens:
        golden = np.load(path)
        i, j = (int(v) for v in golden["pair"])
        compare_to_golden(by_pair[(i, j)].to_npz_dict(), golden, _atol(name))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_vendored_pair_matches_golden(strategy: str) -> None:
    """Runs without ../shared: the vendored tiny 224 model, its input tensors and the golden of pair (1, 0)."""
    load_model = pytest.importorskip("core.model.checkpoint").load_model
    model = load_model(VENDORED / "tiny_linear_224")
    inputs = np.load(VENDORED / "inputs_224_img01.npz")
    images = [torch.from_numpy(inputs[f"img{i}"]) for i in range(2)]
    config = InferenceConfig(image_size=224, device="cpu", precision="fp32")
    preds = predict_pairs(model, images, make_pairs(2), config, strategy=strategy)
    assert [(p.i, p.j) for p in preds] == [(1, 0), (0, 1)]
    compare_to_golden(preds[0].to_npz_dict(), np.load(VENDORED / "tiny_linear_224_pair10.npz"), 1e-4)
