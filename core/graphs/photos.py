"""Scene graphs: which ordered image pairs the network sees (DUSt3R's ``make_pairs``).

Graph names (K, R are integers):

* ``complete``: every pair. Order as the reference: for ``i`` in ``0..N-1``, for ``j < i``: ``(i, j)``.
* ``swin-K``: each image with the next ``K`` images, wrapping around (loop closure); ``swin-K-noncyclic``
  without wrapping. ``swin`` alone means ``swin-3``.
* ``logwin-K``: each image with the images at offsets ``±1, ±2, ±4, ..., ±2^(K-1)``, wrapping around;
  ``logwin-K-noncyclic`` without wrapping. ``logwin`` alone means ``logwin-3``.
* ``oneref-R``: image ``R`` with every other image (``oneref`` alone means ``oneref-0``).
* ``retrieval-K``: each image with its ``K`` most similar images by a global descriptor of its encoder
  features (symmetrised: a pair is kept when either image chose the other), plus the edges of the maximum
  spanning tree of the similarities, which keep the graph connected (``retrieval`` alone means
  ``retrieval-10``). Needs the similarity matrix (:func:`core.graphs.retrieval.similarity_matrix`),
  so the images are encoded before the pairs are chosen.
* ``retrieval-K-M``: the same plus ``M`` more partners per image, spread evenly over the next similarity
  ranks up to ``3 (K + M)``: still similar images, but at wider baselines. The ``K`` nearest alone give
  chain-like graphs along a walk or an orbit whose error accumulates; measured on synthetic sets
  (``benchmarks/bench_retrieval.py``, 30-40 views) ``retrieval-5-5`` has 20-30 % more pairs than
  ``retrieval-10`` and a quarter to a half of its camera error.
* ``auto``: ``complete`` for up to :data:`AUTO_COMPLETE_MAX` photos, ``swin-K-noncyclic`` (a window over
  the frame order, :data:`AUTO_SEQUENCE_WINDOW`) for footage, :data:`AUTO_RETRIEVAL` for larger
  unordered sets; see :func:`resolve_graph` and ``benchmarks/bench_retrieval.py`` for the measurements
  behind the numbers.

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

import numpy as np

from ..errors import ConfigError

DEFAULT_WINDOW = 3
DEFAULT_RETRIEVAL_K = 10
# auto: complete up to this many photos (380 ordered pairs at 20), retrieval beyond (bench_retrieval.py).
AUTO_COMPLETE_MAX = 20
AUTO_RETRIEVAL = "retrieval-5-5"
AUTO_SEQUENCE_WINDOW = 5
RETRIEVAL_REACH = 3  # the M extra partners are spread over the similarity ranks K+1 .. 3 (K + M)
_WINDOW_RE = re.compile(r"^(swin|logwin)(?:-(\d+))?(-noncyclic)?$")
_ONEREF_RE = re.compile(r"^oneref(?:-(\d+))?$")
_RETRIEVAL_RE = re.compile(r"^retrieval(?:-(\d+))?(?:-(\d+))?$")
GRAPH_HELP = (
    "auto, complete, swin-K[-noncyclic], logwin-K[-noncyclic], oneref-R, retrieval-K or retrieval-K-M"
)
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


def retrieval_spec(graph: str) -> tuple[int, int] | None:
    """``(K, M)`` of a ``retrieval-K[-M]`` graph name (M = 0 without it), or None for any other graph.

    Raises:
        ConfigError: ``retrieval-0``.
    """
    match = _RETRIEVAL_RE.match(str(graph).strip().lower())
    if match is None:
        return None
    k = DEFAULT_RETRIEVAL_K if match.group(1) is None else int(match.group(1))
    if k < 1:
        raise ConfigError(f"scene graph {graph!r}: K must be at least 1")
    return k, int(match.group(2) or 0)


def retrieval_k(graph: str) -> int | None:
    """K of a ``retrieval-K[-M]`` graph name, or None for any other graph."""
    spec = retrieval_spec(graph)
    return None if spec is None else spec[0]


def resolve_graph(num_images: int, graph: str, sequence: bool = False) -> str:
    """The concrete graph name for ``graph`` (``auto`` resolved; other names returned normalised).

    ``auto``: ``complete`` for at most :data:`AUTO_COMPLETE_MAX` images; else a window over the frame order
    (``swin-K-noncyclic``) when ``sequence`` (footage), else ``retrieval-K``.
    """
    if not isinstance(graph, str):
        raise ConfigError(f"scene graph must be a name, got {graph!r}")
    graph = graph.strip().lower()
    if graph != "auto":
        return graph
    if num_images <= AUTO_COMPLETE_MAX:
        return "complete"
    if sequence:
        return f"swin-{AUTO_SEQUENCE_WINDOW}-noncyclic"
    return AUTO_RETRIEVAL


def needs_similarity(num_images: int, graph: str, sequence: bool = False) -> bool:
    """Whether :func:`make_pairs` needs the image similarities for this graph (a retrieval graph)."""
    return num_images > 1 and retrieval_k(resolve_graph(num_images, graph, sequence)) is not None


def retrieval_pairs(similarity: np.ndarray, k: int, extra: int = 0) -> list[tuple[int, int]]:
    """Unordered pairs ``(i, j)``, ``i < j``, ascending: each image's ``k`` most similar images, ``extra``
    more spread evenly over the similarity ranks ``k + 1 .. 3 (k + extra)``, plus the maximum spanning
    tree of ``similarity`` (so the graph is connected).

    Args:
        similarity: ``(N, N)`` float, larger = more alike (cosine similarity of descriptors); the diagonal
            is ignored and NaN counts as least similar. Ties are broken by the lower image index.
        k: nearest neighbours per image (at least 1); extra: wider partners per image.
    """
    sim = np.array(similarity, dtype=np.float64)
    n = sim.shape[0]
    if sim.shape != (n, n):
        raise ValueError(f"similarity must be a square matrix, got shape {sim.shape}")
    sim = np.where(np.isfinite(sim), sim, -np.inf)
    sim = np.maximum(sim, sim.T)  # symmetric, whatever the caller's rounding
    np.fill_diagonal(sim, -np.inf)
    found: set[tuple[int, int]] = set()
    for i in range(n):
        order = np.argsort(-sim[i], kind="stable")[: n - 1]
        chosen = list(order[:k])
        wider = order[k : RETRIEVAL_REACH * (k + extra)]
        if extra > 0 and len(wider):
            chosen += list(wider[np.unique(np.linspace(0, len(wider) - 1, extra).round().astype(int))])
        found.update((min(i, int(j)), max(i, int(j))) for j in chosen)
    found.update(_maximum_spanning_tree(sim))
    return sorted(found)


def _maximum_spanning_tree(sim: np.ndarray) -> list[tuple[int, int]]:
    """Prim's algorithm on the dense similarity matrix (``-inf`` diagonal): N - 1 edges ``(i < j)``."""
    n = sim.shape[0]
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    best = sim[0].copy()
    parent = np.zeros(n, dtype=np.int64)
    edges = []
    for _ in range(n - 1):
        candidates = np.where(in_tree, -np.inf, best)
        child = int(np.argmax(candidates))
        if in_tree[child]:  # only -inf left: pick any remaining image
            child = int(np.flatnonzero(~in_tree)[0])
        in_tree[child] = True
        a, b = int(parent[child]), child
        edges.append((min(a, b), max(a, b)))
        closer = ~in_tree & (sim[child] > best)
        best[closer] = sim[child][closer]
        parent[closer] = child
    return edges


