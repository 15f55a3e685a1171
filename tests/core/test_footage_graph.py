"""The pair graph of a shot: temporal window and log-window, non-cyclic, and loop-closing pairs."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from core.graphs.retrieval import descriptors_from_pooled
from core.graphs.temporal import footage_pairs, loop_closure_pairs, temporal_pairs


def test_temporal_pairs_follow_the_frame_order_without_wrapping() -> None:
    pairs = temporal_pairs(20, (1, 2, 4, 8, 16))
    assert (0, 1) in pairs and (0, 16) in pairs and (3, 19) in pairs
    assert all(0 < j - i <= 16 and j - i in (1, 2, 4, 8, 16) for i, j in pairs)
    assert (0, 19) not in pairs and (18, 19) in pairs  # non-cyclic: the last frame is not next to the first
    assert len(pairs) == 19 + 18 + 16 + 12 + 4
    with pytest.raises(ConfigError):
        temporal_pairs(5, (0, 1))


def test_footage_pairs_are_symmetrized_and_include_the_loops() -> None:
    pairs = footage_pairs(40, (1, 2), loop_pairs=[(35, 3)])
    half = len(pairs) // 2
    assert pairs[half:] == [(j, i) for i, j in pairs[:half]]
    assert (3, 35) in pairs and (35, 3) in pairs
    assert footage_pairs(1) == [(0, 0)]


def _descriptors_along(path: np.ndarray, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Descriptors that vary smoothly with the camera position (a random smooth map, plus noise)."""
    rng = np.random.default_rng(seed)
    freqs = rng.normal(size=(dim, path.shape[1])) * 1.5
    phase = rng.uniform(0, 2 * np.pi, dim)
    desc = np.cos(path @ freqs.T + phase) + 0.02 * rng.normal(size=(len(path), dim))
    return descriptors_from_pooled(desc)


def test_loop_closure_finds_where_the_camera_comes_back() -> None:
    # a camera that goes out along a line for 40 frames, then comes back the same way
    out = np.linspace(0, 4, 40)
    path = np.concatenate([out, out[::-1]])[:, None] * np.array([[1.0, 0.3]])
    loops = loop_closure_pairs(_descriptors_along(path), max_offset=8, max_pairs=6)
    assert 1 <= len(loops) <= 6
    for i, j in loops:
        assert j - i > 8
        assert abs(path[i, 0] - path[j, 0]) < 0.5, (i, j)  # the two frames see the same place
    assert len({i // 4 for i, _ in loops}) == len(loops)  # spread out, not one cluster


def test_no_loop_pairs_when_the_camera_never_returns() -> None:
    path = np.linspace(0, 8, 80)[:, None] * np.array([[1.0, 0.5]])
    assert loop_closure_pairs(_descriptors_along(path), max_offset=8) == []
