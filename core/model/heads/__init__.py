"""Prediction heads: per-view tokens -> raw (B, 4, H, W) maps, and their post-processing to points/confidence."""

from __future__ import annotations

from torch import nn

from ..configs import ModelConfig
from .dpt import DPTHead
from .linear import LinearHead


def build_head(config: ModelConfig) -> nn.Module:
    """The head named by ``config.head_type`` (``linear`` or ``dpt``), with the config's widths."""
    if config.head_type == "linear":
        return LinearHead(config.dec_embed_dim, config.patch_size)
    return DPTHead(config)
