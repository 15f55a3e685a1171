"""The memory (and time) model of a run: what a reconstruction will need before it starts.

:func:`estimate_run` is pure, torch-free and fast (microseconds, plus one 30 ms matmul the first time it
times this CPU), so the Blender sidebar can call it from a property update ("380 pairs, about 3.2 GB,
about 25 min on this CPU"), and the pipeline's guard calls it before any work.

The model follows the pipeline's phases and takes the largest (bytes; ``HW`` a view's network pixels):

* always: the Python/torch runtime, and the network images (``15 HW`` per photo: uint8 RGB + float32
  tensor) plus their float32 colours for the result (``12 HW``);
* inference: the weights (float32, 4 bytes per parameter), the encoder cache (one token map per photo), one
  batch's activations (:func:`~.network_cost.decode_activation_bytes`) and the pair store (float16,
  ``16 (HW_i + HW_j)`` per pair, zero in RAM when it is on disk);
* alignment (``dense``): the pair store, the camera solve's pixel subsample (float64, per pair ``2 P (3 + 1)``
  values for the ``P`` samples per view that ``fast_pixels`` gives, times the working copies of an
  iteration), the dense stage's arrays for the view with most pairs, the depth maps so far; ``paper``
  alignment holds every pair at full resolution in float32 plus Adam's state;
* alignment (``sparse``, :mod:`core.align.sparse`): the same solve on ``anchor_pixels`` anchors per view, one
  block of the depth stage (:data:`SPARSE_DEPTH_BLOCK_BYTES`), the depth maps so far; the pair store is on
  disk unless the user keeps it in RAM. ``auto`` takes dense when it fits (:func:`choose_alignment`), else
  sparse;
* result: the aligned views (depth, world points, confidence), their copy in the output frame, the clean-up's
  confidences and the reconstruction (``~60 HW`` per photo in all).

Constants marked "measured" come from ``benchmarks/bench_scale.py`` and the full network's batches on the
development machine (README, "Scale and memory"); there the estimate came within 10 % of the measured peak
RSS from 20 to 200 photos.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..config import AlignConfig, InferenceConfig
from ..model.configs import MODEL_CONFIGS, ModelConfig, get_config
from .hardware import MemoryInfo, available_memory, cpu_has_bf16_flags

__all__ = ["MemoryInfo", "RunEstimate", "available_memory", "estimate_run", "format_bytes", "format_seconds"]
from .network_cost import (
    decode_activation_bytes,
    decode_flops,
    encode_flops,
    network_batch_bytes,
    parameter_count,
    token_bytes,
)

RUNTIME_BYTES = 240 * 2**20  # measured: Python + torch + numpy + scipy + Pillow imported (Linux, torch 2.13)
# measured (bench_scale.py, 20-200 photos): the peak RSS exceeds the sum of the arrays by 4-10 % (allocator
# slack, Python objects, file buffers); the estimate adds the middle of that range to everything but the runtime
ALLOCATOR_OVERHEAD = 1.06
IMAGE_BYTES_PER_PIXEL = 15 + 12  # uint8 RGB + float32 (1,3,H,W) tensor, and float32 colours of the result
STORE_BYTES_PER_PIXEL = 16  # per pair and pixel: two views x (xyz + confidence) x float16
SOLVER_COPIES = 8.0  # measured: working arrays of one fast-solver iteration, in units of the samples
DENSE_ARRAYS = 6  # float32 (pairs of the view, HW) arrays of the dense stage (along, perp, weight, irls...)
SLOT_BYTES = 2 * (8 + 8 + 8)  # per pair: the two slots' incidence entries (value, column, row pointer share)
SPARSE_DEPTH_BLOCK_BYTES = 32 * 2**20  # the sparse path's depth stage works in blocks of rows of this size
RESULT_BYTES_PER_PIXEL = 60  # measured: aligned views + output-frame copy + clean-up + reconstruction
PAPER_BYTES_PER_PAIR_PIXEL = 2 * (3 + 1) * 4 * 4  # float32 pts + weights, forward, backward, Adam
# Time, scaled by this CPU's numpy float32 matmul speed (cpu_matmul_gflops) against REF_MATMUL_GFLOPS, the
# speed when these were measured (benchmarks/bench_scale.py, README "Scale"): the full 512 DPT network ran
# at 1.2x (encode) and 0.9x (pair decode) that matmul speed; the fast alignment took 0.25-0.30 s per pair
# and the occlusion clean-up 6-10e-7 s per ordered view pair and pixel (512x384, 20 and 50 photos).
REF_MATMUL_GFLOPS = 13.0
CPU_NETWORK_EFFICIENCY = 0.95
ALIGN_SECONDS_PER_PAIR = 0.28  # at 512x384; half of it scales with the pixels (dense depth), half does not
CLEAN_SECONDS_PER_VIEW_PAIR_PIXEL = 7e-7
# the camera refinement (on by default): matching each view with its most-overlapping partners (at most
# RefineConfig.max_partners) and the bundle adjustment; measured 0.1-0.3 s per (view, partner) at 256x192 on
# the synthgen cases (benchmarks/bench_refine.py, docs/BENCHMARKS.md); its points per view are capped, so it
# grows slowly with the photos' size
REFINE_SECONDS_PER_VIEW_PARTNER = 0.25
REFINE_MAX_PARTNERS = 8
REF_PIXELS = 384 * 512
# bfloat16 speed-up on CPUs with AMX / AVX-512 BF16 (issue 12's measurement: 3.3x encode, 2.1x decode; not
# measurable here), and emulated bf16/fp16 elsewhere (about 12x slower, issue 12 and bench_inference.py).
FAST_BF16_SPEEDUP = 2.5
SLOW_BF16_SPEEDUP = 1 / 12
GPU_DEFAULT_TFLOPS = 30.0  # effective, when the caller does not say (a mid-range GPU in fp16/bf16)
AUTO_FIT = 0.75  # `auto` choices (pair storage, alignment memory) keep the peak under this share of free RAM


def format_bytes(n: float) -> str:
    """``n`` bytes as ``"3.2 GB"`` / ``"850 MB"`` (decimal units, as file browsers show them)."""
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def format_seconds(s: float) -> str:
    """``"40 s"``, ``"25 min"`` or ``"3.5 h"``."""
    if not math.isfinite(s):
        return "unknown time"
    if s < 90:
        return f"{s:.0f} s"
    return f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"


@dataclass(frozen=True)
class RunEstimate:
    """What a run is expected to need.

    Attributes:
        peak_ram_bytes: peak resident memory of a process doing the whole run (runtime included).
        peak_vram_bytes: peak GPU memory (0 on the CPU).
        seconds_estimate: network + alignment time, on this CPU or the given GPU.
        explanation: one line for the user, e.g. ``"380 pairs, about 3.2 GB, about 25 min on this CPU"``.
        num_photos, num_pairs: the run's size (``num_pairs`` may be an upper bound for retrieval graphs).
        precision: the resolved precision the estimate assumes; device: ``cpu``, ``cuda`` or ``mps``.
        storage: where the pair predictions go (``ram`` or ``disk``); disk_bytes: scratch space needed.
        phase: the phase that peaks (``inference``, ``alignment``, ``depth maps`` or ``result``);
            components: its parts; phase_bytes: every phase's total.
        advice: what to change when it does not fit.
        available_vram_bytes: free GPU memory the caller reported (None when unknown or on the CPU).
        resident_bytes: the part of the peak this process already holds when the estimate is made (the
            runtime once torch is imported, a model the caller keeps): the guard needs only the rest.
        align_memory: the alignment path the estimate assumes (``dense`` or ``sparse``, see
            ``AlignConfig.memory``); the pipeline runs that one.
    """

    peak_ram_bytes: int
    peak_vram_bytes: int
    seconds_estimate: float
    explanation: str
    num_photos: int
    num_pairs: int
    precision: str
    device: str
    storage: str
    disk_bytes: int
    phase: str
    components: dict[str, int] = field(default_factory=dict)
    phase_bytes: dict[str, int] = field(default_factory=dict)
    advice: str = ""
    available_vram_bytes: int | None = None
    resident_bytes: int = 0
    align_memory: str = "dense"

    def breakdown(self) -> str:
        """The peak phase's main parts, largest first: ``"model 2.3 GB, pair predictions 1.2 GB, ..."``."""
        parts = sorted(self.components.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{name} {format_bytes(n)}" for name, n in parts if n >= 0.05 * self.peak_ram_bytes)

    def summary(self) -> str:
        return self.explanation


def net_size(photo_size: tuple[int, int], image_size: int) -> tuple[int, int]:
    """``(H, W)`` network pixels of a photo of ``(W0, H0)`` (the crop of ``core.inference.images``, to 16 px)."""
    w0, h0 = (max(int(v), 1) for v in photo_size)
    if image_size == 224:
        return 224, 224
    long_side = max(w0, h0)
    w1, h1 = round(w0 * 512 / long_side), round(h0 * 512 / long_side)
    w2, h2 = max(w1 // 16 * 16, 16), max(h1 // 16 * 16, 16)
    if w2 == h2:
        h2 = 3 * w2 // 4 // 8 * 8  # the reference crops square photos to 4:3
    return h2, w2


def resolve_model(model: str | ModelConfig | None, image_size: int | None) -> ModelConfig:
    """A :class:`ModelConfig` from a registry name, a config, or None (the heaviest official model at
    ``image_size``: the 512 DPT, or the 224 linear)."""
    if isinstance(model, ModelConfig):
        return model
    if model is None:
        name = (
            "DUSt3R_ViTLarge_BaseDecoder_224_linear"
            if image_size == 224
            else "DUSt3R_ViTLarge_BaseDecoder_512_dpt"
        )
        return MODEL_CONFIGS[name]
    return get_config(str(model))


def resolve_precision_name(precision: str, device: str) -> str:
    """``auto`` -> the precision the predictor will pick (torch-free: CPU flags only, CUDA assumed bf16)."""
    if precision != "auto":
        return precision
    if device == "cuda":
        return "bf16"
    if device == "mps":
        return "fp16"
    return "bf16" if cpu_has_bf16_flags() else "fp32"


@lru_cache(maxsize=1)
def cpu_matmul_gflops() -> float:
    """This CPU's float32 matmul speed (numpy, 512x512, best of 3), GFLOP/s; measured once per process."""
    a = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * 512**3 / max(best, 1e-9) / 1e9


@dataclass(frozen=True)
class _Run:
    """The inputs of an estimate, normalised."""

    sizes: list[tuple[int, int]]
    num_pairs: int
    max_slots: int
    config: ModelConfig
    precision: str
    device: str
    batch: int
    fast_pixels: int
    align_method: str
    keep_model: bool
    anchor_pixels: int = 256
    refine: bool = False


def _degrees(num_photos: int, pairs) -> tuple[int, int]:
    """``(number of pairs, most (pair, side) slots of one view)`` from a count or the pairs themselves."""
    if isinstance(pairs, int | np.integer):
        count = int(pairs)
        mean = 2 * count / max(num_photos, 1)
        return count, int(min(math.ceil(1.5 * mean), 2 * max(num_photos - 1, 1)))
    slots = np.zeros(max(num_photos, 1), dtype=np.int64)
    for i, j in pairs:
        slots[i] += 1
        slots[j] += 1
    return len(pairs), int(slots.max()) if len(pairs) else 0


def _store_bytes(run: _Run) -> int:
    """Bytes of the float16 pair store (8 bytes per pixel of each of a pair's two views)."""
    mean_pixels = sum(h * w for h, w in run.sizes) / len(run.sizes)
    return int(STORE_BYTES_PER_PIXEL * mean_pixels * run.num_pairs)


def anchor_grid(height: int, width: int, budget: int) -> tuple[int, int]:
    """``(rows, cols)`` of the sparse path's anchor cells: about ``budget`` cells of the image's aspect (at
    most one per pixel); each cell gives at most one anchor (``core.align.sparse.anchor_pixels``)."""
    rows = min(height, max(1, round(math.sqrt(budget * height / width))))
    cols = min(width, max(1, round(budget / rows)))
    return rows, cols


def solve_samples(height: int, width: int, pixels: int, sparse: bool) -> int:
    """Pixels per view the solve works on: the regular subsample of ``fast_pixels`` (dense, as
    ``core.align.solver.sample_predictions`` takes it) or the anchor cells of ``anchor_pixels`` (sparse)."""
    if sparse:
        rows, cols = anchor_grid(height, width, pixels)
        return rows * cols
    stride = max(1, round(math.sqrt(height * width / pixels)))
    return len(range(stride // 2, height, stride)) * len(range(stride // 2, width, stride))


def alignment_bytes(
    sizes: Sequence[tuple[int, int]],
    num_pairs: int,
    max_slots: int,
    method: str = "fast",
    sparse: bool = False,
    fast_pixels: int = 1024,
    anchor_pixels: int = 256,
) -> dict[str, int]:
    """The alignment's own bytes (without the pair store and the runtime) in its two phases.

    Args:
        sizes: ``(H, W)`` network pixels of each view; num_pairs: ordered pairs; max_slots: most pointmaps of
            one view (pairs containing it); method, sparse, fast_pixels, anchor_pixels: ``AlignConfig``.

    Returns:
        ``{"alignment": camera solve, "depth maps": depth stage + the depth and confidence maps}``.
    """
    pixels = [h * w for h, w in sizes]
    n_pixels, max_pixels = sum(pixels), max(pixels)
    outputs = 8 * n_pixels  # float32 depth and confidence of every view
    if method == "paper":
        solver = PAPER_BYTES_PER_PAIR_PIXEL * 2 * max_pixels * num_pairs
    else:
        budget = anchor_pixels if sparse else fast_pixels
        per_view = max(solve_samples(h, w, budget, sparse) for h, w in sizes)
        samples = num_pairs * 2 * per_view * (3 + 1) * 8
        solver = int(SOLVER_COPIES * samples) + SLOT_BYTES * num_pairs
    if sparse and method != "paper":
        whole_view = DENSE_ARRAYS * 4 * max_slots * max_pixels
        one_row = DENSE_ARRAYS * 4 * max_slots * max(w for _, w in sizes)
        block = max(min(SPARSE_DEPTH_BLOCK_BYTES, whole_view), one_row)
        return {"alignment": solver, "depth maps": block + outputs}
    return {"alignment": solver, "depth maps": DENSE_ARRAYS * 4 * max_slots * max_pixels + outputs}


def choose_alignment(
    sizes: Sequence[tuple[int, int]],
    num_pairs: int,
    max_slots: int,
    available_bytes: int | None,
    fast_pixels: int = 1024,
    anchor_pixels: int = 256,
) -> str:
    """``dense`` when the dense alignment's own bytes (:func:`alignment_bytes`, with the allocator's slack)
    fit in :data:`AUTO_FIT` of ``available_bytes`` (None: unknown, dense), else ``sparse``.

    This is the choice of ``AlignConfig(memory="auto")`` when the aligner is called on predictions that are
    already in memory (``python -m core align``); a whole run chooses in :func:`estimate_run` instead."""
    if available_bytes is None:
        return "dense"
    dense = alignment_bytes(sizes, num_pairs, max_slots, "fast", False, fast_pixels, anchor_pixels)
    return "dense" if ALLOCATOR_OVERHEAD * max(dense.values()) <= AUTO_FIT * available_bytes else "sparse"


def _phases(
    run: _Run, store_in_ram: bool, with_result: bool, sparse: bool = False
) -> dict[str, dict[str, int]]:
    """Bytes of each phase's parts (see the module docstring)."""
    n_pixels = sum(h * w for h, w in run.sizes)
    act = 4 if run.precision == "fp32" else 2
    weights = 4 * parameter_count(run.config)
    images = IMAGE_BYTES_PER_PIXEL * n_pixels
    store = _store_bytes(run)
    common = {"runtime": RUNTIME_BYTES, "photos": images}
    kept_model = {"model": weights} if run.keep_model else {}
    on_gpu = run.device != "cpu"
    inference = {**common, "model": weights}
    if not on_gpu:
        inference["encoder cache"] = sum(token_bytes(run.config, hw, act) for hw in run.sizes)
        inference["network batch"] = network_batch_bytes(run.config, run.sizes[0], run.precision, run.batch)
    if store_in_ram and with_result:  # `infer` writes every pair as it comes
        inference["pair predictions"] = store
    phases = {"inference": inference}
    if not with_result:
        return phases
    kept_store = {"pair predictions": store} if store_in_ram else {}
    parts = alignment_bytes(run.sizes, run.num_pairs, run.max_slots, run.align_method, sparse,
                            run.fast_pixels, run.anchor_pixels)  # fmt: skip
    phases["alignment"] = {**common, **kept_model, **kept_store, "alignment": parts["alignment"]}
    phases["depth maps"] = {**common, **kept_model, **kept_store, "depth maps": parts["depth maps"]}
    phases["result"] = {**common, **kept_model, "result": RESULT_BYTES_PER_PIXEL * n_pixels}
    return phases


def _vram(run: _Run) -> int:
    if run.device == "cpu":
        return 0
    act = 4 if run.precision == "fp32" else 2
    cache = sum(token_bytes(run.config, hw, act) for hw in run.sizes)
    batch = run.batch * decode_activation_bytes(run.config, run.sizes[0], run.precision)
    return 4 * parameter_count(run.config) + cache + batch + 400 * 2**20  # + the CUDA context


def _seconds(run: _Run, gpu_tflops: float | None, matmul_gflops: float | None) -> tuple[float, str]:
    """Network plus alignment seconds, and where (``"on this CPU"``, ``"on the GPU"``)."""
    hw = run.sizes[0]
    flops = sum(encode_flops(run.config, s) for s in run.sizes) + run.num_pairs * decode_flops(run.config, hw)
    if run.device == "cpu":
        speed = CPU_NETWORK_EFFICIENCY * (matmul_gflops or cpu_matmul_gflops()) * 1e9
        if run.precision in ("bf16", "fp16"):
            speed *= (
                FAST_BF16_SPEEDUP if run.precision == "bf16" and cpu_has_bf16_flags() else SLOW_BF16_SPEEDUP
            )
        where = "on this CPU"
    else:
        speed = (gpu_tflops or GPU_DEFAULT_TFLOPS) * 1e12
        where = "on the GPU"
    mean_pixels = sum(h * w for h, w in run.sizes) / len(run.sizes)
    slower = REF_MATMUL_GFLOPS / (matmul_gflops or cpu_matmul_gflops())
    align = ALIGN_SECONDS_PER_PAIR * run.num_pairs * (0.5 + 0.5 * mean_pixels / REF_PIXELS)
    align += CLEAN_SECONDS_PER_VIEW_PAIR_PIXEL * len(run.sizes) * (len(run.sizes) - 1) * mean_pixels
    if run.refine:
        n = len(run.sizes)
        align += REFINE_SECONDS_PER_VIEW_PARTNER * n * min(n - 1, REFINE_MAX_PARTNERS)
    return flops / speed + slower * align, where


@dataclass(frozen=True)
class Machine:
    """What the machine offers, when the caller knows it (tests, benchmarks, the GPU's free memory);
    None: found out (free RAM from :func:`~.hardware.available_memory`, the CPU's matmul speed measured once
    in about 30 ms, no GPU figures)."""

    available_ram_bytes: int | None = None  # for the ``auto`` decisions (pair storage, alignment memory)
    available_vram_bytes: int | None = None
    gpu_tflops: float | None = None  # the GPU's effective speed
    matmul_gflops: float | None = None  # this CPU's float32 matmul speed


def estimate_run(
    photo_sizes: Sequence[tuple[int, int]],
    num_pairs: int | Sequence[tuple[int, int]],
    model: str | ModelConfig | None = None,
    inference: InferenceConfig | None = None,
    align: AlignConfig | None = None,
    device: str = "cpu",
    *,
    keep_model: bool = False,
    with_result: bool = True,
    machine: Machine | None = None,
    refine: bool = False,
) -> RunEstimate:
    """Estimate peak RAM, peak GPU memory and time of a run.

    Args:
        photo_sizes: ``(W0, H0)`` of every photo (the original files; network sizes are derived).
        num_pairs: the number of ordered pairs, or the pairs themselves (then the per-view load is exact).
        model: a registry name or :class:`ModelConfig`; None = the heaviest official model of the size.
        inference: the run's :class:`~core.config.InferenceConfig` (defaults when None): its ``precision``
            (``auto``, ``fp32``, ``bf16``, ``fp16``), ``image_size`` (512 or 224; None: the model's),
            ``batch_size`` (pairs per decode; None: 4, on a GPU the predictor fits it to the free memory) and
            ``pair_storage`` (``ram``, ``disk`` or ``auto``: disk when the RAM store would not fit).
        align: the run's :class:`~core.config.AlignConfig` (``method``, ``fast_pixels``, ``memory``,
            ``anchor_pixels``; defaults when None). With ``auto`` pair storage and alignment memory the first
            that fits :data:`AUTO_FIT` of the free RAM of: RAM store and dense, disk store and dense, disk
            store and sparse (:func:`_choose_layout`); :attr:`RunEstimate.align_memory` says which.
        device: ``cpu``, ``cuda`` or ``mps`` (``auto`` is taken as the CPU: the caller knows better when a GPU
            is there).
        keep_model: the caller holds the network during alignment (a model passed in, Blender's cache).
        with_result: False for ``infer``, which writes each pair as it comes and runs no alignment.
        machine: what the machine offers, when known (:class:`Machine`).
        refine: the camera refinement runs after the alignment (its time is added).
    """
    if not photo_sizes:
        raise ValueError("an estimate needs at least one photo")
    inference = inference or InferenceConfig()
    align = align or AlignConfig()
    machine = machine or Machine()
    available_vram_bytes = machine.available_vram_bytes
    config = resolve_model(model, inference.image_size)
    size = inference.image_size or (224 if config.img_size == 224 else 512)
    device = "cpu" if device == "auto" else str(device).split(":")[0]
    sizes = [net_size(s, size) for s in photo_sizes]
    count, max_slots = _degrees(len(sizes), num_pairs)
    run = _Run(sizes, count, max_slots, config, resolve_precision_name(inference.precision, device), device,
               inference.batch_size or 4, align.fast_pixels, align.method, keep_model,
               align.anchor_pixels, refine and with_result)  # fmt: skip
    in_ram, sparse = _choose_layout(run, inference.pair_storage, align.memory, with_result,
                                    machine.available_ram_bytes)  # fmt: skip
    phases = _phases(run, in_ram, with_result, sparse)
    phase, parts = max(phases.items(), key=lambda kv: sum(kv[1].values()))
    peak = RUNTIME_BYTES + ALLOCATOR_OVERHEAD * (sum(parts.values()) - RUNTIME_BYTES)
    disk = 0 if in_ram or not with_result else _store_bytes(run)
    seconds, where = _seconds(run, machine.gpu_tflops, machine.matmul_gflops)
    vram = _vram(run)
    shown = vram if device != "cpu" else peak
    explanation = f"{count:,} pairs, about {format_bytes(shown)}, about {format_seconds(seconds)} {where}"
    return RunEstimate(
        peak_ram_bytes=int(peak),
        peak_vram_bytes=int(vram),
        seconds_estimate=float(seconds),
        explanation=explanation,
        num_photos=len(sizes),
        num_pairs=count,
        precision=run.precision,
        device=device,
        storage="ram" if in_ram else "disk",
        align_memory="sparse" if sparse else "dense",
        disk_bytes=int(disk),
        phase=phase,
        components=dict(parts),
        phase_bytes={name: int(sum(p.values())) for name, p in phases.items()},
        advice=_advice(len(sizes), count),
        available_vram_bytes=available_vram_bytes,
        resident_bytes=_resident(run),
    )


def _resident(run: _Run) -> int:
    """What of the estimate is in memory already: torch's runtime if imported, a model the caller keeps."""
    runtime = RUNTIME_BYTES if "torch" in sys.modules else 0
    return runtime + (4 * parameter_count(run.config) if run.keep_model and run.device == "cpu" else 0)


def _choose_layout(
    run: _Run, storage: str, align_memory: str, with_result: bool, available: int | None
) -> tuple[bool, bool]:
    """``(pair store in RAM, sparse alignment)``: the given choices, ``auto`` ones resolved by what fits."""
    if not with_result:  # `infer` writes every pair as it comes: the store is what the user chose
        return storage != "disk", False
    stores = [True, False] if storage == "auto" else [storage != "disk"]
    if run.align_method == "paper":
        aligns = [False]
    else:
        aligns = [False, True] if align_memory == "auto" else [align_memory == "sparse"]
    options = [(in_ram, sparse) for sparse in aligns for in_ram in stores]
    if len(options) == 1:
        return options[0]
    if available is None:
        available = available_memory().available_bytes
    if available is None:
        return options[0]
    for in_ram, sparse in options:
        if max(sum(p.values()) for p in _phases(run, in_ram, True, sparse).values()) <= AUTO_FIT * available:
            return in_ram, sparse
    return options[-1]


def _advice(num_photos: int, num_pairs: int) -> str:
    """What to change: a graph with fewer pairs (named, with its pair count), fewer photos."""
    from ..graphs.photos import count_pairs

    options = []
    for graph in ("retrieval-5-5", "retrieval-3-3", "swin-3"):
        n = count_pairs(num_photos, graph)
        if n < num_pairs:
            options.append(f"--graph {graph} (up to {n:,} pairs)")
    graphs = " or ".join(options[:2])
    return (
        f"use a scene graph with fewer pairs ({graphs}), " if graphs else ""
    ) + "fewer photos, or image size 224"
