"""THE network runner: encode every image once, decode ordered pairs in batches (photos, footage, localisation).

Two strategies give the same numbers (up to float rounding):

* ``encode_once`` (default): each image goes through the ViT encoder once; its features are cached on the
  device, and every pair is decoded from the cache. Pairs whose two views have the same shapes as another
  pair's are decoded together, a batch at a time.
* ``reencode``: the reference's strategy, ``model(img1, img2)`` per batch of pairs, which encodes an image
  again for every pair it appears in (kept as the baseline of ``benchmarks/bench_inference.py``).

Results leave the device right after each batch (CPU, float32), so device memory holds the encoder cache and
one batch, never all pairs. On CUDA the batch is larger when the GPU has room (:func:`choose_batch_size`),
inputs go through pinned memory, and each batch's results are copied to pinned host memory asynchronously
while the next batch is computed (:mod:`.transfer`).

The precision (``InferenceConfig.precision``) is resolved by :mod:`.precision`; the network runs under
``torch.autocast`` with float32 weights.

:class:`PairRunner` serves every caller: a photo scene (:func:`run_pairs`, :mod:`.scene`), and a footage job
whose encoder features stay cached by slot between its steps (:meth:`PairRunner.encode_slots`,
:meth:`~PairRunner.descriptors`, :meth:`~PairRunner.decode_slots`, :meth:`~PairRunner.forget`): the key
frames' descriptors choose the loop-closing pairs before any pair is decoded, and the frames localised after
the alignment are decoded against the cached key frames. Backends (:mod:`.backend`) wrap it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch

from ..config import IMAGE_SIZES, InferenceConfig
from ..errors import ConfigError
from ..graphs.retrieval import descriptors_from_pooled, pooled_descriptor
from ..predictions import PairPrediction
from ..progress import ProgressFn, check_cancel, no_progress
from .device import device_errors, resolve_device
from .features import EncoderCache, shape_groups
from .precision import Precision, resolve_precision
from .transfer import PendingBatch, stage_batch, to_device

__all__ = [
    "STRATEGIES",
    "PairRunner",
    "choose_batch_size",
    "choose_image_size",
    "predict_pairs",
    "resolve_device",
    "run_pairs",
]

log = logging.getLogger(__name__)

STRATEGIES = ("encode_once", "reencode")
# Relative cost of decoding one pair vs encoding one image (512x384, ViT-L encoder + base decoder + DPT heads,
# from FLOP counts): only used to spread the progress fraction fairly between the two stages.
DECODE_COST = 1.5
REENCODE_PAIR_COST = 2 + DECODE_COST
CPU_BATCH_SIZE = 4
MAX_GPU_BATCH_SIZE = 32
GPU_MEMORY_SHARE = 0.5  # of the free GPU memory, for one batch's activations

Sink = Callable[[PairPrediction], None]


def model_image_size(model) -> int | None:
    """The image size (512 or 224) the model was trained for, or None when it does not say."""
    size = getattr(getattr(model, "config", None), "img_size", None)
    return int(size) if size in IMAGE_SIZES else None


def choose_image_size(requested: int | None, model) -> int:
    """``requested`` checked against the model's size; the model's size (or 512) when nothing is requested.

    Raises:
        ConfigError: the requested size differs from the model's (e.g. a 224 model with size 512).
    """
    trained = model_image_size(model)
    if requested is None:
        return trained or 512
    if trained is not None and requested != trained:
        raise ConfigError(
            f"image size {requested} does not match the model, which was trained at {trained}: "
            f"use image size {trained}, or leave the size unset to use the model's"
        )
    return requested


def choose_batch_size(requested: int | None, device: torch.device, pair_bytes: int | None = None) -> int:
    """Pairs per decode call: ``requested`` when given; else 4 on the CPU and MPS, and on CUDA as many as
    fit in half of the free GPU memory at ``pair_bytes`` of activations per pair (1 to 32)."""
    if requested is not None:
        return max(int(requested), 1)
    if device.type != "cuda" or not pair_bytes:
        return CPU_BATCH_SIZE
    free, _ = torch.cuda.mem_get_info(device)
    return int(min(max(free * GPU_MEMORY_SHARE // pair_bytes, 1), MAX_GPU_BATCH_SIZE))


def image_tensor(image) -> torch.Tensor:
    """The ``(1,3,H,W)`` float32 tensor of a LoadedImage (or a tensor given directly)."""
    tensor = image.tensor if hasattr(image, "tensor") else image
    if not isinstance(tensor, torch.Tensor) or tensor.ndim != 4 or tensor.shape[:2] != (1, 3):
        raise ValueError(
            f"expected an image tensor of shape (1, 3, H, W), got {getattr(tensor, 'shape', tensor)}"
        )
    return tensor


def check_pairs(pairs: Sequence[tuple[int, int]], num_images: int) -> list[tuple[int, int]]:
    """``pairs`` as int tuples; raises :class:`ConfigError` for an index outside ``0..num_images-1``."""
    checked = []
    for pair in pairs:
        i, j = (int(v) for v in pair)
        if not (0 <= i < num_images and 0 <= j < num_images):
            raise ConfigError(f"pair {pair} refers to an image that does not exist ({num_images} images)")
        checked.append((i, j))
    return checked


def _model_device(model) -> torch.device | None:
    param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return None if param is None else param.device


class Reporter:
    """Progress of one call: encoding ``n_enc`` images, then decoding pairs (fractions of the whole call).

    ``split`` is the share of the encoding stage; it is fixed up front (from an estimate of the pair count
    when the pairs are chosen after encoding), so the fractions never go backwards.
    """

    def __init__(self, progress: ProgressFn | None, n_enc: int, n_pairs: int, pair_cost: float) -> None:
        self.progress = progress or no_progress
        self.n_enc, self.n_pairs = n_enc, n_pairs
        self.split = n_enc / max(n_enc + n_pairs * pair_cost, 1e-9)

    def encoded(self, done: int) -> None:
        self.progress(f"Encoding {done}/{self.n_enc}", self.split * done / max(self.n_enc, 1))

    def decoded(self, done: int) -> None:
        fraction = (
            1.0 if done == self.n_pairs else self.split + (1 - self.split) * done / max(self.n_pairs, 1)
        )
        self.progress(f"Pairs {done}/{self.n_pairs}", fraction)


class PairRunner:
    """The model on its device in its precision: encode images, then decode pairs into a sink.

    Args:
        model: a ``core.model`` network (``encode``, ``decode``, ``forward``); moved to the config's device.
        config: device, precision, batch size.

    Raises:
        DeviceError: the device or precision is unavailable. ConfigError: bad names.
    """

    def __init__(self, model, config: InferenceConfig) -> None:
        self.model = model
        self.config = config
        self.device = resolve_device(config.device)
        self.precision: Precision = resolve_precision(config.precision, self.device)
        if _model_device(model) not in (None, self.device):
            log.info("moving the model to %s", self.device)
            with device_errors(self.device, "moving the model to the device"):
                model.to(self.device)
        if hasattr(model, "eval"):
            model.eval()
        self.slots = self._new_cache()  # features kept by slot number (footage: encode_slots ... forget)

    def _new_cache(self) -> EncoderCache:
        return EncoderCache(self.model, self.device, transfer=lambda t: to_device(t, self.device))

    @contextmanager
    def _context(self, what: str) -> Iterator[None]:
        with torch.inference_mode(), self.precision.autocast(self.device), device_errors(self.device, what):
            yield

    def batch_size(self, hw: tuple[int, int] | None = None) -> int:
        pair_bytes = None
        if self.device.type == "cuda" and hw is not None and hasattr(self.model, "config"):
            from ..resources.network_cost import decode_activation_bytes

            pair_bytes = decode_activation_bytes(self.model.config, hw, self.precision.name)
        return choose_batch_size(self.config.batch_size, self.device, pair_bytes)

    def encode(self, tensors: Sequence[torch.Tensor], reporter: Reporter, cancel=None) -> EncoderCache:
        """Encode every tensor once; the cache's index ``k`` is ``tensors[k]``."""
        cache = self._new_cache()
        check_cancel(cancel)
        reporter.encoded(0)

        def after_encode(done: int) -> None:
            reporter.encoded(done)
            check_cancel(cancel)

        hw = tuple(tensors[0].shape[-2:]) if tensors else None
        with self._context("encoding the photos"):
            cache.encode_all(tensors, self.batch_size(hw), after_batch=after_encode)
        return cache

    def decode(self, cache: EncoderCache, slot, tensors, pairs, sink: Sink, reporter: Reporter, cancel=None):
        """Decode ``pairs`` (image indices; ``slot[k]`` is image k's cache index) into ``sink``.

        Pairs of equal view shapes are batched together, so ``sink`` receives them in the order of
        :func:`batch_order` (the order of ``pairs`` when all images have one size).
        """
        run = lambda batch: self.model.decode(  # noqa: E731
            cache.gather([slot[i] for i, _ in batch]), cache.gather([slot[j] for _, j in batch])
        )
        hw = tuple(tensors[pairs[0][0]].shape[-2:]) if pairs else None
        chunks = batch_chunks(tensors, pairs, self.batch_size(hw))
        self._run_batches(pairs, chunks, run, sink, reporter.decoded, cancel)

    def reencode(self, tensors, pairs, sink: Sink, reporter: Reporter, cancel=None) -> None:
        """The reference's strategy: ``model(img1, img2)`` per batch (images encoded again for every pair)."""

        def run(batch):
            img1 = to_device(torch.cat([tensors[i] for i, _ in batch]), self.device)
            img2 = to_device(torch.cat([tensors[j] for _, j in batch]), self.device)
            return self.model(img1, img2)

        hw = tuple(tensors[pairs[0][0]].shape[-2:]) if pairs else None
        chunks = batch_chunks(tensors, pairs, self.batch_size(hw))
        self._run_batches(pairs, chunks, run, sink, reporter.decoded, cancel)

    # ---- features kept by slot between the steps of a job (footage: key frames, then localised frames)
    def encode_slots(
        self,
        slots: Sequence[int],
        tensors: Sequence[torch.Tensor],
        after_batch: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Encode ``tensors[k]`` (``(1, 3, H, W)``) and keep it as slot ``slots[k]``, batching equal shapes;
        ``after_batch(done)`` after each batch; ``cancel`` checked before each batch."""
        check_cancel(cancel)

        def after(done: int) -> None:
            if after_batch is not None:
                after_batch(done)
            if done < len(tensors):
                check_cancel(cancel)

        with self._context("running the network"):
            self.slots.encode_all(tensors, self.batch_size(), after_batch=after, keys=slots)

    def descriptors(self, slots: Sequence[int]) -> np.ndarray:
        """``(len(slots), E)`` float64 unit global descriptors of encoded slots (:mod:`.retrieval`)."""
        return descriptors_from_pooled(np.stack([pooled_descriptor(self.slots.tokens(s)) for s in slots]))

    def forget(self, slots: Sequence[int]) -> None:
        """Drop the features of ``slots`` (a frame that was only localised)."""
        self.slots.forget(slots)

    def decode_slots(
        self,
        pairs: Sequence[tuple[int, int]],
        after_batch: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[PairPrediction]:
        """Predictions of the ordered slot pairs ``(i, j)`` (view1 = slot ``i``), in the order of ``pairs``."""
        pairs = [(int(i), int(j)) for i, j in pairs]
        shapes = [(self.slots.hw(i), self.slots.hw(j)) for i, j in pairs]
        chunks = shape_groups(shapes, self.batch_size())
        order = iter([p for chunk in chunks for p in chunk])
        results: list[PairPrediction | None] = [None] * len(pairs)

        def place(pred: PairPrediction) -> None:
            results[next(order)] = pred

        run = lambda batch: self.model.decode(  # noqa: E731
            self.slots.gather([i for i, _ in batch]), self.slots.gather([j for _, j in batch])
        )
        self._run_batches(pairs, chunks, run, place, after_batch, cancel)
        return results

    def _run_batches(self, pairs, chunks, run, sink: Sink, after_batch, cancel) -> None:
        """Run ``run(batch)`` per chunk of indices into ``pairs`` and emit its predictions, then call
        ``after_batch(done)``; on CUDA a batch's results are emitted after the next batch is launched, so
        their copy to the host overlaps the GPU's compute."""
        overlap = self.device.type == "cuda"
        pending: PendingBatch | None = None
        done = 0
        with self._context("running the network on the pairs"):
            for chunk in chunks:
                check_cancel(cancel)
                batch = [pairs[p] for p in chunk]
                staged = stage_batch(batch, *run(batch), self.device)
                if pending is not None:
                    done = _emit(pending, sink, done, after_batch)
                pending = staged
                if not overlap:
                    done, pending = _emit(pending, sink, done, after_batch), None
            if pending is not None:
                _emit(pending, sink, done, after_batch)


def batch_chunks(tensors, pairs, batch_size: int) -> list[list[int]]:
    """Indices into ``pairs`` batched by equal (view1 shape, view2 shape), at most ``batch_size`` each."""
    keys = [(tuple(tensors[i].shape), tuple(tensors[j].shape)) for i, j in pairs]
    return shape_groups(keys, batch_size)


def batch_order(tensors, pairs) -> list[int]:
    """The order (indices into ``pairs``) in which the predictor decodes and emits ``pairs``."""
    return [p for chunk in batch_chunks(tensors, pairs, len(pairs) or 1) for p in chunk]


def _emit(pending: PendingBatch, sink: Sink, done: int, after_batch: Callable[[int], None] | None) -> int:
    for pred in pending.finish():
        sink(pred)
    done += len(pending.pairs)
    if after_batch is not None:
        after_batch(done)
    return done


def predict_pairs(
    model,
    images: Sequence,
    pairs: Sequence[tuple[int, int]],
    config: InferenceConfig | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    strategy: str = "encode_once",
    sink: Sink | None = None,
) -> list[PairPrediction]:
    """Predict the pointmaps of every ordered pair ``(i, j)`` (view1 = ``images[i]``, view2 = ``images[j]``).

    Args:
        model: a ``core.model`` network (``encode``, ``decode``, ``forward``); moved to the config's device.
        images: ``LoadedImage`` objects (or ``(1,3,H,W)`` float32 tensors in ``[-1, 1]``), H and W multiples of 16.
        pairs: ordered pairs, e.g. from :func:`core.graphs.photos.make_pairs`.
        config: device, precision, batch size (``InferenceConfig()`` defaults when None).
        progress: ``progress(stage, fraction)``; stages ``"Encoding k/N"`` then ``"Pairs k/P"``, fraction of the
            whole call, ending at 1.0.
        cancel: checked between batches; raises :class:`~core.errors.Cancelled` when set.
        strategy: ``encode_once`` or ``reencode`` (the reference's, for benchmarks).
        sink: if given, each prediction is handed to ``sink(prediction)`` as soon as its batch is done (e.g. a
            compact :class:`core.align.store.PairStore`) and the returned list is empty.

    Returns:
        One :class:`PairPrediction` per pair, in the order of ``pairs``, numpy float32 on the CPU (empty with
        a ``sink``).

    Raises:
        DeviceError: device unavailable or out of memory (:class:`~core.errors.ResourceError`).
        ConfigError: bad pair index, strategy or precision. Cancelled: ``cancel`` was set.
    """
    config = config or InferenceConfig()
    _check_strategy(strategy)
    tensors = [image_tensor(im) for im in images]
    pairs = check_pairs(pairs, len(tensors))
    if not pairs:
        return []
    results: list[PairPrediction] = []
    run_pairs(PairRunner(model, config), tensors, pairs, sink or results.append, progress, cancel, strategy)
    if sink is None:  # the list keeps the order of `pairs`, whatever the batching order
        position = {pair: k for k, pair in reversed(list(enumerate(pairs)))}
        results.sort(key=lambda pred: position[(pred.i, pred.j)])
    return results


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown inference strategy {strategy!r}; use one of {STRATEGIES}")


def run_pairs(
    runner: PairRunner,
    images: Sequence,
    pairs: Sequence[tuple[int, int]],
    sink: Sink,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    strategy: str = "encode_once",
) -> None:
    """Run ``runner`` on the ordered ``pairs`` of ``images``, handing each prediction to ``sink`` as its batch
    is done (in the batching order, :func:`batch_order`). Arguments and errors as for :func:`predict_pairs`;
    the images used by the pairs are encoded once, then dropped."""
    _check_strategy(strategy)
    tensors = [image_tensor(im) for im in images]
    pairs = check_pairs(pairs, len(tensors))
    if not pairs:
        return
    used = sorted({k for pair in pairs for k in pair})
    encode_once = strategy == "encode_once"
    pair_cost = DECODE_COST if encode_once else REENCODE_PAIR_COST
    reporter = Reporter(progress, len(used) if encode_once else 0, len(pairs), pair_cost)
    start = time.perf_counter()
    if encode_once:
        cache = runner.encode([tensors[k] for k in used], reporter, cancel)
        try:
            runner.decode(cache, {k: s for s, k in enumerate(used)}, tensors, pairs, sink, reporter, cancel)
        finally:
            cache.clear()
    else:
        runner.reencode(tensors, pairs, sink, reporter, cancel)
    log.info(
        "%d pairs of %d images in %.1f s (%s, %s)",
        len(pairs),
        len(used),
        time.perf_counter() - start,
        strategy,
        runner.precision.name,
    )
