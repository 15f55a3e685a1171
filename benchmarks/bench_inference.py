"""Benchmark: encode-once pair inference vs the reference's re-encode-per-pair, full-size 512 DPT network;
and fp32 vs bf16 (vs fp16) autocast per pair, against the matmul peak of each precision.

Run from the repository root::

    .venv/bin/python benchmarks/bench_inference.py [--quick] [--out results.md]
    .venv/bin/python benchmarks/bench_inference.py --skip-strategies --precisions fp32 bf16 [--model NAME]

Precision table: for each precision, one encode and one pair decode timed on their own (after a warm-up),
the achieved GFLOP/s of each against the matmul throughput of THAT precision measured in the same run
(2048^3 products), seconds per pair of a whole encode-once run on ``--precision-n`` photos (complete
graph), its speed ratio to fp32 and its agreement with fp32 (median and 99th percentile of the relative
pointmap difference). On CPUs with AMX / AVX-512 BF16 (``precision auto`` picks bf16 there) the target is a
ratio >= 2.5x with a median difference <= 1 %; elsewhere bf16 is emulated and the table shows how much
slower it is, which is why ``auto`` keeps float32 there.

The network is ``DUSt3R_ViTLarge_BaseDecoder_512_dpt`` with random weights (no checkpoint needed), the photos
are synthetic 512x384 images, the scene graph is ``complete`` symmetrized (N(N-1) ordered pairs). For each N
both strategies run in the same process on the same inputs; the script reports seconds per pair, the time
ratio, the largest output difference between the strategies, achieved GFLOP/s against this machine's float32
matmul throughput (measured in the same run), the peak resident memory of each run, and the FLOP ratio for
larger N from ``torch.utils.flop_counter.FlopCounterMode`` (one encode and one pair decode counted, the rest
computed: re-encode costs ``P (2E + D)``, encode-once ``N E + P D``).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `core` as a top-level package

sys.path.insert(0, str(Path(__file__).resolve().parent))
from precision_common import DTYPES, agreement
from precision_common import matmul_gflops as matmul_gflops_of

from core.config import InferenceConfig
from core.graphs.photos import make_pairs
from core.inference.precision import auto_precision
from core.inference.predictor import predict_pairs
from core.model.configs import get_config
from core.model.dust3r import build_model

MODEL_NAME = "DUSt3R_ViTLarge_BaseDecoder_512_dpt"
HEIGHT, WIDTH = 384, 512
FLOP_RATIO_NS = (8, 20, 50)


class PeakRss:
    """Peak resident set size (bytes) of this process while the block runs, sampled from /proc."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def current() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # not Linux: fall back to the lifetime peak
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 matmul throughput of ``n x n`` products, GFLOP/s (2 n^3 flops each)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


