"""The pair graph of a shot: frames paired along time, plus a few long-range pairs that close loops.

A sequence is not a bag of photos: frame ``i`` overlaps frames ``i +- 1, 2, ...`` and rarely the frames far
away, unless the camera comes back. So the graph pairs each frame with the frames at the offsets
``TEMPORAL_OFFSETS`` (a window and a log-window over time, never wrapping around: the last frame is not
next to the first), and adds the long-range pairs whose frames look alike although they are further apart
than the largest offset (the camera returned: loop closure).

"Look alike" is measured cheaply, on what the network computes anyway: a global descriptor of each frame's
encoder tokens (:mod:`core.graphs.retrieval`: the mean of the unit-normalised tokens, centred on the
shot's mean and normalised again),
compared by cosine similarity. Frame ``j`` closes a loop with frame ``i`` when it is more similar to ``i``
than the frames the graph already pairs with ``i`` at its largest offset are. Picks are spread out (no two
loop pairs within half the largest offset of each other at both ends).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..config import DEFAULT_TEMPORAL_OFFSETS
from ..errors import ConfigError

TEMPORAL_OFFSETS = DEFAULT_TEMPORAL_OFFSETS


def temporal_pairs(num_frames: int, offsets: Sequence[int] = TEMPORAL_OFFSETS) -> list[tuple[int, int]]:
    """Unordered pairs ``(i, j)``, ``i < j``, with ``j - i`` in ``offsets`` (non-cyclic), sorted."""
    if any(int(o) < 1 for o in offsets):
        raise ConfigError(f"temporal offsets must be positive, got {tuple(offsets)}")
    return sorted({(i, i + int(o)) for i in range(num_frames) for o in offsets if i + int(o) < num_frames})


def loop_closure_pairs(
    descriptors: np.ndarray,
    max_offset: int = TEMPORAL_OFFSETS[-1],
    max_pairs: int | None = None,
) -> list[tuple[int, int]]:
    """Long-range pairs ``(i, j)``, ``j - i > max_offset``, between frames that look alike (module docstring).

    Args:
        descriptors: ``(N, E)`` unit descriptors (:func:`core.graphs.retrieval.descriptors_from_pooled`).
        max_offset: the temporal graph's largest offset; only pairs further apart are candidates.
        max_pairs: at most this many pairs (default ``max(2, N // 16)``), the most similar first.

    Returns:
        Sorted unordered pairs ``(i, j)``, ``i < j``.
    """
    desc = np.asarray(descriptors, dtype=np.float64)
    n = len(desc)
    if n <= max_offset + 1:
        return []
    max_pairs = max(2, n // 16) if max_pairs is None else int(max_pairs)
    sim = desc @ desc.T
    # how alike a frame and its farthest graph partner look (both directions; the ends have one)
    far = np.full(n, -np.inf)
    for i in range(n):
        for j in (i - max_offset, i + max_offset):
            if 0 <= j < n:
                far[i] = max(far[i], sim[i, j])
    i_idx, j_idx = np.triu_indices(n, k=max_offset + 1)
    score = sim[i_idx, j_idx]
    ok = score > np.maximum(far[i_idx], far[j_idx])
    order = np.argsort(-score[ok], kind="stable")
    cand_i, cand_j = i_idx[ok][order], j_idx[ok][order]
    chosen: list[tuple[int, int]] = []
    spacing = max(1, max_offset // 2)
    for i, j in zip(cand_i.tolist(), cand_j.tolist(), strict=True):
        if len(chosen) >= max_pairs:
            break
        if all(abs(i - a) >= spacing or abs(j - b) >= spacing for a, b in chosen):
            chosen.append((i, j))
    return sorted(chosen)


def footage_pairs(
    num_frames: int,
    offsets: Sequence[int] = TEMPORAL_OFFSETS,
    loop_pairs: Sequence[tuple[int, int]] = (),
) -> list[tuple[int, int]]:
    """Ordered, symmetrized pairs of the shot's graph: temporal pairs and loop pairs, then all reversed.

    One frame gives ``[(0, 0)]`` (the monocular case, as for one photo).
    """
    if num_frames < 1:
        raise ConfigError("at least one frame is needed")
    if num_frames == 1:
        return [(0, 0)]
    base = sorted(set(temporal_pairs(num_frames, offsets)) | {(min(i, j), max(i, j)) for i, j in loop_pairs})
    return base + [(j, i) for i, j in base]
