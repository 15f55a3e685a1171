"""Our network + loader reproduce the official outputs for the tiny models (reference README section 4).

With ../shared/reference every output, both checkpoint formats and the intermediates are compared; without it
the vendored subset in tests/data (tests.reference_data): the 512 linear model on the portrait/landscape pair
(1, 0) (every 5th row and column of the golden), the 224 model on pair (1, 0), the tokens of the 512 linear
model (every 5th token) and the DPT head on the official decoder tokens. Inputs are the official
``load_images`` tensors (``Reference.inputs``) so that these tests do not depend on our image loader.
Tolerances are the reference README's: |ours - golden| <= atol + 1e-4 |golden| (atol 1e-4 linear, 1e-3 DPT)
and a mean absolute difference 10x tighter.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.model.checkpoint import load_model
from tests.reference_data import reference, subsample
from tests.reference_data import vendored as vendored_reference

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REF = reference()
# Every file of reference/outputs: (model, image size, view1 index, view2 index).
GOLDEN_PAIRS = [
    ("tiny_linear", 512, 1, 0),
    ("tiny_linear", 512, 0, 1),
    *[("tiny_linear_224", 224, i, j) for i, j in [(1, 0), (2, 0), (2, 1), (0, 1), (0, 2), (1, 2)]],
    ("tiny_dpt", 512, 1, 0),
    ("tiny_dpt", 512, 0, 1),
    ("tiny_dpt", 512, 2, 1),
]
OUTPUT_KEYS = ("pred1_pts3d", "pred1_conf", "pred2_pts3d_in_other_view", "pred2_conf")
FORMATS = ("pth", "hf_folder")
# the cases this tree can run: the full reference all of them, the vendored subset those it holds
CASES = [
    (name, size, i, j, fmt)
    for name, size, i, j in GOLDEN_PAIRS
    for fmt in FORMATS
    if REF.has(f"outputs/{name}_pair{i}{j}.npz") and REF.model(name, fmt) is not None
]
INTERMEDIATES = [
    n
    for n in ("tiny_linear", "tiny_dpt")
    if (REF.model(n, "pth") or REF.model(n, "hf_folder")) and REF.has(f"intermediates/{n}_pair10.npz")
]


_model_cache: dict[tuple[str, str], torch.nn.Module] = {}


def assert_matches_golden(ours: dict[str, np.ndarray], golden, atol: float, stride: int = 1) -> None:
    """README tolerance: elementwise atol + 1e-4 |golden|, and the mean abs difference below atol / 10
    (on every ``stride``-th row and column of our maps when the golden keeps only those)."""
    for key in OUTPUT_KEYS:
        if key not in golden:
            continue
        want = golden[key]
        got = subsample(ours[key], stride)
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


def cached_model(name: str, fmt: str):
    key = (str(REF.root), name, fmt)
    if key not in _model_cache:
        _model_cache[key] = load_model(REF.model(name, fmt))
    return _model_cache[key]


def test_golden_list_covers_every_reference_output():
    on_disk = sorted(p.name for p in REF.outputs())
    listed = sorted(f"{name}_pair{i}{j}.npz" for name, _, i, j in GOLDEN_PAIRS)
    if REF.full:
        assert on_disk == listed
    else:  # the vendored subset: the portrait/landscape pair of each model
        assert on_disk == ["tiny_dpt_pair10.npz", "tiny_linear_224_pair10.npz", "tiny_linear_pair10.npz"]
    assert {(name, size, 1, 0) for name, size, *_ in CASES} >= {("tiny_linear", 512, 1, 0)}


@pytest.mark.parametrize(("name", "size", "i", "j", "fmt"), CASES, ids=lambda v: str(v))
def test_matches_reference_outputs(name, size, i, j, fmt):
    golden = REF.golden(name, i, j)
    inputs = REF.inputs(size)
    assert golden["pair"].tolist() == [i, j]
    model = cached_model(name, fmt)
    ours = run_pair(model, inputs[f"img{i}"], inputs[f"img{j}"])
    assert ours["pred1_pts3d"].shape[:2] == tuple(golden["true_shape1"])
    assert ours["pred2_conf"].shape == tuple(golden["true_shape2"])
    assert_matches_golden(ours, golden.arrays, atol=1e-3 if "dpt" in name else 1e-4, stride=golden.stride)


@pytest.mark.parametrize("fmt", ["pth", "hf_folder", "safetensors"])
def test_tiny_linear_224_matches_golden_from_every_checkpoint_form(fmt):
    """The vendored 224 model (in every clone) in its three forms, on the full-size golden of pair (1, 0)."""
    vendored = vendored_reference()
    golden = vendored.golden("tiny_linear_224", 1, 0)
    inputs = vendored.inputs(224)
    model = load_model(vendored.model("tiny_linear_224", fmt))
    assert golden.stride == 1
    assert_matches_golden(run_pair(model, inputs["img1"], inputs["img0"]), golden.arrays, atol=1e-4)


def test_dpt_head_matches_reference_on_the_official_decoder_tokens():
    """Head 1 of tiny_dpt fed the official hooked tokens of pair (1, 0) (view 1 is the 384x512 portrait).

    Only the hooks [0, 6, 9, 12] carry tokens; every other entry of the layer list is NaN, so a wrong hook
    shows up as NaN. Runs from the vendored head weights, or from the full model."""
    from safetensors.torch import load_file

    from core.model.configs import get_config
    from core.model.heads import build_head
    from core.model.heads.postprocess import raw_to_pointmap

    inter = REF.npz("intermediates/tiny_dpt_pair10.npz")
    config = get_config("tiny_dpt")
    head = build_head(config)
    if REF.has("models/tiny_dpt/downstream_head1.safetensors"):
        weights = load_file(REF.path("models/tiny_dpt/downstream_head1.safetensors"))
    else:
        weights = load_file(REF.path("models/tiny_dpt/model.safetensors"))
    prefix = "downstream_head1."
    result = head.load_state_dict(
        {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}, strict=False
    )
    assert not result.unexpected_keys
    assert all(".scratch.layer_rn." in k for k in result.missing_keys)  # tied aliases of layer{k}_rn
    H, W = (int(v) for v in inter["true_shape1"].reshape(2))
    hooked = {
        0: "enc_norm__call0",
        6: "dec_blocks_5__call0_out0",
        9: "dec_blocks_8__call0_out0",
        12: "dec_norm__call0",
    }
    nan = torch.full((1, H * W // 256, config.dec_embed_dim), float("nan"))
    layers = [torch.from_numpy(inter[hooked[k]]) if k in hooked else nan for k in range(config.dec_depth + 1)]
    with torch.inference_mode():
        pts, conf = raw_to_pointmap(head(layers, (H // 16, W // 16)), config.conf_vmin, config.conf_vmax)
    golden = REF.golden("tiny_dpt", 1, 0)
    assert pts.shape[1:3] == (H, W) == tuple(golden["true_shape1"])
    ours = {"pred1_pts3d": pts[0].numpy(), "pred1_conf": conf[0].numpy()}
    assert_matches_golden(ours, {k: golden[k] for k in ours}, atol=1e-3, stride=golden.stride)


@pytest.mark.parametrize("name", INTERMEDIATES)
def test_token_intermediates_match(name):
    """Encoder and decoder tokens of pair (1, 0) within the README's token tolerance (atol 1e-4)
    (every ``token_stride``-th token when the vendored subset keeps only those)."""
    inter = REF.npz(f"intermediates/{name}_pair10.npz")
    step = int(inter.pop("token_stride", 1))

    def tokens(x: torch.Tensor) -> np.ndarray:  # (1, N, C) -> the tokens the reference file keeps
        return x.numpy()[:, ::step]

    inputs = REF.inputs(512)
    model = cached_model(name, "pth" if REF.model(name, "pth") else "hf_folder")
    with torch.inference_mode():
        enc1 = model.encode(torch.from_numpy(inputs["img1"]))
        enc2 = model.encode(torch.from_numpy(inputs["img0"]))
        np.testing.assert_array_equal(tokens(enc1.pos), inter["patch_embed__call0_out1"])
        np.testing.assert_array_equal(tokens(enc2.pos), inter["patch_embed__call1_out1"])
        np.testing.assert_allclose(tokens(enc1.tokens), inter["enc_norm__call0"], atol=1e-4, rtol=0)
        np.testing.assert_allclose(tokens(enc2.tokens), inter["enc_norm__call1"], atol=1e-4, rtol=0)
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
            tokens(layers1[layer + 1]), inter[f"dec_blocks_{layer}__call0_out0"], atol=1e-4
        )
        np.testing.assert_allclose(
            tokens(layers2[layer + 1]), inter[f"dec_blocks2_{layer}__call0_out0"], atol=1e-4
        )
    np.testing.assert_allclose(tokens(layers1[-1]), inter["dec_norm__call0"], atol=1e-4)
    np.testing.assert_allclose(tokens(layers2[-1]), inter["dec_norm__call1"], atol=1e-4)
