"""Network behaviour beyond the goldens: batching, encode-once/decode-many, shapes, dtypes, autograd modes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.model.checkpoint import load_model
from core.model.configs import get_config
from core.model.dust3r import EncodedImages, build_model
from tests.reference_data import vendored

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VENDORED_DIR = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def vendored_model():
    return load_model(VENDORED_DIR / "tiny_linear_224")


@pytest.fixture(scope="module")
def vendored_images():
    inputs = vendored().inputs(224)
    return torch.from_numpy(inputs["img0"]), torch.from_numpy(inputs["img1"])


def random_model(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(get_config(name))


def assert_outputs_close(a, b, atol=1e-5, rtol=1e-5):
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            torch.testing.assert_close(x[key], y[key], atol=atol, rtol=rtol)


def test_batched_equals_unbatched(vendored_model, vendored_images):
    img0, img1 = vendored_images
    with torch.inference_mode():
        batched = vendored_model(torch.cat([img1, img0]), torch.cat([img0, img1]))
        first = vendored_model(img1, img0)
        second = vendored_model(img0, img1)
    for out_batched, out_first, out_second in zip(batched, first, second, strict=True):
        for key in out_batched:
            assert out_batched[key].shape[0] == 2
            torch.testing.assert_close(out_batched[key][:1], out_first[key], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(out_batched[key][1:], out_second[key], atol=1e-5, rtol=1e-5)


def test_encode_once_decode_many_equals_forward(vendored_model, vendored_images):
    img0, img1 = vendored_images
    with torch.inference_mode():
        enc = EncodedImages.cat([vendored_model.encode(img0), vendored_model.encode(img1)])
        decoded_10 = vendored_model.decode(enc[1], enc[0])
        decoded_01 = vendored_model.decode(enc[0:1], enc[1:2])
        forward_10 = vendored_model(img1, img0)
        forward_01 = vendored_model(img0, img1)
        # One batched decode of both ordered pairs from the cached encodings.
        both = vendored_model.decode(EncodedImages.cat([enc[1], enc[0]]), EncodedImages.cat([enc[0], enc[1]]))
    assert_outputs_close(decoded_10, forward_10, atol=1e-6, rtol=1e-6)
    assert_outputs_close(decoded_01, forward_01, atol=1e-6, rtol=1e-6)
    for out_both, out_10 in zip(both, decoded_10, strict=True):
        for key in out_both:
            torch.testing.assert_close(out_both[key][:1], out_10[key], atol=1e-5, rtol=1e-5)


def test_encoded_images_contract(vendored_model, vendored_images):
    with torch.inference_mode():
        enc = vendored_model.encode(vendored_images[0])
    assert enc.tokens.shape == (1, 14 * 14, 64)
    assert enc.pos.dtype == torch.int64 and enc.pos.shape == (1, 196, 2)
    assert enc.pos[0, 15].tolist() == [1, 1]  # row-major (row, col)
    assert enc.hw == (224, 224)


@pytest.mark.parametrize("name", ["tiny_linear", "tiny_dpt"])
@pytest.mark.parametrize(("hw1", "hw2"), [((64, 96), (96, 64)), ((48, 80), (48, 80)), ((80, 48), (32, 128))])
def test_any_multiple_of_16_landscape_or_portrait(name, hw1, hw2):
    model = random_model(name)
    torch.manual_seed(1)
    img1 = torch.rand(2, 3, *hw1) * 2 - 1
    img2 = torch.rand(2, 3, *hw2) * 2 - 1
    with torch.inference_mode():
        out1, out2 = model(img1, img2)
    assert out1["pts3d"].shape == (2, *hw1, 3) and out1["conf"].shape == (2, *hw1)
    assert out2["pts3d_in_other_view"].shape == (2, *hw2, 3) and out2["conf"].shape == (2, *hw2)
    for tensor in (*out1.values(), *out2.values()):
        assert tensor.dtype == torch.float32 and torch.isfinite(tensor).all()
    assert (out1["conf"] >= 1).all() and (out2["conf"] >= 1).all()


def test_bad_inputs_raise_value_error():
    model = random_model("tiny_linear")
    with torch.inference_mode():
        with pytest.raises(ValueError, match="multiple of the patch size"):
            model.encode(torch.zeros(1, 3, 64, 70))
        with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
            model.encode(torch.zeros(1, 4, 64, 64))
        enc1 = model.encode(torch.zeros(2, 3, 32, 32))
        enc2 = model.encode(torch.zeros(1, 3, 32, 32))
        with pytest.raises(ValueError, match="batch sizes"):
            model.decode(enc1, enc2)
        with pytest.raises(ValueError, match="patch grid"):
            model.decode(enc2, EncodedImages(enc2.tokens, enc2.pos, (32, 48)))
        with pytest.raises(ValueError, match="different sizes"):
            EncodedImages.cat([enc2, model.encode(torch.zeros(1, 3, 32, 48))])


def test_bfloat16_weights_give_float32_outputs_close_to_float32(vendored_model, vendored_images):
    img0, img1 = vendored_images
    model16 = load_model(VENDORED_DIR / "tiny_linear_224", dtype=torch.bfloat16)
    assert model16.dtype == torch.bfloat16
    with torch.inference_mode():
        enc = model16.encode(img0)
        out16 = model16(img1, img0)
        out32 = vendored_model(img1, img0)
    assert enc.tokens.dtype == torch.bfloat16
    pts16, pts32 = out16[0]["pts3d"], out32[0]["pts3d"]
    assert pts16.dtype == torch.float32 and out16[1]["conf"].dtype == torch.float32
    # bfloat16 has 8 mantissa bits: a loose agreement, far tighter than the values' spread.
    assert (pts16 - pts32).abs().median() < 0.05 * pts32.abs().median()


def test_works_with_grad_after_inference_mode():
    """RoPE caches built under inference_mode must not break a later autograd-enabled call."""
    model = random_model("tiny_linear")
    img = torch.rand(1, 3, 32, 48)
    with torch.inference_mode():
        model(img, img)
    out1, _ = model(img, img)
    out1["pts3d"].sum().backward()
    assert model.patch_embed.proj.weight.grad is not None


def test_no_grad_and_inference_mode_agree():
    model = random_model("tiny_dpt")
    img1, img2 = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 48, 32)
    with torch.no_grad():
        a = model(img1, img2)
    with torch.inference_mode():
        b = model(img1, img2)
    assert_outputs_close(a, b, atol=0, rtol=0)


def test_autocast_bfloat16_runs_and_returns_float32():
    """The predictor's half-precision path uses torch.autocast; outputs stay float32."""
    model = random_model("tiny_dpt")
    img1, img2 = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 48, 32)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        out1, out2 = model(img1, img2)
    with torch.inference_mode():
        ref1, _ = model(img1, img2)
    assert out1["pts3d"].dtype == torch.float32 and out2["conf"].dtype == torch.float32
    assert (out1["pts3d"] - ref1["pts3d"]).abs().median() < 0.05 * ref1["pts3d"].abs().median()
