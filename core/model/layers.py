"""Transformer building blocks of the CroCo/DUSt3R encoder and decoders.

Attribute names (``qkv``, ``proj``, ``projq``, ``norm_y``, ``mlp.fc1``, ...) are the official state-dict names,
so checkpoints load without a key remap. Token tensors are (B, N, C); attention runs through
:func:`torch.nn.functional.scaled_dot_product_attention` with 2-D RoPE applied to queries and keys.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .rope2d import RopeTables, apply_rope

LAYER_NORM_EPS = 1e-6


def layer_norm(dim: int) -> nn.LayerNorm:
    """The LayerNorm used everywhere in the network (eps 1e-6, affine)."""
    return nn.LayerNorm(dim, eps=LAYER_NORM_EPS)


class Mlp(nn.Module):
    """``fc2(gelu(fc1(x)))`` with exact (erf) GELU; (B, N, C) -> (B, N, C)."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SelfAttention(nn.Module):
    """Multi-head self-attention with 2-D RoPE on queries and keys; (B, N, C) -> (B, N, C)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, rope: RopeTables) -> Tensor:
        b, n, c = x.shape
        # (B, N, 3C) -> (3, B, heads, N, head_dim); q and k are rotated together.
        qkv = self.qkv(x).view(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        qk = apply_rope(qkv[:2], rope)
        out = F.scaled_dot_product_attention(qk[0], qk[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class CrossAttention(nn.Module):
    """Multi-head attention of ``query`` tokens (B, Nq, C) to ``key``/``value`` tokens (B, Nk, C).

    RoPE is applied to queries with the query tokens' positions and to keys with the key tokens' positions.
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.projq = nn.Linear(dim, dim)
        self.projk = nn.Linear(dim, dim)
        self.projv = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def _heads(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        return x.view(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, rope_q: RopeTables, rope_k: RopeTables
    ) -> Tensor:
        b, nq, c = query.shape
        q = apply_rope(self._heads(self.projq(query)), rope_q)
        k = apply_rope(self._heads(self.projk(key)), rope_k)
        v = self._heads(self.projv(value))
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, nq, c))


class EncoderBlock(nn.Module):
    """Pre-norm ViT block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``; (B, N, C) -> (B, N, C)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = layer_norm(dim)
        self.attn = SelfAttention(dim, num_heads)
        self.norm2 = layer_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, rope: RopeTables) -> Tensor:
        x = x + self.attn(self.norm1(x), rope)
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    """CroCo decoder block: self-attention, cross-attention to the other view's tokens, MLP.

    ``x`` (B, N, C) is updated; ``y`` (B, M, C), the other view, is only read (normalised by ``norm_y``).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = layer_norm(dim)
        self.attn = SelfAttention(dim, num_heads)
        self.cross_attn = CrossAttention(dim, num_heads)
        self.norm2 = layer_norm(dim)
        self.norm3 = layer_norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.norm_y = layer_norm(dim)

    def forward(self, x: Tensor, y: Tensor, rope_x: RopeTables, rope_y: RopeTables) -> Tensor:
        x = x + self.attn(self.norm1(x), rope_x)
        y_normed = self.norm_y(y)
        x = x + self.cross_attn(self.norm2(x), y_normed, y_normed, rope_x, rope_y)
        return x + self.mlp(self.norm3(x))