# FlopCounterMode knows the CUDA attention kernels but not the CPU one that SDPA dispatches to here.
CUSTOM_FLOPS = {}
if hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"):
    CUSTOM_FLOPS[torch.ops.aten._scaled_dot_product_flash_attention_for_cpu] = _cpu_sdpa_flops


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs (2 per multiply-add) of the matmuls, convolutions and attention run by ``fn``."""
    with FlopCounterMode(display=False, custom_mapping=CUSTOM_FLOPS) as counter:
        fn()
    return int(counter.get_total_flops())


def encode_decode_flops(model, hw=(HEIGHT, WIDTH)) -> tuple[int, int]:
    """FLOPs of encoding one image (E) and of decoding one pair (D), counted on a real run."""
    img = synthetic_images(1, seed=123, hw=hw)[0]
    with torch.inference_mode():
        enc_flops = count_flops(lambda: model.encode(img))
        enc = model.encode(img)
        dec_flops = count_flops(lambda: model.decode(enc, enc))
    return enc_flops, dec_flops


def stage_seconds(model) -> tuple[float, float]:
    """Wall seconds of one encode (one 512x384 image) and of one pair decode, measured once each."""
    img = synthetic_images(1, seed=321)[0]
    with torch.inference_mode():
        start = time.perf_counter()
        enc = model.encode(img)
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        model.decode(enc, enc)
        decode_s = time.perf_counter() - start
    return encode_s, decode_s


@dataclass
class Run:
    seconds: float
    peak_rss: int
    outputs: list


def run_strategy(model, images, pairs, strategy: str, batch_size: int, precision: str = "fp32") -> Run:
    config = InferenceConfig(device="cpu", precision=precision, batch_size=batch_size)
    with PeakRss() as rss:
        start = time.perf_counter()
        outputs = predict_pairs(model, images, pairs, config, strategy=strategy)
        seconds = time.perf_counter() - start
    return Run(seconds, rss.peak, outputs)


def max_abs_diff(a: list, b: list) -> float:
    """Largest |a - b| over all maps of all pairs; inf when the two disagree on which values are not finite."""
    worst = 0.0
    for pa, pb in zip(a, b, strict=True):
        for name in ("pts3d_i", "conf_i", "pts3d_j", "conf_j"):
            x, y = getattr(pa, name), getattr(pb, name)
            finite = np.isfinite(x) & np.isfinite(y)
            if not np.array_equal(np.isfinite(x), np.isfinite(y)):
                return float("inf")
            if finite.any():
                worst = max(worst, float(np.abs(x[finite].astype(np.float64) - y[finite]).max()))
    return worst


def synthetic_images(n: int, seed: int = 0, hw: tuple[int, int] = (HEIGHT, WIDTH)) -> list[torch.Tensor]:
    """Smooth random images in [-1, 1] (random weights do not care, but keep the values photo-like)."""
    gen = torch.Generator().manual_seed(seed)
    images = []
    for _ in range(n):
        low = torch.rand(1, 3, max(hw[0] // 32, 2), max(hw[1] // 32, 2), generator=gen)
        img = torch.nn.functional.interpolate(low, size=hw, mode="bicubic", align_corners=False)
        images.append((img * 2 - 1).clamp(-1, 1).contiguous())
    return images


def precision_seconds(model, precision: str, hw) -> tuple[float, float]:
    """One encode and one pair decode under ``precision``'s autocast, after a warm-up of each."""
    dtype = None if precision == "fp32" else DTYPES[precision]
    context = torch.autocast("cpu", dtype=dtype) if dtype else torch.autocast("cpu", enabled=False)
    img = synthetic_images(1, seed=321, hw=hw)[0]
    with torch.inference_mode(), context:
        enc = model.encode(img)
        model.decode(enc, enc)
        start = time.perf_counter()
        enc = model.encode(img)
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        model.decode(enc, enc)
        decode_s = time.perf_counter() - start
    return encode_s, decode_s


def precision_table(model, args, hw, enc_flops: int, dec_flops: int) -> list[str]:
    lines = ["", f"auto precision on this CPU: {auto_precision(torch.device('cpu'))} "
             f"(capability {torch.backends.cpu.get_cpu_capability()})", "",
             "| precision | matmul GFLOP/s | encode s | encode GFLOP/s (% of matmul) | pair decode s | "
             "decode GFLOP/s (% of matmul) | run s/pair | speed vs fp32 | pointmap rel. diff median | p99 | "
             "load avg |", "|---" * 11 + "|"]  # fmt: skip
    print("\n".join(lines), flush=True)
    n = args.precision_n
    images = synthetic_images(n, seed=7, hw=hw)
    pairs = make_pairs(n, "complete")
    base_run, base_outputs = None, None
    for precision in args.precisions:
        peak = matmul_gflops_of(DTYPES[precision])
        encode_s, decode_s = precision_seconds(model, precision, hw)
        run = run_strategy(model, images, pairs, "encode_once", args.batch_size, precision)
        base_run = base_run or run.seconds
        base_outputs = base_outputs or run.outputs
        agree = agreement(base_outputs, run.outputs)
        enc_g, dec_g = enc_flops / encode_s / 1e9, dec_flops / decode_s / 1e9
        row = (f"| {precision} | {peak:.3g} | {encode_s:.2f} | {enc_g:.1f} ({100 * enc_g / peak:.0f}%) | {decode_s:.2f} | "
               f"{dec_g:.1f} ({100 * dec_g / peak:.0f}%) | {run.seconds / len(pairs):.2f} | {base_run / run.seconds:.2f}x | "
               f"{agree['pts_median']:.2e} | {agree['pts_p99']:.2e} | {os.getloadavg()[0]:.1f} |")  # fmt: skip
        lines.append(row)
        print(row, flush=True)
    return lines


