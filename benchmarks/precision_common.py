"""Helpers shared by the precision benchmarks: matmul peaks per dtype, agreement of two runs' outputs.

Not a benchmark itself; imported by ``bench_inference.py``, ``bench_precision.py`` and ``bench_gpu.py``.
"""

from __future__ import annotations

import time

import numpy as np
import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def matmul_gflops(dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 3, device="cpu") -> float:
    """Best throughput of ``n x n`` matrix products in ``dtype`` on ``device``, GFLOP/s (2 n^3 per product)."""
    device = torch.device(device)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    a @ b  # warm-up
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def agreement(reference: list, other: list) -> dict[str, float]:
    """How far ``other``'s pair predictions are from ``reference``'s (both lists of PairPrediction).

    Returns median and 99th percentile of the per-pixel relative pointmap difference
    ``|X - X_ref| / |X_ref|`` (both views), of the relative confidence difference, and the largest one.
    """
    rel_pts, rel_conf = [], []
    for a, b in zip(reference, other, strict=True):
        for pts in ("pts3d_i", "pts3d_j"):
            x, y = getattr(a, pts).astype(np.float64), getattr(b, pts).astype(np.float64)
            norm = np.linalg.norm(x, axis=-1)
            rel_pts.append((np.linalg.norm(y - x, axis=-1) / np.maximum(norm, 1e-12)).ravel())
        for conf in ("conf_i", "conf_j"):
            x, y = getattr(a, conf).astype(np.float64), getattr(b, conf).astype(np.float64)
            rel_conf.append((np.abs(y - x) / np.maximum(np.abs(x), 1e-12)).ravel())
    pts, conf = np.concatenate(rel_pts), np.concatenate(rel_conf)
    finite_pts, finite_conf = pts[np.isfinite(pts)], conf[np.isfinite(conf)]
    return {
        "pts_median": float(np.median(finite_pts)),
        "pts_p99": float(np.percentile(finite_pts, 99)),
        "pts_max": float(finite_pts.max()),
        "conf_median": float(np.median(finite_conf)),
        "conf_p99": float(np.percentile(finite_conf, 99)),
        "nonfinite": int((~np.isfinite(pts)).sum() + (~np.isfinite(conf)).sum()),
    }


def relative_differences(reference: list, other: list) -> np.ndarray:
    """All per-pixel signed relative pointmap differences (along each point) of ``other`` vs ``reference``."""
    values = []
    for a, b in zip(reference, other, strict=True):
        for pts in ("pts3d_i", "pts3d_j"):
            x, y = getattr(a, pts).astype(np.float64), getattr(b, pts).astype(np.float64)
            norm = np.maximum(np.linalg.norm(x, axis=-1), 1e-12)
            values.append((np.linalg.norm(y, axis=-1) / norm - 1.0).ravel())
    out = np.concatenate(values)
    return out[np.isfinite(out)]
