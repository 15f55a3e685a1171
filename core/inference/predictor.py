"""Run the network on ordered image pairs: encode every image once, decode pairs in batches.

Two strategies give the same numbers (up to float rounding):

* ``encode_once`` (default): each image goes through the ViT encoder once; its features are cached on the
  device, and every pair is decoded from the cache. Pairs whose two views have the same shapes as another
  pair's are decoded together, ``config.batch_size`` at a time.
* ``reencode``: the reference's strategy, ``model(img1, img2)`` per batch of pairs, which encodes an image
  again for every pair it appears in (kept as the baseline of ``benchmarks/bench_inference.py``).

Results leave the device right after each batch (CPU, float32), so GPU memory holds the encoder cache and one
batch, never all pairs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence

import numpy as np
import torch

from ..config import IMAGE_SIZES, InferenceConfig
from ..errors import ConfigError
from ..predictions import PairPrediction
from ..progress import ProgressFn, check_cancel, no_progress
from .device import device_errors, half_dtype, resolve_device
from .features import EncoderCache, shape_groups

__all__ = ["STRATEGIES", "choose_image_size", "predict_pairs", "resolve_device"]

log = logging.getLogger(__name__)

STRATEGIES = ("encode_once", "reencode")
# Relative cost of decoding one pair vs encoding one image (512x384, ViT-L encoder + base decoder + DPT heads,
# from FLOP counts): only used to spread the progress fraction fairly between the two stages.
DECODE_COST = 1.5
REENCODE_PAIR_COST = 2 + DECODE_COST


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


def _image_tensor(image) -> torch.Tensor:
    """The ``(1,3,H,W)`` float32 tensor of a LoadedImage (or a tensor given directly)."""
    tensor = image.tensor if hasattr(image, "tensor") else image
    if not isinstance(tensor, torch.Tensor) or tensor.ndim != 4 or tensor.shape[:2] != (1, 3):
        raise ValueError(
            f"expected an image tensor of shape (1, 3, H, W), got {getattr(tensor, 'shape', tensor)}"
        )
    return tensor


def _check_pairs(pairs: Sequence[tuple[int, int]], num_images: int) -> list[tuple[int, int]]:
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


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().to("cpu", torch.float32).numpy()


def _batch_predictions(batch: list[tuple[int, int]], out1: dict, out2: dict) -> list[PairPrediction]:
    """Split a decoded batch into per-pair CPU float32 predictions."""
    pts1, conf1 = _to_numpy(out1["pts3d"]), _to_numpy(out1["conf"])
    pts2, conf2 = _to_numpy(out2["pts3d_in_other_view"]), _to_numpy(out2["conf"])
    return [
        PairPrediction(i=i, j=j, pts3d_i=pts1[b], conf_i=conf1[b], pts3d_j=pts2[b], conf_j=conf2[b])
        for b, (i, j) in enumerate(batch)
    ]


class _Reporter:
    """Progress of one call: encoding ``n_enc`` images then decoding ``n_pairs`` pairs (fraction of the whole)."""

    def __init__(self, progress: ProgressFn | None, n_enc: int, n_pairs: int, pair_cost: float) -> None:
        self.progress = progress or no_progress
        self.n_enc, self.n_pairs, self.pair_cost = n_enc, n_pairs, pair_cost
        self.total = max(n_enc + n_pairs * pair_cost, 1e-9)

    def encoded(self, done: int) -> None:
        self.progress(f"Encoding {done}/{self.n_enc}", done / self.total)

    def decoded(self, done: int) -> None:
        fraction = 1.0 if done == self.n_pairs else (self.n_enc + done * self.pair_cost) / self.total
        self.progress(f"Pairs {done}/{self.n_pairs}", fraction)


def predict_pairs(
    model,
    images: Sequence,
    pairs: Sequence[tuple[int, int]],
    config: InferenceConfig | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    strategy: str = "encode_once",
) -> list[PairPrediction]:
    """Predict the pointmaps of every ordered pair ``(i, j)`` (view1 = ``images[i]``, view2 = ``images[j]``).

    Args:
        model: a ``core.model`` network (``encode``, ``decode``, ``forward``); moved to the config's device.
        images: ``LoadedImage`` objects (or ``(1,3,H,W)`` float32 tensors in ``[-1, 1]``), H and W multiples of 16.
        pairs: ordered pairs, e.g. from :func:`core.inference.pairs.make_pairs`.
        config: device, half precision, batch size (``InferenceConfig()`` defaults when None).
        progress: ``progress(stage, fraction)``; stages ``"Encoding k/N"`` then ``"Pairs k/P"``, fraction of the
            whole call, ending at 1.0.
        cancel: checked between batches; raises :class:`~core.errors.Cancelled` when set.
        strategy: ``encode_once`` or ``reencode`` (the reference's, for benchmarks).

    Returns:
        One :class:`PairPrediction` per pair, in the order of ``pairs``, numpy float32 on the CPU.

    Raises:
        DeviceError: device unavailable or out of memory. ConfigError: bad pair index or strategy.
        Cancelled: ``cancel`` was set.
    """
    config = config or InferenceConfig()
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown inference strategy {strategy!r}; use one of {STRATEGIES}")
    tensors = [_image_tensor(im) for im in images]
    pairs = _check_pairs(pairs, len(tensors))
    if not pairs:
        return []
    device = resolve_device(config.device)
    if _model_device(model) not in (None, device):
        log.info("moving the model to %s", device)
        model.to(device)
    if hasattr(model, "eval"):
        model.eval()
    amp_dtype = half_dtype(device) if config.half_precision else None
    if config.half_precision and amp_dtype is None:
        log.warning("half precision is only used on CUDA; running in float32 on %s", device)
    autocast = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext()

    used = sorted({k for pair in pairs for k in pair})
    encode_once = strategy == "encode_once"
    pair_cost = DECODE_COST if encode_once else REENCODE_PAIR_COST
    reporter = _Reporter(progress, len(used) if encode_once else 0, len(pairs), pair_cost)
    start = time.perf_counter()
    with torch.inference_mode(), autocast, device_errors(device, "running the network"):
        if encode_once:
            results = _run_encode_once(
                model, tensors, pairs, used, device, config.batch_size, reporter, cancel
            )
        else:
            results = _run_reencode(model, tensors, pairs, device, config.batch_size, reporter, cancel)
    log.info(
        "%d pairs of %d images in %.1f s (%s)", len(pairs), len(used), time.perf_counter() - start, strategy
    )
    return results


def _pair_chunks(tensors, pairs, batch_size: int) -> list[list[int]]:
    """Pair indices batched by equal (view1 shape, view2 shape)."""
    keys = [(tuple(tensors[i].shape), tuple(tensors[j].shape)) for i, j in pairs]
    return shape_groups(keys, batch_size)


def _run_encode_once(
    model, tensors, pairs, used, device, batch_size, reporter, cancel
) -> list[PairPrediction]:
    cache = EncoderCache(model, device)
    check_cancel(cancel)
    reporter.encoded(0)

    def after_encode(done: int) -> None:
        reporter.encoded(done)
        check_cancel(cancel)

    cache.encode_all([tensors[k] for k in used], batch_size, after_batch=after_encode)
    slot = {k: s for s, k in enumerate(used)}
    results: list[PairPrediction | None] = [None] * len(pairs)
    done = 0
    for chunk in _pair_chunks(tensors, pairs, batch_size):
        check_cancel(cancel)
        batch = [pairs[p] for p in chunk]
        enc1 = cache.gather([slot[i] for i, _ in batch])
        enc2 = cache.gather([slot[j] for _, j in batch])
        out1, out2 = model.decode(enc1, enc2)
        for p, pred in zip(chunk, _batch_predictions(batch, out1, out2), strict=True):
            results[p] = pred
        done += len(chunk)
        reporter.decoded(done)
    return results


def _run_reencode(model, tensors, pairs, device, batch_size, reporter, cancel) -> list[PairPrediction]:
    results: list[PairPrediction | None] = [None] * len(pairs)
    done = 0
    for chunk in _pair_chunks(tensors, pairs, batch_size):
        check_cancel(cancel)
        batch = [pairs[p] for p in chunk]
        img1 = torch.cat([tensors[i] for i, _ in batch]).to(device, non_blocking=True)
        img2 = torch.cat([tensors[j] for _, j in batch]).to(device, non_blocking=True)
        out1, out2 = model(img1, img2)
        for p, pred in zip(chunk, _batch_predictions(batch, out1, out2), strict=True):
            results[p] = pred
        done += len(chunk)
        reporter.decoded(done)
    return results