def count_pairs(num_images: int, graph: str, sequence: bool = False) -> int:
    """The number of ordered (symmetrized) pairs the graph gives, without descriptors.

    Exact for every graph but ``retrieval-K[-M]``, for which it is the upper bound
    ``2 min(N(N-1)/2, N(K+M+1))`` (the actual count is known once the images are encoded). Cheap and
    torch-free (sidebar estimates).
    """
    if num_images <= 1:
        resolve_graph(max(num_images, 1), graph, sequence)
        return 1
    name = resolve_graph(num_images, graph, sequence)
    spec = retrieval_spec(name)
    if spec is None:
        return len(make_pairs(num_images, name))
    return 2 * min(num_images * (num_images - 1) // 2, num_images * (sum(spec) + 1))


def make_pairs(
    num_images: int,
    graph: str = "complete",
    symmetrize: bool = True,
    similarity: np.ndarray | None = None,
    sequence: bool = False,
) -> list[tuple[int, int]]:
    """Ordered image pairs ``(i, j)`` (view1 = image ``i``, view2 = image ``j``) of a scene graph.

    Args:
        num_images: number of images N (>= 1).
        graph: graph name, see the module docstring.
        symmetrize: append every pair reversed (the reference default; global alignment expects it).
        similarity: ``(N, N)`` image similarities, needed by ``retrieval-K`` (and ``auto`` above
            :data:`AUTO_COMPLETE_MAX` photos when not ``sequence``).
        sequence: the images are frames of footage in frame order (``auto`` then uses a window).

    Returns:
        List of ``(i, j)`` int tuples in the reference order; ``[(0, 0)]`` when N is 1.

    Raises:
        ConfigError: unknown graph name, bad window size or reference index, N < 1, or a retrieval graph
            without similarities.
    """
    if num_images < 1:
        raise ConfigError("at least one image is needed")
    graph = resolve_graph(num_images, graph, sequence)
    spec = retrieval_spec(graph)
    if spec is None:
        pairs = _base_pairs(num_images, graph)  # validates the name even for one image
    elif num_images == 1:
        pairs = []
    elif similarity is None:
        raise ConfigError(
            f"scene graph {graph!r} chooses pairs by image similarity: encode the images first "
            "(core.graphs.retrieval.similarity_matrix) and pass the similarities"
        )
    else:
        if np.shape(similarity) != (num_images, num_images):
            raise ConfigError(f"similarity must be ({num_images}, {num_images}), got {np.shape(similarity)}")
        pairs = retrieval_pairs(similarity, *spec)
    if num_images == 1:
        return [(0, 0)]
    if symmetrize:
        pairs = pairs + [(j, i) for (i, j) in pairs]
    return pairs
