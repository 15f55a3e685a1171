"""Our network + loader reproduce the official outputs (../shared/reference/outputs) for the tiny models.

Inputs are the official ``load_images`` tensors stored in ``inputs_<size>.npz`` so that these tests do not
depend on our image loader. Tolerances are the reference README's: |ours - golden| <= atol + 1e-4 |golden|
(atol 1e-4 linear, 1e-3 DPT) and a mean absolute difference 10x tighter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.model.checkpoint import load_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Every file of reference/outputs: (model, image size, view1 index, view2 index).
GOLDEN_PAIRS = [
    ("tiny_linear", 512, 1, 0),
    ("tiny_linear", 512, 0, 1),
    *[("tiny_linear_224", 224, i, j) for i, j in [(1, 0), (2, 0), (2, 1), (0, 1), (0, 2), (1, 2)]],
    ("tiny_dpt", 512, 1, 0),
    ("tiny_dpt", 512, 0, 1),
    ("tiny_dpt", 512, 2, 1),
]
VENDORED_DIR = Path(__file__).resolve().parents[1] / "data"
OUTPUT_KEYS = ("pred1_pts3d", "pred1_conf", "pred2_pts3d_in_other_view", "pred2_conf")
FORMATS = ("pth", "hf_folder")


_model_cache: dict[tuple[str, str], torch.nn.Module] = {}


def assert_matches_golden(ours: dict[str, np.ndarray], golden, atol: float) -> None:
    """README tolerance: elementwise atol + 1e-4 |golden|, and the mean abs difference below atol / 10."""
    for key in OUTPUT_KEYS:
        want = golden[key]
        got = ours[key]
        assert got.shape == want.shape, key
        assert got.dtype == np.float32, key
        diff = np.abs(got - want)
        bound = atol + 1e-4 * np.abs(want)
        worst = np.unravel_index(np.argmax(diff - bound), diff.shape)
        assert np.all(diff <= bound), f"{key}: diff {diff[worst]} > {bound[worst]} at {worst}"
        assert diff.mean() <= atol / 10, f"{key}: mean abs diff {diff.mean()}"


def run_pair(model, img1: np.ndarray, img2: np.ndarray) -> dict[str, np.ndarray]:
    """Forward one pair (batch of one) and return arrays named as in the golden files."""
    with torch.inference_mode():
        out1, out2 = model(torch.from_numpy(img1), torch.from_numpy(img2))
    return {
        "pred1_pts3d": out1["pts3d"][0].numpy(),
        "pred1_conf": out1["conf"][0].numpy(),
        "pred2_pts3d_in_other_view": out2["pts3d_in_other_view"][0].numpy(),
        "pred2_conf": out2["conf"][0].numpy(),
    }


def checkpoint_path(models_dir: Path, name: str, fmt: str) -> Path:
    return models_dir / name / f"{name}.pth" if fmt == "pth" else models_dir / name


def cached_model(models_dir: Path, name: str, fmt: str):
    key = (str(models_dir), name, fmt)
    if key not in _model_cache:
        _model_cache[key] = load_model(checkpoint_path(models_dir, name, fmt))
    return _model_cache[key]


def test_golden_list_covers_every_reference_output(reference_dir):
    on_disk = sorted(p.name for p in (reference_dir / "outputs").glob("*.npz"))
    listed = sorted(f"{name}_pair{i}{j}.npz" for name, _, i, j in GOLDEN_PAIRS)
    assert on_disk == listed


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("name", "size", "i", "j"), GOLDEN_PAIRS, ids=lambda v: str(v))
def test_matches_reference_outputs(reference_dir, name, size, i, j, fmt):
    golden = np.load(reference_dir / "outputs" / f"{name}_pair{i}{j}.npz")
    inputs = np.load(reference_dir / f"inputs_{size}.npz")
    assert golden["pair"].tolist() == [i, j]
    model = cached_model(reference_dir / "models", name, fmt)
    ours = run_pair(model, inputs[f"img{i}"], inputs[f"img{j}"])
    assert ours["pred1_pts3d"].shape[:2] == tuple(golden["true_shape1"])
    assert ours["pred2_conf"].shape == tuple(golden["true_shape2"])
    assert_matches_golden(ours, golden, atol=1e-3 if "dpt" in name else 1e-4)


@pytest.mark.parametrize(
    "source", ["tiny_linear_224/tiny_linear_224.pth", "tiny_linear_224", "tiny_linear_224/model.safetensors"]
)
def test_vendored_tiny_linear_224_matches_golden(source):
    """Runs everywhere (no ../shared needed): the vendored subset in tests/data."""
    golden = np.load(VENDORED_DIR / "tiny_linear_224_pair10.npz")
    inputs = np.load(VENDORED_DIR / "inputs_224_img01.npz")
    model = load_model(VENDORED_DIR / source)
    assert_matches_golden(run_pair(model, inputs["img1"], inputs["img0"]), golden, atol=1e-4)


@pytest.mark.parametrize("name", ["tiny_linear", "tiny_dpt"])
def test_token_intermediates_match(reference_dir, name):
    """Encoder and decoder tokens of pair (1, 0) within the README's token tolerance (atol 1e-4)."""
    inter = np.load(reference_dir / "intermediates" / f"{name}_pair10.npz")
    inputs = np.load(reference_dir / "inputs_512.npz")
    model = cached_model(reference_dir / "models", name, "pth")
    with torch.inference_mode():
        enc1 = model.encode(torch.from_numpy(inputs["img1"]))
        enc2 = model.encode(torch.from_numpy(inputs["img0"]))
        np.testing.assert_array_equal(enc1.pos.numpy(), inter["patch_embed__call0_out1"])
        np.testing.assert_array_equal(enc2.pos.numpy(), inter["patch_embed__call1_out1"])
        np.testing.assert_allclose(enc1.tokens.numpy(), inter["enc_norm__call0"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(enc2.tokens.numpy(), inter["enc_norm__call1"], atol=1e-4, rtol=0)
        from core.model.decoder import run_decoders

        rope = model.rope
        head_dim = model.config.dec_embed_dim // model.config.dec_num_heads
        layers1, layers2 = run_decoders(
            model.dec_blocks,
            model.dec_blocks2,
            model.decoder_embed,
            model.dec_norm,
            enc1.tokens,
            enc2.tokens,
            rope.tables(enc1.pos, head_dim, torch.float32),
            rope.tables(enc2.pos, head_dim, torch.float32),
        )
    depth = model.config.dec_depth
    for layer in range(depth - 1):  # the last layer is stored before dec_norm, ours after
        np.testing.assert_allclose(
            layers1[layer + 1].numpy(), inter[f"dec_blocks_{layer}__call0_out0"], atol=1e-4
        )
        np.testing.assert_allclose(
            layers2[layer + 1].numpy(), inter[f"dec_blocks2_{layer}__call0_out0"], atol=1e-4
        )
    np.testing.assert_allclose(layers1[-1].numpy(), inter["dec_norm__call0"], atol=1e-4)
    np.testing.assert_allclose(layers2[-1].numpy(), inter["dec_norm__call1"], atol=1e-4)
