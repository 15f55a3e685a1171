"""2-D RoPE against a direct transcription of its definition, and its relative-position property."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.model.rope2d import RoPE2D, apply_rope


def naive_rope(x: np.ndarray, pos: np.ndarray, base: float) -> np.ndarray:
    """float64, token by token: first half rotated by the row, second half by the column.

    Within a half h of size D/2 channel k pairs with k + D/4, angle pos * base**(-2k/(D/2)).
    """
    n, d = x.shape
    half, quarter = d // 2, d // 4
    out = np.empty_like(x)
    for t in range(n):
        for h, coord in enumerate(pos[t]):
            seg = x[t, h * half : (h + 1) * half]
            res = np.empty(half)
            for k in range(quarter):
                angle = coord * base ** (-2.0 * k / half)
                a, b = seg[k], seg[k + quarter]
                res[k] = a * np.cos(angle) - b * np.sin(angle)
                res[k + quarter] = b * np.cos(angle) + a * np.sin(angle)
            out[t, h * half : (h + 1) * half] = res
    return out


@pytest.mark.parametrize("head_dim", [8, 24, 64])
def test_matches_definition(head_dim):
    rng = np.random.default_rng(head_dim)
    pos = np.stack(np.meshgrid(np.arange(5), np.arange(7), indexing="ij"), -1).reshape(-1, 2)
    x = rng.normal(size=(pos.shape[0], head_dim))
    rope = RoPE2D(100.0)
    tables = rope.tables(torch.from_numpy(pos)[None], head_dim, torch.float64)
    ours = apply_rope(torch.from_numpy(x)[None, None], tables)[0, 0].numpy()
    np.testing.assert_allclose(ours, naive_rope(x, pos, 100.0), atol=1e-6)


def test_attention_scores_depend_only_on_relative_position():
    torch.manual_seed(0)
    rope = RoPE2D(100.0)
    q, k = torch.randn(1, 1, 1, 32, dtype=torch.float64), torch.randn(1, 1, 1, 32, dtype=torch.float64)

    def score(pq, pk):
        tq = rope.tables(torch.tensor([[pq]]), 32, torch.float64)
        tk = rope.tables(torch.tensor([[pk]]), 32, torch.float64)
        return (apply_rope(q, tq) * apply_rope(k, tk)).sum().item()

    assert score((3, 4), (1, 9)) == pytest.approx(score((13, 24), (11, 29)), abs=1e-5)  # float32 tables
    assert score((3, 4), (1, 9)) != pytest.approx(score((3, 4), (2, 9)), abs=1e-3)


def test_tables_are_shared_across_a_batch_with_equal_positions():
    pos = torch.tensor([[0, 0], [0, 1], [1, 0]]).expand(4, -1, -1)
    tables = RoPE2D().tables(pos, 16, torch.float32)
    assert tables.cos.shape == (1, 1, 3, 16)
    other = torch.stack([pos[0], pos[0].flip(0)])
    assert RoPE2D().tables(other, 16, torch.float32).cos.shape == (2, 1, 3, 16)


def test_head_dim_must_be_multiple_of_four():
    with pytest.raises(ValueError, match="divisible by 4"):
        RoPE2D().tables(torch.zeros(1, 2, 2, dtype=torch.int64), 10, torch.float32)


def test_grid_tables_equal_general_tables_and_are_cached():
    from core.model.patch_embed import grid_positions

    rope = RoPE2D(100.0)
    grid = rope.grid_tables((3, 5), 16, torch.float32, torch.device("cpu"))
    general = rope.tables(grid_positions(3, 5, 1, torch.device("cpu")), 16, torch.float32)
    torch.testing.assert_close(grid.cos, general.cos, atol=0, rtol=0)
    torch.testing.assert_close(grid.sin, general.sin, atol=0, rtol=0)
    assert rope.grid_tables((3, 5), 16, torch.float32, torch.device("cpu")) is grid
    assert rope.grid_tables((5, 3), 16, torch.float32, torch.device("cpu")) is not grid