def gib(n_bytes: int) -> str:
    return f"{n_bytes / 2**30:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 2 only")
    parser.add_argument(
        "--n", type=int, nargs="+", default=[2, 3, 4], metavar="N", help="photo counts (default 2 3 4)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=1, help="pairs per batch (default 1, as the reference)"
    )
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)"
    )
    parser.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    parser.add_argument("--model", default=MODEL_NAME, help="network configuration (default: %(default)s)")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=list(DTYPES))
    parser.add_argument("--precision-n", type=int, default=2, help="photos of the precision runs (default 2)")
    parser.add_argument("--skip-strategies", action="store_true", help="only the precision table")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = get_config(args.model)
    hw = (224, 224) if config.img_size == 224 else (HEIGHT, WIDTH)
    lines = [
        f"# Inference benchmark: {args.model}, random weights, {hw[1]}x{hw[0]} images, complete graph",
        "",
    ]
    lines.append(
        f"torch {torch.__version__}, {args.threads} threads, batch size {args.batch_size}, float32, CPU"
    )

    with PeakRss() as rss_model:
        model = build_model(config).eval()
    peak_gflops = matmul_gflops()
    enc_flops, dec_flops = encode_decode_flops(model, hw)
    pair_flops_reencode = 2 * enc_flops + dec_flops
    lines.append(
        f"float32 matmul 2048x2048: {peak_gflops:.1f} GFLOP/s (load average {os.getloadavg()[0]:.1f})"
    )
    lines.append(f"FLOPs: encode one image E = {enc_flops / 1e12:.3f} T, decode one pair D = {dec_flops / 1e12:.3f} T, "
                 f"re-encoded pair 2E+D = {pair_flops_reencode / 1e12:.3f} T")  # fmt: skip
    if args.skip_strategies:
        lines += precision_table(model, args, hw, enc_flops, dec_flops)
        if args.out:
            args.out.write_text("\n".join(lines) + "\n")
        return 0
    encode_s, decode_s = stage_seconds(model)
    lines.append(f"one encode: {encode_s:.1f} s ({enc_flops / encode_s / 1e9:.1f} GFLOP/s); one pair decode: "
                 f"{decode_s:.1f} s ({dec_flops / decode_s / 1e9:.1f} GFLOP/s)")  # fmt: skip
    print("\n".join(lines), flush=True)

    lines.append(f"model build: peak RSS {gib(rss_model.peak)} GiB")
    header = [
        "",
        "| N | pairs | strategy | seconds | s/pair | time ratio | GFLOP/s | matmul GFLOP/s | % of matmul | "
        "load avg | peak RSS GiB | max abs diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += header
    print("\n".join(header), flush=True)
    for n in [2] if args.quick else args.n:
        images = synthetic_images(n, seed=n)
        pairs = make_pairs(n, "complete")
        p = len(pairs)
        # measured again for every N: other processes on the machine change it (see the load average)
        matmul_now, load = matmul_gflops(), os.getloadavg()[0]
        ref = run_strategy(model, images, pairs, "reencode", args.batch_size)
        ours = run_strategy(model, images, pairs, "encode_once", args.batch_size)
        diff = max_abs_diff(ref.outputs, ours.outputs)
        flops = {"reencode": p * pair_flops_reencode, "encode_once": n * enc_flops + p * dec_flops}
        for name, run in (("reencode", ref), ("encode_once", ours)):
            gflops = flops[name] / run.seconds / 1e9
            ratio = ref.seconds / run.seconds
            row = (f"| {n} | {p} | {name} | {run.seconds:.1f} | {run.seconds / p:.2f} | {ratio:.2f}x | {gflops:.1f} | "
                   f"{matmul_now:.1f} | {100 * gflops / matmul_now:.0f}% | {load:.1f} | {gib(run.peak_rss)} | "
                   f"{diff:.2e} |")  # fmt: skip
            lines.append(row)
            print(row, flush=True)

    flop_lines = ["", "| N | pairs | FLOP ratio re-encode / encode-once |", "|---|---|---|"]
    for n in (2, 3, 4, *FLOP_RATIO_NS):
        p = n * (n - 1)
        ratio = p * pair_flops_reencode / (n * enc_flops + p * dec_flops)
        flop_lines.append(f"| {n} | {p} | {ratio:.2f}x |")
    lines += flop_lines
    lines.append(
        f"\nprocess peak RSS (ru_maxrss): {gib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)} GiB"
    )
    # Other processes competing for the cores show up as a drop between the two matmul measurements.
    lines.append(f"float32 matmul 2048x2048 again at the end: {matmul_gflops():.1f} GFLOP/s; load average "
                 f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print("\n".join(flop_lines + lines[-2:]), flush=True)
    lines += precision_table(model, args, hw, enc_flops, dec_flops)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
