"""The network on a whole scene: encode every photo once, choose the pairs, decode them into a sink.

Retrieval graphs need the photos' encodings before the pairs are known, so the order is always: encode
(each photo once), then choose the pairs (by descriptor similarity for ``retrieval-K`` and for ``auto`` on
large unordered sets; by the graph's rule otherwise), then let the caller check the run
(``before_decode(pairs)``, e.g. the memory guard with the exact pair count), then decode.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..config import InferenceConfig
from ..errors import ConfigError
from ..graphs.photos import count_pairs, make_pairs, needs_similarity, resolve_graph
from ..graphs.retrieval import global_descriptors, similarity_matrix
from ..progress import ProgressFn
from .backend import LocalBackend, PairBackend
from .predictor import DECODE_COST, Reporter, Sink, batch_order, image_tensor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SceneInference:
    """What :func:`infer_scene` did.

    Attributes:
        graph: the concrete graph name (``auto`` resolved, e.g. ``retrieval-5-5``).
        pairs: the ordered pairs, in the order the sink received them.
        descriptors: ``(N, E)`` float32 global descriptors when the graph used them, else None.
        precision: the precision the network ran in (``fp32``, ``bf16``, ``fp16``).
        seconds: wall time.
    """

    graph: str
    pairs: list[tuple[int, int]]
    descriptors: np.ndarray | None
    precision: str
    seconds: float


def infer_scene(
    backend,
    images: Sequence,
    graph: str,
    config: InferenceConfig,
    sink: Sink,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    sequence: bool = False,
    before_decode: Callable[[list[tuple[int, int]]], None] | None = None,
) -> SceneInference:
    """Run the network on every pair of ``graph`` over ``images``, handing each prediction to ``sink``.

    Args:
        backend: a :class:`~.backend.PairBackend` (:func:`~.backend.make_backend`), or a loaded network (run
            in this process, :class:`~.backend.LocalBackend`).
        images, config: as for :func:`core.inference.predictor.predict_pairs` (``config`` is used when
            ``backend`` is a network; a backend brings its own).
        graph: a scene graph name (:mod:`core.graphs.photos`), ``auto`` and ``retrieval-K`` included.
        sink: receives every :class:`~core.predictions.PairPrediction` as its batch completes.
        progress, cancel: as for ``predict_pairs`` (stages ``Encoding k/N`` then ``Pairs k/P``).
        sequence: the images are footage frames in order (``auto`` then uses a window over the frames).
        before_decode: called with the chosen pairs after encoding, before any pair is decoded; it may
            raise to stop the run (the memory guard does).

    Raises:
        ConfigError, DeviceError (ResourceError), Cancelled: as for ``predict_pairs``.
    """
    start = time.perf_counter()
    if not isinstance(backend, PairBackend):
        backend = LocalBackend(config, model=backend)
    tensors = [image_tensor(im) for im in images]
    n = len(tensors)
    resolved = resolve_graph(n, graph, sequence)
    by_similarity = needs_similarity(n, resolved)
    pairs = None if by_similarity else make_pairs(n, resolved)
    runner = getattr(backend, "runner", None)
    if runner is None:  # a backend out of this process: pairs known up front, then run
        return _infer_remote(
            backend, images, tensors, resolved, pairs, sink, progress, cancel, before_decode, start
        )
    used = list(range(n)) if pairs is None else sorted({k for pair in pairs for k in pair})
    expected = count_pairs(n, resolved) if pairs is None else len(pairs)
    reporter = Reporter(progress, len(used), expected, DECODE_COST)
    cache = runner.encode([tensors[k] for k in used], reporter, cancel)
    try:
        descriptors = None
        if pairs is None:
            descriptors = global_descriptors([cache.tokens(k) for k in range(n)])
            pairs = make_pairs(n, resolved, similarity=similarity_matrix(descriptors))
            log.info("%s: %d ordered pairs chosen by similarity for %d photos", resolved, len(pairs), n)
        pairs = [pairs[p] for p in batch_order(tensors, pairs)]
        reporter.n_pairs = len(pairs)
        if before_decode is not None:
            before_decode(pairs)
        slot = {k: s for s, k in enumerate(used)}
        runner.decode(cache, slot, tensors, pairs, sink, reporter, cancel)
    finally:
        cache.clear()
    seconds = time.perf_counter() - start
    log.info("network: %d pairs of %d photos in %.1f s (%s)", len(pairs), n, seconds, runner.precision.name)
    return SceneInference(resolved, pairs, descriptors, runner.precision.name, seconds)


def _infer_remote(backend, images, tensors, resolved, pairs, sink, progress, cancel, before_decode, start):
    """A backend without an in-process runner: descriptors (for a similarity graph) come from its optional
    ``descriptors(images, progress, cancel) -> (N, E)`` method, then every pair runs through ``run_pairs``."""
    descriptors = None
    if pairs is None:
        describe = getattr(backend, "descriptors", None)
        if describe is None:
            raise ConfigError(
                f"the {backend.name} backend cannot choose pairs by similarity ({resolved}): use a graph with "
                "fixed pairs (complete, swin-K, logwin-K, oneref-R)"
            )
        descriptors = describe(images, progress=None, cancel=cancel)
        pairs = make_pairs(len(tensors), resolved, similarity=similarity_matrix(descriptors))
    pairs = [pairs[p] for p in batch_order(tensors, pairs)]
    if before_decode is not None:
        before_decode(pairs)
    backend.run_pairs(images, pairs, sink, progress=progress, cancel=cancel)
    seconds = time.perf_counter() - start
    precision = getattr(backend, "precision_name", backend.config.precision)
    log.info("network (%s): %d pairs of %d photos in %.1f s", backend.name, len(pairs), len(tensors), seconds)
    return SceneInference(resolved, pairs, descriptors, precision, seconds)
