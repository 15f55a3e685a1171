"""load_model on every supported layout, built from random tiny models (no reference data needed)."""

from __future__ import annotations

import argparse
import json
import logging

import pytest
import torch
from safetensors.torch import save_file

from core.errors import ConfigError, DeviceError
from core.model.checkpoint import LoadReport, load_model
from core.model.configs import get_config
from core.model.dust3r import build_model
from tests.reference_data import reference

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REF = reference()

COMMON = (
    "pos_embed='RoPE100', patch_embed_cls='ManyAR_PatchEmbed', img_size=(512, 512), output_mode='pts3d', "
    "depth_mode=('exp', -inf, inf), conf_mode=('exp', 1, inf), enc_embed_dim=64, enc_depth=2, enc_num_heads=2, "
    "dec_embed_dim=48, dec_num_heads=2"
)
TINY_DPT_ARGS = f"AsymmetricCroCo3DStereo({COMMON}, head_type='dpt', dec_depth=12)"
TINY_LINEAR_ARGS = f"AsymmetricCroCo3DStereo({COMMON}, head_type='linear', dec_depth=2)"
_MAST3R_COMMON = COMMON.replace("output_mode='pts3d'", "output_mode='pts3d+desc24'")
MAST3R_ARGS = (
    f"AsymmetricMASt3R({_MAST3R_COMMON}, head_type='catmlp+dpt', dec_depth=12, two_confs=True, "
    "desc_conf_mode=('exp', 0, inf))"
)
HF_CONFIG = {
    "conf_mode": ["exp", 1, float("inf")],
    "dec_depth": 12,
    "dec_embed_dim": 48,
    "dec_num_heads": 2,
    "depth_mode": ["exp", float("-inf"), float("inf")],
    "enc_depth": 2,
    "enc_embed_dim": 64,
    "enc_num_heads": 2,
    "freeze": "none",
    "head_type": "dpt",
    "img_size": [512, 512],
    "landscape_only": False,
    "output_mode": "pts3d",
    "patch_embed_cls": "PatchEmbedDust3R",
    "pos_embed": "RoPE100",
}


@pytest.fixture(scope="module")
def tiny_dpt():
    torch.manual_seed(7)
    model = build_model(get_config("tiny_dpt"))
    with torch.no_grad():  # non-trivial biases/norms so that a dropped or swapped weight shows
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(3)
    return torch.rand(1, 3, 48, 64) * 2 - 1, torch.rand(1, 3, 64, 48) * 2 - 1


def save_pth(path, model_text, state_dict):
    torch.save(
        {"args": argparse.Namespace(model=model_text, seed=0, lr=1e-4), "model": state_dict, "epoch": 3}, path
    )
    return path


def assert_same_outputs(model_a, model_b, images):
    with torch.inference_mode():
        out_a, out_b = model_a(*images), model_b(*images)
    for a, b in zip(out_a, out_b, strict=True):
        for key in a:
            torch.testing.assert_close(a[key], b[key], atol=0, rtol=0)


def test_pth_round_trip(tmp_path, tiny_dpt, images):
    path = save_pth(tmp_path / "tiny.pth", TINY_DPT_ARGS, tiny_dpt.state_dict())
    model = load_model(path)
    assert_same_outputs(model, tiny_dpt, images)
    report = model.load_report
    assert isinstance(report, LoadReport)
    assert (report.file_format, report.config_name, report.aliases_added) == ("pth", "tiny_dpt", 0)
    assert not model.training
    assert all(not p.requires_grad and p.device.type == "cpu" for p in model.parameters())
    assert "tiny_dpt" in report.summary()


def test_hugging_face_folder_and_file(tmp_path, tiny_dpt, images):
    state = {k: v.contiguous() for k, v in tiny_dpt.state_dict().items() if ".scratch.layer_rn." not in k}
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(HF_CONFIG, indent=2))  # writes Infinity tokens
    assert "Infinity" in (tmp_path / "config.json").read_text()
    for source in (tmp_path, tmp_path / "model.safetensors"):
        model = load_model(source)
        assert_same_outputs(model, tiny_dpt, images)
        assert model.load_report.file_format == "safetensors"
        assert model.load_report.aliases_added == 8
        head = model.downstream_head1.dpt.scratch
        assert head.layer_rn[0].weight is head.layer1_rn.weight


