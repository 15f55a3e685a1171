"""Our configs build exactly the official state-dict layouts (../shared/reference/checkpoints.json, fixtures.json).

Everything is built on torch's meta device: no weights are allocated, so the ViT-Large layouts are cheap.
"""

from __future__ import annotations

import pytest
import torch

from core.model.checkpoint_arch import MAST3R_EXTRA_PREFIXES, architecture_from_kwargs, with_dpt_widths_from
from core.model.configs import get_config
from core.model.constructor_args import parse_constructor
from core.model.dust3r import build_model
from core.model.state_dict_remap import compare_state_dict, remap_state_dict
from tests.reference_data import reference

REAL = (
    "DUSt3R_ViTLarge_BaseDecoder_224_linear",
    "DUSt3R_ViTLarge_BaseDecoder_512_linear",
    "DUSt3R_ViTLarge_BaseDecoder_512_dpt",
    "MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric",
)
TINY = ("tiny_linear", "tiny_linear_224", "tiny_dpt")


@pytest.fixture(scope="module")
def checkpoints():
    return reference().json("checkpoints.json")["checkpoints"]


@pytest.fixture(scope="module")
def tiny_fixtures():
    return reference().json("fixtures.json")["models"]


def meta_state_dict(entries) -> dict[str, torch.Tensor]:
    """A state dict of meta tensors from a manifest list of {key, shape}."""
    return {e["key"]: torch.empty(e["shape"], device="meta") for e in entries}


def layout(model) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in model.state_dict().items()]


def config_from_string(text: str):
    return architecture_from_kwargs(*parse_constructor(text))


@pytest.mark.parametrize("name", REAL)
@pytest.mark.parametrize("source", ["ckpt_args_model", "load_model_instantiates", "hf_config_json"])
def test_real_checkpoint_layouts(checkpoints, name, source):
    entry = checkpoints[name]
    declared = entry[source]
    arch = (
        architecture_from_kwargs(None, declared)
        if source == "hf_config_json"
        else config_from_string(declared)
    )
    assert arch.is_mast3r == name.startswith("MASt3R")
    model = build_model(arch.config, device="meta")
    expected = [(e["key"], e["shape"]) for e in entry["state_dict"]]
    if arch.is_mast3r:
        expected = [(k, s) for k, s in expected if not k.startswith(MAST3R_EXTRA_PREFIXES)]
    else:
        assert arch.config == get_config(name)
        assert sum(p.numel() for p in model.parameters()) == entry["num_parameters"]
    assert layout(model) == expected  # same keys, same shapes, same order


@pytest.mark.parametrize("name", REAL)
def test_safetensors_form_loads_after_restoring_tied_aliases(checkpoints, name):
    """save_pretrained drops the tied layer_rn.K keys; the remap restores them and nothing else differs."""
    entry = checkpoints[name]
    arch = config_from_string(entry["load_model_instantiates"])
    full = meta_state_dict(entry["state_dict"])
    safetensors_form = {k: v for k, v in full.items() if ".scratch.layer_rn." not in k}
    drop = MAST3R_EXTRA_PREFIXES if arch.is_mast3r else ()
    remapped, notes = remap_state_dict(safetensors_form, drop_prefixes=drop)
    config = with_dpt_widths_from(arch.config, remapped)
    assert not compare_state_dict(build_model(config, device="meta").state_dict(), remapped)
    assert len(notes.aliases_added) == (8 if arch.config.head_type == "dpt" else 0)
    assert notes.copied_dec_blocks2 == 0  # released files carry their own second decoder


def test_mast3r_dust3r_part_loads_and_extras_are_reported(checkpoints):
    entry = checkpoints["MASt3R_ViTLarge_BaseDecoder_512_catmlpdpt_metric"]
    arch = config_from_string(entry["ckpt_args_model"])
    assert arch.is_mast3r and arch.config == get_config("DUSt3R_ViTLarge_BaseDecoder_512_dpt")
    remapped, notes = remap_state_dict(
        meta_state_dict(entry["state_dict"]), drop_prefixes=MAST3R_EXTRA_PREFIXES
    )
    assert not compare_state_dict(build_model(arch.config, device="meta").state_dict(), remapped)
    assert len(notes.ignored_keys) == 8
    assert all(".head_local_features." in k for k in notes.ignored_keys)
    # Without dropping them, the strict comparison names exactly those keys.
    mismatch = compare_state_dict(
        build_model(arch.config, device="meta").state_dict(), meta_state_dict(entry["state_dict"])
    )
    assert sorted(mismatch.unexpected) == notes.ignored_keys and not mismatch.missing


@pytest.mark.parametrize("name", TINY)
def test_tiny_layouts_and_widths_from_weights(tiny_fixtures, name):
    entry = tiny_fixtures[name]
    arch = config_from_string(entry["ckpt_model"])
    state_dict = meta_state_dict(entry["state_dict"])
    config = with_dpt_widths_from(arch.config, state_dict)
    assert config == get_config(name)
    model = build_model(config, device="meta")
    assert layout(model) == [(e["key"], e["shape"]) for e in entry["state_dict"]]
    assert sum(p.numel() for p in model.parameters()) == entry["num_parameters"]
    for named, alias in entry["tied_keys"]:
        assert model.get_parameter(named) is model.get_parameter(alias)
