"""Global image descriptors from the encoder tokens, for the ``retrieval-K`` scene graph.

The encoder runs on every photo anyway (encode once, decode many), so its output tokens give a descriptor
for free: each token ``(E,)`` is L2-normalised, the tokens of a photo are averaged (mean pooling of
normalised features, as in NetVLAD-free retrieval baselines), the set's mean descriptor is subtracted
(DUSt3R's tokens share a large common component that would make every photo look alike) and the result is
L2-normalised again. Similarity is the cosine of two descriptors, in ``[-1, 1]``.

Photos of different sizes (landscape and portrait) have different token counts; pooling makes their
descriptors comparable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def pooled_descriptor(tokens: torch.Tensor) -> np.ndarray:
    """``(E,)`` float32 mean of the L2-normalised tokens of one image (``tokens``: ``(1, N, E)`` or ``(N, E)``)."""
    x = tokens.detach().reshape(-1, tokens.shape[-1]).to("cpu", torch.float32)
    x = torch.nn.functional.normalize(x, dim=-1)
    return x.mean(dim=0).numpy()


def global_descriptors(tokens: Sequence[torch.Tensor]) -> np.ndarray:
    """``(N, E)`` float32 unit descriptors of N images from their encoder tokens (see the module docstring).

    A set of one image gives its pooled descriptor normalised (nothing to centre against).
    """
    pooled = np.stack([pooled_descriptor(t) for t in tokens]).astype(np.float64)
    if len(pooled) > 1:
        pooled -= pooled.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def similarity_matrix(descriptors: np.ndarray) -> np.ndarray:
    """``(N, N)`` float32 cosine similarities of unit descriptors ``(N, E)`` (diagonal 1)."""
    d = np.asarray(descriptors, dtype=np.float32)
    return np.clip(d @ d.T, -1.0, 1.0)
