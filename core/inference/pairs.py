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

Windows larger than useful are clamped, which gives exactly the same pairs at a cost linear in N: a window
offset of N or more adds nothing to a non-cyclic window, and a cyclic one only depends on the offset modulo N
(``swin-K`` with ``K >= N - 1`` is ``complete``). So ``logwin-100000`` on 3 photos costs no more than
``logwin-2`` (the reference would build 100000 powers of two, 1.5 GB, before pairing anything).
"""

from __future__ import annotations

import re

from ..errors import ConfigError

DEFAULT_WINDOW = 3
_WINDOW_RE = re.compile(r"^(swin|logwin)(?:-(\d+))?(-noncyclic)?$")
_ONEREF_RE = re.compile(r"^oneref(?:-(\d+))?$")
GRAPH_HELP = "complete, swin-K[-noncyclic], logwin-K[-noncyclic] or oneref-R"
_MAX_DIGITS = 18  # larger numbers mean "all" for a window and cannot be a photo index anyway


def _parse_count(text: str | None, default: int) -> int:
    """A window size or reference index; absurdly long numbers are clamped instead of parsed."""
    if text is None:
        return default
    return int(text) if len(text) <= _MAX_DIGITS else 10**_MAX_DIGITS


def _window_offsets(n: int, kind: str, k: int, cyclic: bool) -> list[int]:
    """The distinct useful offsets of ``swin-K`` / ``logwin-K`` for N images (see the module docstring)."""
    if kind == "swin":
        return list(range(1, min(k, n - 1) + 1))
    if cyclic:  # 2^e mod N takes at most N values, then repeats: the first N exponents give them all
        steps = sorted({pow(2, e, n) for e in range(min(k, n))} - {0})
    else:  # 2^e >= N links nothing
        steps = [2**e for e in range(min(k, (n - 1).bit_length()))]
    return [-s for s in steps] + steps


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
        k = _parse_count(k, DEFAULT_WINDOW)
        if k < 1:
            raise ConfigError(f"scene graph {graph!r}: the window size must be at least 1")
        cyclic = noncyclic is None
        return _window_pairs(n, _window_offsets(n, kind, k, cyclic), cyclic=cyclic)
    oneref = _ONEREF_RE.match(graph)
    if oneref:
        ref = _parse_count(oneref.group(1), 0)
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
