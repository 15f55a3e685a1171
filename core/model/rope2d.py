"""2-D rotary position embedding (RoPE) of CroCo/DUSt3R.

A head vector of size D is split in two halves: the first half is rotated by the token's row (y), the second
by its column (x). Inside a half of size D/2, channel k is paired with channel k + D/4 (not interleaved) and
rotated by the angle ``pos * base**(-2k/(D/2))``.

The tables are computed once per position set and shared by all blocks: :meth:`RoPE2D.tables` returns
per-token ``(cos, sin)`` of shape (B, 1, N, D) with the rotation's sign folded into ``sin``, so that
:func:`apply_rope` is two multiplications, one channel swap and one add.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .patch_embed import grid_positions

MAX_CACHED_GRIDS = 32


class RopeTables:
    """Per-token cosine and signed sine for one set of positions.

    Attributes:
        cos, sin: (B or 1, 1, N, D) in the compute dtype; broadcast over heads.
    """

    __slots__ = ("cos", "sin")

    def __init__(self, cos: Tensor, sin: Tensor) -> None:
        self.cos = cos
        self.sin = sin


class RoPE2D(nn.Module):
    """Builds :class:`RopeTables` for integer (row, col) token positions. Holds no parameters.

    Args:
        base: frequency base (100 for ``RoPE100``).
    """

    def __init__(self, base: float = 100.0) -> None:
        super().__init__()
        self.base = float(base)
        self._freq_cache: dict[tuple, tuple[Tensor, Tensor]] = {}
        self._grid_cache: dict[tuple, RopeTables] = {}

    def _angle_tables(self, half_dim: int, length: int, device: torch.device) -> tuple[Tensor, Tensor]:
        """cos/sin of ``t * inv_freq`` for t < length: two (length, half_dim) float32 tables (cached)."""
        key = (half_dim, device)
        cached = self._freq_cache.get(key)
        if cached is None or cached[0].shape[0] < length:
            # Built outside inference mode so the cache stays usable by a later autograd-enabled call.
            with torch.inference_mode(False), torch.no_grad():
                inv_freq = 1.0 / (
                    self.base ** (torch.arange(0, half_dim, 2, dtype=torch.float32, device=device) / half_dim)
                )
                t = torch.arange(max(length, 128), dtype=torch.float32, device=device)
                freqs = torch.outer(t, inv_freq)
                freqs = torch.cat((freqs, freqs), dim=-1)
                cached = (freqs.cos(), freqs.sin())
            self._freq_cache[key] = cached
        return cached

    def tables(self, pos: Tensor, head_dim: int, dtype: torch.dtype) -> RopeTables:
        """Tables for token positions ``pos`` (B, N, 2) int64 (row, col) and head size ``head_dim``.

        Returns tables of shape (B, 1, N, head_dim) in ``dtype``; when all batch entries share positions
        (the usual case) the batch dimension is 1.
        """
        if head_dim % 4:
            raise ValueError(f"2-D RoPE needs a head size divisible by 4, got {head_dim}")
        if pos.shape[0] > 1 and bool((pos == pos[:1]).all()):
            pos = pos[:1]
        half = head_dim // 2
        quarter = head_dim // 4
        cos_t, sin_t = self._angle_tables(half, int(pos.max()) + 1, pos.device)
        rows, cols = pos[..., 0], pos[..., 1]
        cos = torch.cat((cos_t[rows], cos_t[cols]), dim=-1)
        sin = torch.cat((sin_t[rows], sin_t[cols]), dim=-1)
        # rotate_half within each half: [a, b] -> [-b, a]; apply_rope swaps a/b, the sign goes into sin.
        sign = torch.ones(head_dim, dtype=sin.dtype, device=sin.device)
        sign[:quarter] = -1.0
        sign[half : half + quarter] = -1.0
        sin = sin * sign
        return RopeTables(cos.unsqueeze(1).to(dtype), sin.unsqueeze(1).to(dtype))

    def grid_tables(
        self, grid: tuple[int, int], head_dim: int, dtype: torch.dtype, device: torch.device
    ) -> RopeTables:
        """Tables (1, 1, gh*gw, head_dim) for the row-major (row, col) grid of shape ``grid``, cached per shape.

        Equal to ``tables(grid_positions(*grid, 1, device), head_dim, dtype)``; computed once per grid shape,
        dtype and device, then shared by every block and every call.
        """
        key = (tuple(grid), head_dim, dtype, device)
        cached = self._grid_cache.get(key)
        if cached is None:
            with torch.inference_mode(False), torch.no_grad():
                cached = self.tables(grid_positions(*grid, 1, device), head_dim, dtype)
            if len(self._grid_cache) >= MAX_CACHED_GRIDS:
                self._grid_cache.pop(next(iter(self._grid_cache)))
            self._grid_cache[key] = cached
        return cached


def apply_rope(x: Tensor, tables: RopeTables) -> Tensor:
    """Rotate ``x`` (..., N, D) (e.g. (B, heads, N, D)) with ``tables`` broadcast over the leading dims."""
    d = x.shape[-1]
    cos, sin = tables.cos, tables.sin
    if cos.dtype != x.dtype:  # under autocast the projections may come out in another dtype
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    swapped = x.unflatten(-1, (2, 2, d // 4)).flip(-2).flatten(-3)
    return torch.addcmul(x * cos, swapped, sin)
