"""Model configuration registry, validation and naming."""

from __future__ import annotations

import dataclasses

import pytest

from core.errors import ConfigError
from core.model.configs import MODEL_CONFIGS, ModelConfig, get_config, nearest_config_name

REQUIRED_NAMES = (
    "DUSt3R_ViTLarge_BaseDecoder_224_linear",
    "DUSt3R_ViTLarge_BaseDecoder_512_linear",
    "DUSt3R_ViTLarge_BaseDecoder_512_dpt",
    "tiny_linear",
    "tiny_linear_224",
    "tiny_dpt",
)


@pytest.mark.parametrize("name", REQUIRED_NAMES)
def test_registry_names_resolve_to_themselves(name):
    config = get_config(name)
    assert isinstance(config, ModelConfig)
    assert nearest_config_name(config) == name


def test_unknown_name_raises_config_error_listing_known_names():
    with pytest.raises(ConfigError, match="tiny_linear"):
        get_config("DUSt3R_ViTHuge")


def test_nearest_name_lists_differing_fields():
    config = dataclasses.replace(get_config("tiny_linear"), img_size=320)
    name = nearest_config_name(config)
    assert name.startswith(("tiny_linear~", "tiny_linear_224~")) and "img_size" in name


def test_dpt_hooks_follow_decoder_depth():
    assert get_config("DUSt3R_ViTLarge_BaseDecoder_512_dpt").dpt_hooks == (0, 6, 9, 12)
    assert get_config("tiny_dpt").dpt_hooks == (0, 6, 9, 12)


@pytest.mark.parametrize(
    "changes",
    [
        {"head_type": "mlp"},
        {"enc_num_heads": 3},  # 64 is not divisible by 3
        {"dec_num_heads": 8},  # head size 6 is not a multiple of 4
        {"enc_depth": 0},
        {"head_type": "dpt", "dec_depth": 9},
        {"conf_vmin": 2.0, "conf_vmax": 1.0},
    ],
)
def test_invalid_configs_raise(changes):
    with pytest.raises(ConfigError):
        dataclasses.replace(get_config("tiny_linear"), **changes)


def test_registry_is_literal_and_frozen():
    config = MODEL_CONFIGS["tiny_dpt"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.enc_depth = 3  # type: ignore[misc]
    assert config.dpt_layer_dims == (16, 32, 64, 128)
