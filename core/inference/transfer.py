"""Moving tensors between the host and the device around the network.

* Inputs: on CUDA, images are copied through pinned (page-locked) host memory with ``non_blocking=True``.
* Outputs: a decoded batch is "staged": on CUDA its four output tensors are copied into pinned host buffers
  asynchronously and an event is recorded; the predictor launches the NEXT batch before it waits for that
  event (:meth:`PendingBatch.finish`), so the copy and the CPU-side work overlap the GPU's compute, and the
  batch's device tensors are released as soon as the copy is done. On the CPU staging is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..predictions import PairPrediction

OUTPUT_KEYS = (("pts3d", 0), ("conf", 0), ("pts3d_in_other_view", 1), ("conf", 1))


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; through pinned memory and asynchronously for CUDA."""
    if tensor.device == device:
        return tensor
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


@dataclass
class PendingBatch:
    """One decoded batch on its way to the host: ``maps`` are host tensors (pinned on CUDA) that are valid
    once ``event`` has completed (None on the CPU)."""

    pairs: list[tuple[int, int]]
    maps: tuple[torch.Tensor, ...]
    event: object | None = None

    def finish(self) -> list[PairPrediction]:
        """Wait for the copy, then split the batch into per-pair float32 numpy predictions."""
        if self.event is not None:
            self.event.synchronize()
        pts1, conf1, pts2, conf2 = (m.numpy() for m in self.maps)
        return [
            PairPrediction(i=i, j=j, pts3d_i=pts1[b], conf_i=conf1[b], pts3d_j=pts2[b], conf_j=conf2[b])
            for b, (i, j) in enumerate(self.pairs)
        ]


def stage_batch(pairs: list[tuple[int, int]], out1: dict, out2: dict, device: torch.device) -> PendingBatch:
    """Start moving a decoded batch (the model's two output dicts) to host memory as float32."""
    outputs = (out1, out2)
    tensors = [outputs[view][key].detach() for key, view in OUTPUT_KEYS]
    if device.type != "cuda":
        return PendingBatch(pairs, tuple(t.to("cpu", torch.float32) for t in tensors))
    host = []
    for t in tensors:
        buffer = torch.empty(t.shape, dtype=torch.float32, pin_memory=True)
        buffer.copy_(t, non_blocking=True)
        host.append(buffer)
    event = torch.cuda.Event()
    event.record()
    return PendingBatch(pairs, tuple(host), event)
