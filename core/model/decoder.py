"""The two cross-attending decoders of DUSt3R (view 1: ``dec_blocks``, view 2: ``dec_blocks2``).

At layer l both views are updated from the previous layer's outputs (``f1 = dec_blocks[l](f1, f2)``,
``f2 = dec_blocks2[l](f2, f1)``); ``dec_norm`` is applied to the last layer only. The heads receive, per
view, the list [encoder output (dim E), decoder layer 1, ..., decoder layer L] (length L + 1).
"""

from __future__ import annotations

from torch import Tensor, nn

from .configs import ModelConfig
from .layers import DecoderBlock
from .rope2d import RopeTables


def build_decoder_blocks(config: ModelConfig) -> nn.ModuleList:
    """``dec_depth`` decoder blocks of width ``dec_embed_dim`` (one decoder; the model holds two)."""
    return nn.ModuleList(
        DecoderBlock(config.dec_embed_dim, config.dec_num_heads, config.mlp_ratio)
        for _ in range(config.dec_depth)
    )


def run_decoders(
    blocks1: nn.ModuleList,
    blocks2: nn.ModuleList,
    embed: nn.Module,
    norm: nn.Module,
    enc1: Tensor,
    enc2: Tensor,
    rope1: RopeTables,
    rope2: RopeTables,
) -> tuple[list[Tensor], list[Tensor]]:
    """Decode encoder tokens ``enc1`` (B, N1, E) and ``enc2`` (B, N2, E) against each other.

    Returns per view the list [enc (B, N, E), layer 1 (B, N, Dd), ..., layer L (after ``norm``)].
    """
    out1, out2 = [enc1], [enc2]
    f1, f2 = embed(enc1), embed(enc2)
    for block1, block2 in zip(blocks1, blocks2, strict=True):
        f1, f2 = block1(f1, f2, rope1, rope2), block2(f2, f1, rope2, rope1)
        out1.append(f1)
        out2.append(f2)
    out1[-1] = norm(out1[-1])
    out2[-1] = norm(out2[-1])
    return out1, out2
