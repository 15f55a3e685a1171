"""Per-image encoder cache: encode each image once, then hand out batches of cached features.

DUSt3R's ViT encoder is the expensive half of the network and does not depend on the other view, so the
features of an image can be reused for every pair it takes part in (paper section 3; SAM's "encode once,
query many"). The cache holds, per image, the model's ``EncodedImages`` with batch size 1 on the device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..model.dust3r import EncodedImages


def split_encoded(enc: EncodedImages) -> list[EncodedImages]:
    """Split a batch of ``B`` encoded images into ``B`` batches of one (views, no copies)."""
    return [enc[b] for b in range(enc.tokens.shape[0])]


def stack_encoded(encs: Sequence[EncodedImages]) -> EncodedImages:
    """Concatenate encoded images of equal sizes along the batch dimension."""
    return encs[0] if len(encs) == 1 else EncodedImages.cat(list(encs))


def shape_groups(shapes: Sequence, batch_size: int) -> list[list[int]]:
    """Indices grouped by equal ``shapes[k]``, in order of first appearance, chunked to ``batch_size``.

    Every chunk holds indices of one shape only; chunks of a shape follow each other.
    """
    groups: dict[object, list[int]] = {}
    for k, shape in enumerate(shapes):
        groups.setdefault(shape, []).append(k)
    chunks: list[list[int]] = []
    for members in groups.values():
        chunks.extend(members[s : s + batch_size] for s in range(0, len(members), batch_size))
    return chunks


class EncoderCache:
    """Encoder features of a list of images, computed once.

    Args:
        model: an object with ``encode(img (B,3,H,W)) -> EncodedImages``.
        device: where the images are encoded and the features kept.
        transfer: ``transfer(tensor) -> tensor on device`` (default: ``tensor.to(device)``).
    """

    def __init__(self, model, device: torch.device, transfer: Callable | None = None) -> None:
        self.model = model
        self.device = device
        self._transfer = transfer or (lambda t: t.to(self.device, non_blocking=True))
        self._features: dict[int, EncodedImages] = {}

    def __len__(self) -> int:
        return len(self._features)

    def encode_all(
        self,
        tensors: Sequence[torch.Tensor],
        batch_size: int,
        after_batch: Callable[[int], None] | None = None,
        keys: Sequence[int] | None = None,
    ) -> None:
        """Encode ``tensors[k]`` (each ``(1,3,H,W)``) and keep it as ``keys[k]`` (default ``k``), batching equal
        shapes; ``after_batch(done)`` follows each batch (it may raise to stop, e.g. on cancel)."""
        keys = range(len(tensors)) if keys is None else [int(key) for key in keys]
        done = 0
        for chunk in shape_groups([tuple(t.shape) for t in tensors], batch_size):
            batch = self._transfer(torch.cat([tensors[k] for k in chunk], dim=0))
            for k, enc in zip(chunk, split_encoded(self.model.encode(batch)), strict=True):
                self._features[keys[k]] = enc
            done += len(chunk)
            if after_batch is not None:
                after_batch(done)

    def gather(self, indices: Sequence[int]) -> EncodedImages:
        """The cached features of ``indices`` (equal shapes) as one batch."""
        return stack_encoded([self._features[k] for k in indices])

    def hw(self, index: int) -> tuple[int, int]:
        """``(H, W)`` of the image cached as ``index``."""
        return self._features[index].hw

    def tokens(self, index: int) -> torch.Tensor:
        """The ``(1, N, E)`` encoder tokens of image ``index`` (for global descriptors)."""
        return self._features[index].tokens

    def forget(self, indices: Sequence[int]) -> None:
        """Drop the features of ``indices`` (e.g. a footage frame that was only localised)."""
        for index in indices:
            self._features.pop(int(index), None)

    def clear(self) -> None:
        """Drop the cached features (frees their memory once no batch refers to them)."""
        self._features.clear()
