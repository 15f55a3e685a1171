"""Cutting the ordered pairs of a scene graph into parts: farm shards (``infer --shard K/N``) and Ray chunks.

A part should be cheap to run on its own: with encode-once, a part costs one encoder pass per image it
touches plus one decoder pass per pair, so the parts should touch few images each. :func:`locality_order`
sorts the pairs by image BLOCKS: the images are cut into ``B`` contiguous blocks, with ``B (B + 1) / 2``
(the number of block pairs) at least the number of parts, and the pairs are ordered by (block of the lower
image, block of the higher image, lower image, higher image, direction). Cutting that order into contiguous
runs (:func:`split_balanced`) gives parts that each cover about one block pair: for a complete graph of N
images cut into S parts, about ``2 N / sqrt(2 S)`` encoded images per part instead of N; for window graphs
(footage, ``swin``) a part is a stretch of neighbouring images. Both directions of a pair (``(i, j)`` and
``(j, i)``) stay together unless a cut falls between them.

Everything here is a pure function of the pair list, the image count and the part count: every machine of a
farm computes the same shards, each ordered pair falls in exactly one, and part sizes differ by at most one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from ..errors import ConfigError

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> ``(K, N)`` with ``1 <= K <= N``; ConfigError otherwise."""
    match = _SHARD_RE.match(str(text))
    if match is None:
        raise ConfigError(f"--shard {text!r}: write it as K/N, e.g. 2/8 (shard 2 of 8)")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ConfigError(f"--shard {text}: K must be between 1 and N (N >= 1)")
    return k, n


def block_count(num_images: int, parts: int) -> int:
    """The smallest ``B`` with ``B (B + 1) / 2 >= parts``, at most ``num_images``."""
    blocks = math.ceil((math.sqrt(8 * max(parts, 1) + 1) - 1) / 2)
    return max(1, min(blocks, num_images))


def locality_order(pairs: Sequence[tuple[int, int]], num_images: int, parts: int) -> list[int]:
    """Indices into ``pairs`` in image-block order (module docstring); ties keep the order of ``pairs``."""
    blocks = block_count(num_images, parts)
    width = math.ceil(max(num_images, 1) / blocks)

    def key(index: int) -> tuple:
        i, j = pairs[index]
        lo, hi = min(i, j), max(i, j)
        return (lo // width, hi // width, lo, hi, i > j, index)

    return sorted(range(len(pairs)), key=key)


def split_balanced(order: Sequence[int], parts: int) -> list[list[int]]:
    """``order`` cut into ``parts`` contiguous runs whose lengths differ by at most one (some may be empty
    when there are fewer items than parts)."""
    base, extra = divmod(len(order), parts)
    runs, start = [], 0
    for part in range(parts):
        stop = start + base + (1 if part < extra else 0)
        runs.append(list(order[start:stop]))
        start = stop
    return runs


def split_pairs(pairs: Sequence[tuple[int, int]], num_images: int, parts: int) -> list[list[tuple[int, int]]]:
    """``pairs`` in ``parts`` balanced, image-local parts (each part in locality order)."""
    runs = split_balanced(locality_order(pairs, num_images, parts), parts)
    return [[tuple(pairs[p]) for p in run] for run in runs]


def shard_pairs(pairs: Sequence[tuple[int, int]], num_images: int, k: int, n: int) -> list[tuple[int, int]]:
    """Shard ``k`` (1-based) of ``n``: the pairs of :func:`split_pairs` part ``k - 1``."""
    return split_pairs(pairs, num_images, n)[k - 1]
