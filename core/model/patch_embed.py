"""Patch embedding: image (B, 3, H, W) -> tokens (B, N, E) and their integer (row, col) grid positions.

Portrait images stay portrait: tokens are in row-major order of the (H/P, W/P) grid, never transposed (the
official inference replaces the transposing ``ManyAR_PatchEmbed`` by this plain embedding).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def grid_positions(grid_h: int, grid_w: int, batch: int, device: torch.device) -> Tensor:
    """(batch, grid_h*grid_w, 2) int64 (row, col) positions in row-major order."""
    rows = torch.arange(grid_h, device=device).repeat_interleave(grid_w)
    cols = torch.arange(grid_w, device=device).repeat(grid_h)
    return torch.stack((rows, cols), dim=-1).unsqueeze(0).expand(batch, -1, -1)


class PatchEmbed(nn.Module):
    """Conv2d(3, E, kernel P, stride P) per patch; no positional embedding (RoPE is applied in attention)."""

    def __init__(self, embed_dim: int, patch_size: int = 16) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, img: Tensor) -> tuple[Tensor, Tensor, tuple[int, int]]:
        """Embed ``img`` (B, 3, H, W), H and W multiples of the patch size.

        Returns:
            tokens (B, N, E) in the weights' dtype, positions (B, N, 2) int64 (row, col), grid (H/P, W/P).
        """
        if img.ndim != 4 or img.shape[1] != 3:
            raise ValueError(f"expected an image batch of shape (B, 3, H, W), got {tuple(img.shape)}")
        b, _, h, w = img.shape
        p = self.patch_size
        if h % p or w % p:
            raise ValueError(f"image size {h}x{w} (HxW) is not a multiple of the patch size {p}")
        x = self.proj(img)
        grid = (h // p, w // p)
        tokens = x.flatten(2).transpose(1, 2)
        return tokens, grid_positions(*grid, b, img.device), grid