def test_hugging_face_folder_with_pytorch_model_bin(tmp_path, tiny_dpt, images):
    torch.save(tiny_dpt.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps(HF_CONFIG))
    assert_same_outputs(load_model(tmp_path), tiny_dpt, images)


def test_folder_with_a_single_pth(tmp_path, tiny_dpt):
    save_pth(tmp_path / "checkpoint-final.pth", TINY_DPT_ARGS, tiny_dpt.state_dict())
    assert load_model(tmp_path).load_report.file_format == "pth"


def test_mast3r_checkpoint_loads_its_dust3r_part(tmp_path, tiny_dpt, images, caplog):
    state = dict(tiny_dpt.state_dict())
    for head in (1, 2):
        prefix = f"downstream_head{head}.head_local_features."
        state[prefix + "fc1.weight"] = torch.randn(32, 112)
        state[prefix + "fc1.bias"] = torch.randn(32)
        state[prefix + "fc2.weight"] = torch.randn(6400, 32)
        state[prefix + "fc2.bias"] = torch.randn(6400)
    path = save_pth(tmp_path / "mast3r.pth", MAST3R_ARGS, state)
    with caplog.at_level(logging.WARNING, logger="core.model.checkpoint"):
        model = load_model(path)
    report = model.load_report
    assert report.is_mast3r and report.class_name == "AsymmetricMASt3R"
    assert len(report.ignored_keys) == 8
    assert all(".head_local_features." in k for k in report.ignored_keys)
    assert "descriptor-head" in caplog.text
    assert_same_outputs(model, tiny_dpt, images)


def test_single_decoder_checkpoint_copies_dec_blocks(tmp_path):
    torch.manual_seed(11)
    source = build_model(get_config("tiny_linear"))
    state = {k: v for k, v in source.state_dict().items() if not k.startswith("dec_blocks2")}
    model = load_model(save_pth(tmp_path / "croco.pth", TINY_LINEAR_ARGS, state))
    assert model.load_report.copied_dec_blocks2 == sum(k.startswith("dec_blocks.") for k in state)
    for (name1, p1), (name2, p2) in zip(
        model.dec_blocks.named_parameters(), model.dec_blocks2.named_parameters(), strict=True
    ):
        assert name1 == name2 and torch.equal(p1, p2)


def test_ddp_prefix_is_stripped(tmp_path, tiny_dpt, images):
    state = {"module." + k: v for k, v in tiny_dpt.state_dict().items()}
    assert_same_outputs(load_model(save_pth(tmp_path / "ddp.pth", TINY_DPT_ARGS, state)), tiny_dpt, images)


def test_landscape_only_true_is_accepted_and_never_transposes(tmp_path, images):
    torch.manual_seed(5)
    source = build_model(get_config("tiny_linear"))
    text = TINY_LINEAR_ARGS[:-1] + ", landscape_only=True)"
    model = load_model(save_pth(tmp_path / "l.pth", text, source.state_dict()))
    with torch.inference_mode():
        out1, _ = model(images[1], images[0])  # portrait view 1
    assert out1["pts3d"].shape == (1, 64, 48, 3)


def test_dtype_and_device_options(tmp_path, tiny_dpt):
    path = save_pth(tmp_path / "tiny.pth", TINY_DPT_ARGS, tiny_dpt.state_dict())
    assert load_model(path, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ConfigError):
        load_model(path, dtype=torch.int32)
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError):
            load_model(path, device="cuda")
    with pytest.raises(DeviceError):
        load_model(path, device="no-such-device")


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in ("tiny_linear", "tiny_linear_224", "tiny_dpt")
        if REF.model(n, "pth") and REF.model(n, "hf_folder")
    ],
)
def test_reference_formats_hold_identical_weights(name):
    """The .pth and the Hugging Face folder of a tiny reference model (all three with ../shared/reference,
    the vendored tiny_linear_224 without)."""
    from_pth = load_model(REF.model(name, "pth"))
    from_hf = load_model(REF.model(name, "hf_folder"))
    assert from_pth.load_report.config_name == name == from_hf.load_report.config_name
    state_pth, state_hf = from_pth.state_dict(), from_hf.state_dict()
    assert state_pth.keys() == state_hf.keys()
    assert all(torch.equal(state_pth[k], state_hf[k]) for k in state_pth)
