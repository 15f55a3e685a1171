"""Linear head: one Linear per patch token, then pixel shuffle to full resolution."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class LinearHead(nn.Module):
    """``proj`` Linear(Dd, 4*P*P) on the last decoder layer, pixel-shuffled to (B, 4, H, W)."""

    def __init__(self, dec_embed_dim: int, patch_size: int = 16, out_channels: int = 4) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Linear(dec_embed_dim, out_channels * patch_size**2)

    def forward(self, layers: list[Tensor], grid: tuple[int, int]) -> Tensor:
        """``layers[-1]`` (B, N, Dd) with N = grid_h*grid_w -> raw map (B, 4, grid_h*P, grid_w*P)."""
        tokens = layers[-1]
        b = tokens.shape[0]
        feat = self.proj(tokens).transpose(1, 2).reshape(b, -1, grid[0], grid[1])
        return F.pixel_shuffle(feat, self.patch_size)
