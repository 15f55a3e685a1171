"""The ViT encoder of DUSt3R: patch tokens -> ``enc_depth`` RoPE blocks -> ``enc_norm``.

The modules live on :class:`core.model.dust3r.Dust3rModel` under their official state-dict names
(``enc_blocks``, ``enc_norm``); this module builds them and runs them.
"""

from __future__ import annotations

from torch import Tensor, nn

from .configs import ModelConfig
from .layers import EncoderBlock
from .rope2d import RopeTables


def build_encoder_blocks(config: ModelConfig) -> nn.ModuleList:
    """``enc_depth`` blocks of width ``enc_embed_dim``."""
    return nn.ModuleList(
        EncoderBlock(config.enc_embed_dim, config.enc_num_heads, config.mlp_ratio)
        for _ in range(config.enc_depth)
    )


def run_encoder(blocks: nn.ModuleList, norm: nn.Module, tokens: Tensor, rope: RopeTables) -> Tensor:
    """Encode patch tokens (B, N, E) with positions already turned into ``rope`` tables; returns (B, N, E)."""
    x = tokens
    for block in blocks:
        x = block(x, rope)
    return norm(x)
