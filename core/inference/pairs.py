"""Scene graphs: which ordered image pairs the network sees (DUSt3R's ``make_pairs``).

Graph names (K, R are integers):

* ``complete``: every pair. Order as the reference: for ``i`` in ``0..N-1``, for ``j < i``: ``(i, j)``.
* ``swin-K``: each image with the next ``K`` images, wrapping around (loop closure); ``swin-K-noncyclic``
  without wrapping. ``swin`` alone means ``swin-3``.
* ``logwin-K``: each image with the images at offsets ``±1, ±2, ±4, ..., ±2^(K-1)``, wrapping around;
  ``logwin-K-noncyclic`` without wrapping. ``logwin`` alone means ``logwin-3``.
* ``oneref-R``: image ``R`` with every other image (``oneref`` alone means ``oneref-0``).

With ``symmetrize`` the reversed pairs follow, in the same order: the reference's
``pairs + [(j, i) for (i, j) in pairs]``. Deviations from the reference, both harmless: the reference keeps
the window graphs in a Python ``set`` and iterates it; we sort those pairs (``i < j``, ascending), which gives
the same pairs in a documented order. And a cyclic window of ``K >= N`` would make the reference pair an
image with itself; we skip such self-pairs. A single image gives the pair ``(0, 0)`` (the image with itself,
as the reference demo does for one photo), whatever the graph.
"""

from __future__ import annotations

import re

from ..errors import ConfigError

DEFAULT_WINDOW = 3
_WINDOW_RE = re.compile(r"^(swin|logwin)(?:-(\d+))?(-noncyclic)?$")
_ONEREF_RE = re.compile(r"^oneref(?:-(\d+))?$")
GRAPH_HELP = "complete, swin-K[-noncyclic], logwin-K[-noncyclic] or oneref-R"


def _window_pairs(n: int, offsets: list[int], cyclic: bool) -> list[tuple[int, int]]:
    """Unordered pairs ``(i, j)``, ``i < j``, linking each image to the images at ``i + offset``."""
    found: set[tuple[int, int]] = set()
    for i in range(n):
        for off in offsets:
            j = i + off
            if cyclic:
                j %= n
            if j < 0 or j >= n or j == i:
                continue
            found.add((min(i, j), max(i, j)))
    return sorted(found)


def _base_pairs(n: int, graph: str) -> list[tuple[int, int]]:
    """The pairs before symmetrization, in the reference order."""
    if graph == "complete":
        return [(i, j) for i in range(n) for j in range(i)]
    window = _WINDOW_RE.match(graph)
    if window:
        kind, k, noncyclic = window.groups()
        k = DEFAULT_WINDOW if k is None else int(k)
        if k < 1:
            raise ConfigError(f"scene graph {graph!r}: the window size must be at least 1")
        if kind == "swin":
            offsets = list(range(1, k + 1))
        else:
            steps = [2**e for e in range(k)]
            offsets = [-s for s in steps] + steps
        return _window_pairs(n, offsets, cyclic=noncyclic is None)
    oneref = _ONEREF_RE.match(graph)
    if oneref:
        ref = int(oneref.group(1) or 0)
        if ref >= n:
            raise ConfigError(f"scene graph {graph!r}: reference image {ref} does not exist ({n} images)")
        return [(ref, j) for j in range(n) if j != ref]
    raise ConfigError(f"unknown scene graph {graph!r}; use {GRAPH_HELP}")


def make_pairs(num_images: int, graph: str = "complete", symmetrize: bool = True) -> list[tuple[int, int]]:
    """Ordered image pairs ``(i, j)`` (view1 = image ``i``, view2 = image ``j``) of a scene graph.

    Args:
        num_images: number of images N (>= 1).
        graph: graph name, see the module docstring.
        symmetrize: append every pair reversed (the reference default; global alignment expects it).

    Returns:
        List of ``(i, j)`` int tuples in the reference order; ``[(0, 0)]`` when N is 1.

    Raises:
        ConfigError: unknown graph name, bad window size or reference index, or N < 1.
    """
    if not isinstance(graph, str):
        raise ConfigError(f"scene graph must be a name, got {graph!r}")
    graph = graph.strip().lower()
    if num_images < 1:
        raise ConfigError("at least one image is needed")
    pairs = _base_pairs(num_images, graph)  # validates the name even for one image
    if num_images == 1:
        return [(0, 0)]
    if symmetrize:
        pairs = pairs + [(j, i) for (i, j) in pairs]
    return pairs
