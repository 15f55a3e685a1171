"""THE global image descriptor, from the encoder tokens: the ``retrieval-K`` photo graph and footage loop closure.

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


def pooled_descriptor(tokens) -> np.ndarray:
    """``(E,)`` float64 mean of the L2-normalised encoder tokens of one image.

    Args:
        tokens: ``(T, E)`` or ``(1, T, E)``, a torch tensor (any device, any float dtype) or a numpy array.
    """
    if hasattr(tokens, "detach"):  # a torch tensor: to the host as float32 first
        tokens = tokens.detach().float().cpu().numpy()
    t = np.asarray(tokens, dtype=np.float64)
    if t.ndim == 3 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 2:
        raise ValueError(f"tokens must be (T, E) or (1, T, E), got {t.shape}")
    return (t / np.maximum(np.linalg.norm(t, axis=-1, keepdims=True), 1e-12)).mean(axis=0)


def descriptors_from_pooled(pooled: np.ndarray) -> np.ndarray:
    """``(N, E)`` pooled tokens -> ``(N, E)`` float64 unit descriptors: centred on the set's mean (what every
    image of the set shares says nothing about which images overlap), then normalised. A set of one image
    is only normalised (nothing to centre against)."""
    desc = np.asarray(pooled, dtype=np.float64)
    if len(desc) > 1:
        desc = desc - desc.mean(axis=0, keepdims=True)
    return desc / np.maximum(np.linalg.norm(desc, axis=-1, keepdims=True), 1e-12)


def global_descriptors(tokens: Sequence) -> np.ndarray:
    """``(N, E)`` float32 unit descriptors of N images from their encoder tokens (see the module docstring)."""
    return descriptors_from_pooled(np.stack([pooled_descriptor(t) for t in tokens])).astype(np.float32)


def similarity_matrix(descriptors: np.ndarray) -> np.ndarray:
    """``(N, N)`` float32 cosine similarities of unit descriptors ``(N, E)`` (diagonal 1)."""
    d = np.asarray(descriptors, dtype=np.float32)
    return np.clip(d @ d.T, -1.0, 1.0)
