"""Run the network only for the pairs that no trusted pair file holds yet.

One mechanism serves three features: farm shards (``infer --shard K/N``: the shard's pairs, files already in
the output folder kept), ``reconstruct --pairs DIR`` (the shards' files used, the missing pairs computed) and
``reconstruct --resume`` (the pairs an interrupted run finished, kept in its scratch folder). The steps:

1. :func:`scene_pairs`: the ordered pairs of the scene graph in the order the network emits them
   (:func:`~core.inference.predictor.batch_order`), so that feeding them to a pair store in that order gives
   exactly the store, and therefore the alignment, of a run without any reuse. A retrieval graph needs the
   encoder (the images are encoded once to choose the pairs); every other graph needs no model.
2. :func:`find_valid`: for each pair the first folder holding a valid file
   (:meth:`~core.inference.pair_files.PairOrigin.load_valid`).
3. :func:`compute_missing`: the backend runs the missing pairs; each is written to the scratch folder as it
   arrives (atomically: an interrupted run leaves complete files only).
4. :func:`feed`: every pair read back from its file, in the order of step 1, into the sink.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..predictions import PairPrediction
from ..progress import ProgressFn, check_cancel, no_progress
from .pair_files import PairOrigin, pair_file_name

log = logging.getLogger(__name__)

Pair = tuple[int, int]


def backend_precision(backend) -> str:
    """The precision a :class:`~.backend.PairBackend` runs in (``fp32``, ``bf16``, ``fp16``)."""
    named = getattr(backend, "precision_name", None)
    return named if named is not None else backend.runner.precision.name


def local_backend(model, config):
    """The default of :class:`PairFiles`: this process, with the already loaded ``model``."""
    from .backend import LocalBackend

    return LocalBackend(config, model=model)


def scene_pairs(model, images: Sequence, graph: str, config, progress: ProgressFn | None = None,
                cancel: threading.Event | None = None) -> list[Pair]:  # fmt: skip
    """The ordered pairs of ``graph`` over ``images`` in emission order (module docstring, step 1).

    ``model`` is only used for retrieval graphs (it may be None otherwise).
    """
    from ..graphs.photos import make_pairs, needs_similarity, resolve_graph
    from .predictor import batch_order, image_tensor

    tensors = [image_tensor(im) for im in images]
    n = len(tensors)
    resolved = resolve_graph(n, graph)
    similarity = None
    if needs_similarity(n, resolved):
        similarity = _similarity(model, tensors, config, progress, cancel)
    pairs = make_pairs(n, resolved, similarity=similarity)
    return [pairs[p] for p in batch_order(tensors, pairs)]


def _similarity(model, tensors, config, progress, cancel):
    from ..graphs.retrieval import global_descriptors, similarity_matrix
    from .predictor import PairRunner, Reporter

    runner = PairRunner(model, config)
    cache = runner.encode(tensors, Reporter(progress, len(tensors), 0, 0.0), cancel)
    try:
        return similarity_matrix(global_descriptors([cache.tokens(k) for k in range(len(tensors))]))
    finally:
        cache.clear()


def find_valid(origin: PairOrigin, folders: Iterable[Path], pairs: Sequence[Pair]) -> dict[Pair, Path]:
    """``pair -> file`` for every pair with a valid file in one of ``folders`` (the first folder wins)."""
    folders = [Path(f) for f in folders if f is not None]
    found: dict[Pair, Path] = {}
    for i, j in pairs:
        for folder in folders:
            path = folder / pair_file_name(i, j)
            if origin.load_valid(path, i, j) is not None:
                found[(i, j)] = path
                break
    return found


def compute_missing(backend, images: Sequence, missing: Sequence[Pair], origin: PairOrigin,
                    scratch: Path, progress: ProgressFn | None = None,
                    cancel: threading.Event | None = None) -> dict[Pair, Path]:  # fmt: skip
    """Run ``missing`` on ``backend`` (a :class:`~.backend.PairBackend`); each prediction goes to ``scratch``
    as a pair file with its origin (written when it arrives). Returns ``pair -> file`` of the written pairs."""
    progress = progress or no_progress
    written: dict[Pair, Path] = {}
    if not missing:
        return written
    scratch.mkdir(parents=True, exist_ok=True)
    stamped = origin.with_precision(backend_precision(backend))

    def save(pred: PairPrediction) -> None:
        path = scratch / pair_file_name(pred.i, pred.j)
        stamped.save(path, pred)
        written[(pred.i, pred.j)] = path

    backend.run_pairs(images, list(missing), save, progress, cancel)
    check_cancel(cancel)
    return written


def feed(pairs: Sequence[Pair], files: dict[Pair, Path], sink: Callable[[PairPrediction], None]) -> None:
    """Read every pair of ``pairs`` from ``files`` and hand it to ``sink``, in the order of ``pairs``."""
    import numpy as np

    for pair in pairs:
        with np.load(files[pair], allow_pickle=False) as data:
            sink(PairPrediction.from_npz_dict(data))


class PairFiles:
    """Where a run finds finished pairs and keeps the ones it computes.

    Args:
        checkpoint: the model's checkpoint (its content identifies the pairs, :func:`checkpoint_identity`).
        scratch: folder that receives every computed pair (``reconstruct``'s resume folder, ``infer --out``);
            its valid files are reused too.
        sources: more folders whose valid files are used (``reconstruct --pairs DIR``); never written.
        make_backend: ``make_backend(model, config) -> PairBackend`` (default: :func:`local_backend`).
    """

    def __init__(self, checkpoint: str | Path, scratch: Path, sources: Sequence[Path] = (),
                 make_backend: Callable | None = None) -> None:  # fmt: skip
        self.checkpoint, self.scratch = checkpoint, Path(scratch)
        self.sources = tuple(Path(s) for s in sources)
        self.make_backend = make_backend or local_backend
        self.reused = 0
        self.computed = 0

    def origin(self, photo_paths: Sequence[str | Path], images: Sequence, config) -> PairOrigin:
        """This run's :class:`PairOrigin` (``precision`` as the config asks: ``auto`` accepts any)."""
        from .pair_files import ANY_PRECISION, checkpoint_identity

        precision = ANY_PRECISION if config.precision == "auto" else config.precision
        return PairOrigin.of_run(photo_paths, images, checkpoint_identity(self.checkpoint), config.image_size,
                                 precision)  # fmt: skip

    def run(self, model, photo_paths: Sequence[str | Path], images: Sequence, config,
            sink: Callable[[PairPrediction], None] | None, pairs: Sequence[Pair] | None = None,
            before_compute: Callable[[list[Pair]], None] | None = None, progress: ProgressFn | None = None,
            cancel: threading.Event | None = None) -> list[Pair]:  # fmt: skip
        """Every pair of the graph (or of ``pairs``, e.g. a shard) into ``sink`` in emission order, computing
        only those without a valid file (``sink`` None: the pairs are only made sure to be in files).
        ``before_compute(all_pairs)`` may raise to stop the run (the memory guard).

        Returns:
            the pairs, in the order ``sink`` received them; ``reused`` and ``computed`` count them.
        """
        origin = self.origin(photo_paths, images, config)
        if pairs is None and sink is not None and self._nothing_to_reuse():
            return self._stream(model, images, config, origin, sink, before_compute, progress, cancel)
        if pairs is None:
            pairs = scene_pairs(model, images, config.scene_graph, config, cancel=cancel)
        pairs = list(pairs)
        files = find_valid(origin, [*self.sources, self.scratch], pairs)
        missing = [p for p in pairs if p not in files]
        self.reused, self.computed = len(files), len(missing)
        log.info("%d of %d pairs reused from pair files, %d to compute", len(files), len(pairs), len(missing))
        if before_compute is not None:
            before_compute(pairs)
        if missing:
            backend = self.make_backend(model, config)
            try:
                files.update(
                    compute_missing(backend, images, missing, origin, self.scratch, progress, cancel)
                )
            finally:
                backend.close()  # a cluster backend releases its workers
        if sink is not None:
            feed(pairs, files, sink)
        return pairs

    def _nothing_to_reuse(self) -> bool:
        """A local run with no pair file anywhere: the plain, streaming path applies."""
        if self.make_backend is not local_backend or self.sources:
            return False
        return not (self.scratch.is_dir() and any(self.scratch.glob("pair_*_*.npz")))

    def _stream(self, model, images, config, origin: PairOrigin, sink, before_compute, progress, cancel):
        """The plain run (:func:`~core.inference.scene.infer_scene`: each image encoded once, the pairs
        chosen and decoded in emission order) with every prediction also kept in the scratch folder."""
        from .scene import infer_scene

        backend = local_backend(model, config)
        stamped = origin.with_precision(backend_precision(backend))
        self.scratch.mkdir(parents=True, exist_ok=True)

        def keep(pred: PairPrediction) -> None:
            stamped.save(self.scratch / pair_file_name(pred.i, pred.j), pred)
            sink(pred)

        done = infer_scene(backend, images, config.scene_graph, config, keep, progress=progress, cancel=cancel,
                           before_decode=before_compute)  # fmt: skip
        self.reused, self.computed = 0, len(done.pairs)
        return list(done.pairs)
