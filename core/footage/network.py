"""The network on a shot: each frame encoded once, global descriptors from the cache, pairs decoded in batches.

Like :func:`core.inference.predictor.predict_pairs` (same batching, same numbers), but the encoder features
are kept between the steps of a footage job: the descriptors that choose the loop-closing pairs come from
them before any pair is decoded, and the frames localised after the alignment are decoded against the
cached reconstructed frames. Predictions leave the device after each batch (CPU, float32).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..config import InferenceConfig
from ..inference.device import device_errors, resolve_device
from ..inference.features import shape_groups, split_encoded, stack_encoded
from ..inference.precision import resolve_precision
from ..inference.predictor import choose_batch_size
from ..predictions import PairPrediction
from ..progress import check_cancel
from .graph import descriptors_from_pooled, pool_tokens


class FrameNetwork:
    """A model on a device, and the encoder features of the frames encoded so far, by slot number.

    Args:
        model: a ``core.model`` network (``encode``, ``decode``); moved to the config's device.
        config: device, precision, batch size (None: :func:`~core.inference.predictor.choose_batch_size`).
    """

    def __init__(self, model, config: InferenceConfig) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
        if param is not None and param.device != self.device:
            model.to(self.device)
        if hasattr(model, "eval"):
            model.eval()
        self.model = model
        self._features: dict[int, object] = {}
        self.precision = resolve_precision(config.precision, self.device)
        self.batch_size = choose_batch_size(config.batch_size, self.device)

    def _running(self) -> contextlib.ExitStack:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        stack.enter_context(self.precision.autocast(self.device))
        stack.enter_context(device_errors(self.device, "running the network"))
        return stack

    def encode(
        self,
        slots: Sequence[int],
        tensors: Sequence[torch.Tensor],
        after_batch: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Encode ``tensors[k]`` (``(1, 3, H, W)``) as ``slots[k]``, batching equal shapes;
        ``after_batch(done)`` after each batch; ``cancel`` checked between batches."""
        done = 0
        with self._running():
            for chunk in shape_groups([tuple(t.shape) for t in tensors], self.batch_size):
                check_cancel(cancel)
                batch = torch.cat([tensors[k] for k in chunk]).to(self.device, non_blocking=True)
                for k, enc in zip(chunk, split_encoded(self.model.encode(batch)), strict=True):
                    self._features[int(slots[k])] = enc
                done += len(chunk)
                if after_batch is not None:
                    after_batch(done)

    def descriptors(self, slots: Sequence[int]) -> np.ndarray:
        """``(len(slots), E)`` unit global descriptors of encoded frames (:mod:`.graph`), pooled one frame at
        a time."""
        pooled = [pool_tokens(self._features[s].tokens[0].float().cpu().numpy()) for s in slots]
        return descriptors_from_pooled(np.stack(pooled))

    def forget(self, slots: Sequence[int]) -> None:
        """Drop the features of ``slots`` (a frame that was only localised)."""
        for slot in slots:
            self._features.pop(int(slot), None)

    def decode(
        self,
        pairs: Sequence[tuple[int, int]],
        after_batch: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[PairPrediction]:
        """Predictions of the ordered slot pairs ``(i, j)`` (view1 = slot ``i``), in the order of ``pairs``."""
        shapes = [(self._features[i].hw, self._features[j].hw) for i, j in pairs]
        results: list[PairPrediction | None] = [None] * len(pairs)
        done = 0
        with self._running():
            for chunk in shape_groups(shapes, self.batch_size):
                check_cancel(cancel)
                batch = [pairs[p] for p in chunk]
                enc1 = stack_encoded([self._features[i] for i, _ in batch])
                enc2 = stack_encoded([self._features[j] for _, j in batch])
                out1, out2 = self.model.decode(enc1, enc2)
                for p, pred in zip(chunk, _predictions(batch, out1, out2), strict=True):
                    results[p] = pred
                done += len(chunk)
                if after_batch is not None:
                    after_batch(done)
        return results


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().to("cpu", torch.float32).numpy()


def _predictions(batch, out1, out2) -> list[PairPrediction]:
    pts1, conf1 = _numpy(out1["pts3d"]), _numpy(out1["conf"])
    pts2, conf2 = _numpy(out2["pts3d_in_other_view"]), _numpy(out2["conf"])
    return [
        PairPrediction(i=i, j=j, pts3d_i=pts1[b], conf_i=conf1[b], pts3d_j=pts2[b], conf_j=conf2[b])
        for b, (i, j) in enumerate(batch)
    ]
