"""Benchmark on an NVIDIA GPU: fp32 vs bf16 vs fp16 pairs per second, peak VRAM, TFLOP/s, agreement.

Run from the repository root on a machine with CUDA (about 3 minutes on a recent data-centre GPU)::

    python benchmarks/bench_gpu.py [--photos 8] [--out gpu.md]

For the ``DUSt3R_ViTLarge_BaseDecoder_512_dpt`` (512x384 photos) and ``..._224_linear`` (224x224)
configurations with random weights, on the complete graph of ``--photos`` synthetic photos, and for each
precision (fp32, bf16, fp16 autocast; the predictor's automatic batch size unless ``--batch-size``):

* seconds of the whole ``predict_pairs`` call (each photo encoded once, every pair decoded), pairs per
  second, and the achieved TFLOP/s (FLOPs from :mod:`core.resources.network_cost`) against the card's
  matmul peak in that precision measured in the same run (8192^3 products; fp32 with TF32 off, as torch's
  default for matmuls);
* peak VRAM (``torch.cuda.max_memory_allocated``) and the growth of the allocated memory between the first
  and the last decoded batch (results leave the GPU per batch: it must be ~0);
* agreement with fp32: median and 99th percentile of the relative pointmap difference, confidence difference.

Without CUDA it prints one line on stderr and exits with status 2 (``--allow-cpu`` runs the same code on
the CPU with tiny configurations, for tests).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from precision_common import DTYPES, agreement, matmul_gflops  # noqa: E402

from core.config import InferenceConfig  # noqa: E402
from core.graphs.photos import make_pairs  # noqa: E402
from core.inference.predictor import choose_batch_size, predict_pairs  # noqa: E402
from core.model.configs import get_config  # noqa: E402
from core.model.dust3r import build_model  # noqa: E402
from core.resources.network_cost import decode_activation_bytes, decode_flops, encode_flops  # noqa: E402

CONFIGS = {
    "DUSt3R_ViTLarge_BaseDecoder_512_dpt": (384, 512),
    "DUSt3R_ViTLarge_BaseDecoder_224_linear": (224, 224),
}
TINY_CONFIGS = {"tiny_dpt": (64, 96), "tiny_linear_224": (32, 32)}
PRECISIONS = ("fp32", "bf16", "fp16")


def synthetic_photos(n: int, hw: tuple[int, int], seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    low = [torch.rand(1, 3, max(hw[0] // 32, 2), max(hw[1] // 32, 2), generator=gen) for _ in range(n)]
    return [(torch.nn.functional.interpolate(x, size=hw, mode="bicubic") * 2 - 1).clamp(-1, 1) for x in low]


class MemoryTrace:
    """A sink that keeps the predictions and the allocated GPU memory after every received pair."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.preds, self.allocated = device, [], []

    def __call__(self, pred) -> None:
        self.preds.append(pred)
        if self.device.type == "cuda":
            self.allocated.append(torch.cuda.memory_allocated(self.device))

    def growth(self) -> int:
        return (self.allocated[-1] - self.allocated[0]) if len(self.allocated) > 1 else 0


def run_precision(model, images, pairs, precision: str, device, batch_size) -> tuple[float, MemoryTrace, int]:
    config = InferenceConfig(device=device.type, precision=precision, batch_size=batch_size)
    predict_pairs(model, images[:2], [(0, 1)], config)  # warm-up: kernels, RoPE tables, allocator
    trace = MemoryTrace(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    predict_pairs(model, images, pairs, config, sink=trace)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0
    return seconds, trace, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=8, help="photos per configuration (complete graph)")
    parser.add_argument("--batch-size", type=int, default=None, help="pairs per batch (default: automatic)")
    parser.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU with tiny configs (tests)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available() and not args.allow_cpu:
        print("error: no CUDA GPU is available to torch here; run this benchmark on a machine with an "
              "NVIDIA GPU and a CUDA build of torch", file=sys.stderr)  # fmt: skip
        return 2
    device = torch.device("cuda" if torch.cuda.is_available() and not args.allow_cpu else "cpu")
    configs = CONFIGS if device.type == "cuda" else TINY_CONFIGS
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    lines = [f"# GPU benchmark: {name}, torch {torch.__version__}, {args.photos} photos, complete graph", ""]
    n = 4096 if device.type == "cuda" else 256
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        n = 8192
    peaks = {p: matmul_gflops(DTYPES[p], n=n, device=device) for p in PRECISIONS}
    lines.append("matmul peak: " + ", ".join(f"{p} {peaks[p] / 1e3:.1f} TFLOP/s" for p in PRECISIONS))
    lines += ["", "| config | precision | batch | seconds | pairs/s | speed-up vs fp32 | TFLOP/s | % of matmul peak | "
              "peak VRAM GB | VRAM growth MB | pointmap rel. diff median | p99 | confidence rel. diff median | p99 |",
              "|---" * 14 + "|"]  # fmt: skip
    print("\n".join(lines), flush=True)
    for config_name, hw in configs.items():
        config = get_config(config_name)
        torch.manual_seed(0)
        model = build_model(config).to(device).eval()
        images = synthetic_photos(args.photos, hw)
        pairs = make_pairs(args.photos, "complete")
        flops = args.photos * encode_flops(config, hw) + len(pairs) * decode_flops(config, hw)
        reference, base_seconds = None, None
        for precision in PRECISIONS:
            seconds, trace, peak = run_precision(model, images, pairs, precision, device, args.batch_size)
            base_seconds = base_seconds or seconds
            reference = reference or trace.preds
            agree = agreement(reference, trace.preds)
            tflops = flops / seconds / 1e12
            batch = choose_batch_size(args.batch_size, device, decode_activation_bytes(config, hw, precision))
            row = (f"| {config_name} | {precision} | {batch} | {seconds:.2f} | {len(pairs) / seconds:.1f} | "
                   f"{base_seconds / seconds:.2f}x | {tflops:.1f} | {100 * tflops * 1e3 / peaks[precision]:.0f}% | "
                   f"{peak / 1e9:.2f} | {trace.growth() / 1e6:.1f} | {agree['pts_median']:.2e} | "
                   f"{agree['pts_p99']:.2e} | {agree['conf_median']:.2e} | {agree['conf_p99']:.2e} |")  # fmt: skip
            lines.append(row)
            print(row, flush=True)
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    lines.append(f"\n(load average {os.getloadavg()[0]:.1f})")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
