"""Benchmark: the whole pipeline at 20, 50, 100, 200 photos: pairs, peak RSS vs the memory model, times.

Run from the repository root::

    OMP_NUM_THREADS=2 python benchmarks/bench_scale.py [--n 20 50 100 200] [--graph auto] [--out scale.md]

Each size runs ``core.jobs.photos.reconstruct`` in a fresh subprocess on N synthetic 512x384 photos (smooth
random textures written as PNG) with the tiny random-weight network ``tiny_linear``: its pointmaps have the
real size (512x384), so the pair store, the alignment and the result take the memory they take with the full
network; only the network's own part (weights, encoder cache, activations) differs, and that part is measured
separately with the full ``DUSt3R_ViTLarge_BaseDecoder_512_dpt`` (random weights): one encode and one
decoded batch in a subprocess (``--full-network``). The report gives, per N:

* pairs chosen by the graph (``auto``: complete up to 20 photos, retrieval-5-5 above);
* measured peak RSS of the subprocess (``ru_maxrss``) against :func:`core.resources.memory.estimate_run`
  for the same run (tiny model), and the storage the guard chose;
* the full-model estimate and a composed measurement: tiny-model run + (full-model network phase measured
  minus the tiny model's), for the 16 GB target at 200 photos;
* alignment and clean-up seconds (measured, this CPU), network seconds of the full model on this CPU from
  its measured per-encode and per-pair cost (``--full-network``), and on a GPU from the FLOP count at an
  assumed effective speed (``--gpu-tflops``, default 100 TFLOP/s in bf16).

``min_conf`` is 1 for these runs (random weights give arbitrary confidences; a pair must not be rejected).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.config import InferenceConfig  # noqa: E402
from core.resources.memory import estimate_run, format_bytes  # noqa: E402
from core.resources.network_cost import decode_flops, encode_flops  # noqa: E402

FULL = "DUSt3R_ViTLarge_BaseDecoder_512_dpt"
TINY = "tiny_linear"
W, H = 512, 384


def write_photos(folder: Path, n: int, seed: int = 0) -> list[str]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = []
    for k in range(n):
        low = rng.uniform(0, 255, (6, 8, 3)).astype(np.uint8)
        img = Image.fromarray(low).resize((W, H), Image.Resampling.BICUBIC)
        path = folder / f"photo_{k:04d}.png"
        img.save(path, compress_level=1)
        paths.append(str(path))
    return paths


def child_run(args: argparse.Namespace) -> dict:
    """One pipeline run (in the subprocess): times per stage, peak RSS, the estimate."""
    import torch

    from core.config import AlignConfig, InferenceConfig, ReconstructConfig
    from core.jobs.photos import reconstruct
    from core.model.configs import get_config
    from core.model.dust3r import build_model

    torch.manual_seed(0)
    model = build_model(get_config(TINY))
    paths = sorted(str(p) for p in Path(args.photos).glob("*.png"))
    config = ReconstructConfig(
        inference=InferenceConfig(image_size=512, scene_graph=args.graph, device="cpu", precision="fp32",
                                  pair_storage=args.storage),
        align=AlignConfig(min_conf=1.0),
        clean_depth=args.clean,
    )  # fmt: skip
    marks: dict[str, float] = {}
    start = time.perf_counter()
    sampler = StageRss()

    def progress(stage: str, fraction: float) -> None:
        key = stage.split()[0]
        marks.setdefault(key, time.perf_counter() - start)
        sampler.stage = PHASE_OF.get(key, sampler.stage)

    with sampler:
        reconstruct(paths, None, config, progress=progress, model=model)
    total = time.perf_counter() - start
    log = Path(args.log).read_text() if args.log and Path(args.log).exists() else ""
    match = re.search(r"network: (\d+) pairs", log)
    return {"marks": marks, "total": total, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "phases": sampler.peaks, "pairs": int(match.group(1)) if match else 0}  # fmt: skip


PHASE_OF = {"Loading": "network", "Encoding": "network", "Pairs": "network", "Aligning": "alignment",
            "Depth": "alignment", "Cleaning": "result", "Done": "result"}  # fmt: skip


class StageRss:
    """Peak resident memory per pipeline phase, sampled from /proc/self/statm every 10 ms."""

    def __init__(self) -> None:
        self.stage = "network"
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.01):
            with open("/proc/self/statm") as f:
                rss = int(f.read().split()[1]) * page
            self.peaks[self.stage] = max(self.peaks.get(self.stage, 0), rss)

    def __enter__(self) -> StageRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def full_network(batch: int) -> dict:
    """Peak RSS and seconds of the full network: build, one encode, one decoded batch (in a subprocess)."""
    import torch

    from core.model.configs import get_config
    from core.model.dust3r import build_model

    imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    torch.manual_seed(0)
    model = build_model(get_config(FULL)).eval()
    img = torch.rand(batch, 3, H, W) * 2 - 1
    with torch.inference_mode():
        t = time.perf_counter()
        enc = model.encode(img)
        encode_s = (time.perf_counter() - t) / batch
        t = time.perf_counter()
        model.decode(enc, enc)
        decode_s = (time.perf_counter() - t) / batch
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"encode_s": encode_s, "decode_s": decode_s, "peak": peak, "imports": imports, "batch": batch}


def _subprocess(argv: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, cwd=REPO_ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--graph", default="auto")
    parser.add_argument("--storage", default="auto", choices=("auto", "ram", "disk"))
    parser.add_argument("--clean-max", type=int, default=50, help="run the clean-up up to this many photos")
    parser.add_argument("--no-full-network", action="store_true", help="skip the full-network measurement")
    parser.add_argument("--gpu-tflops", type=float, default=100.0)
    parser.add_argument("--full-batches", type=int, nargs="+", metavar="B",
                        help="only measure the full network's peak RSS at these batch sizes against the model")  # fmt: skip
    parser.add_argument("--out", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--full-child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--photos", help=argparse.SUPPRESS)
    parser.add_argument("--clean", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import logging

        logging.basicConfig(filename=args.log, level=logging.INFO, format="%(name)s: %(message)s")
        print(json.dumps(child_run(args)))
        return 0
    if args.full_child:
        print(json.dumps(full_network(args.full_child)))
        return 0
    if args.full_batches:
        return full_batches(args)
    return report(args)


def full_batches(args: argparse.Namespace) -> int:
    """The full network alone (build, encode B photos, decode B pairs), measured against the memory model."""
    lines = [
        "| batch | peak RSS measured | estimate | est./meas. | s per encode | s per pair |",
        "|---" * 6 + "|",
    ]
    print("\n".join(lines), flush=True)
    for b in args.full_batches:
        out = _subprocess(["--full-child", str(b)])
        est = estimate_run(
            [(W, H)] * b,
            0,
            FULL,
            InferenceConfig(precision="fp32", batch_size=b),
            device="cpu",
            with_result=False,
        )
        row = (f"| {b} | {format_bytes(out['peak'])} | {format_bytes(est.peak_ram_bytes)} | "
               f"{est.peak_ram_bytes / out['peak']:.2f} | {out['encode_s']:.1f} | {out['decode_s']:.1f} |")  # fmt: skip
        lines.append(row)
        print(row, flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


def report(args: argparse.Namespace) -> int:
    from core.resources.memory import cpu_matmul_gflops

    lines = [f"# Scale benchmark: {W}x{H} photos, graph {args.graph}, storage {args.storage}, "
             f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, numpy float32 matmul "
             f"{cpu_matmul_gflops():.1f} GFLOP/s", ""]  # fmt: skip
    full = None
    if not args.no_full_network:
        full = _subprocess(["--full-child", "4"])
        lines.append(f"full network ({FULL}, random weights, batch 4): peak RSS {format_bytes(full['peak'])}, "
                     f"{full['encode_s']:.1f} s per encode, {full['decode_s']:.1f} s per decoded pair (this CPU)")  # fmt: skip
    lines += ["", "| N | pairs | storage | peak RSS measured | estimate | est./meas. | full model: estimate | "
              "full model: composed measurement | network s (tiny) | alignment s | clean-up s | "
              "network full model, this CPU | network on a GPU | measured peak per phase: network / alignment / result |",
              "|---" * 14 + "|"]  # fmt: skip
    print("\n".join(lines), flush=True)
    for n in args.n:
        with tempfile.TemporaryDirectory(prefix="dust3r-scale-") as folder:
            write_photos(Path(folder), n)
            log = str(Path(folder) / "run.log")
            argv = [
                "--child",
                "--photos",
                folder,
                "--graph",
                args.graph,
                "--storage",
                args.storage,
                "--log",
                log,
            ]
            out = _subprocess(argv + (["--clean"] if n <= args.clean_max else []))
        pairs = out["pairs"]
        sizes, fp32 = [(W, H)] * n, InferenceConfig(precision="fp32", pair_storage=args.storage)
        est = estimate_run(sizes, pairs, TINY, fp32, device="cpu", keep_model=True)
        est_full = estimate_run(sizes, pairs, FULL, replace(fp32, pair_storage=est.storage), device="cpu")
        marks = out["marks"]
        network = marks.get("Aligning", out["total"]) - marks.get("Encoding", 0.0)
        align = marks.get("Cleaning", marks.get("Done", out["total"])) - marks.get("Aligning", 0.0)
        clean = (marks.get("Done", out["total"]) - marks["Cleaning"]) if "Cleaning" in marks else float("nan")
        composed, full_cpu = "", ""
        if full is not None:
            composed = format_bytes(composed_peak(out, full, n))
            full_cpu = f"{(n * full['encode_s'] + pairs * full['decode_s']) / 3600:.1f} h"
        phases = " / ".join(format_bytes(out["phases"].get(k, 0)) for k in ("network", "alignment", "result"))
        phases += " (model: " + " / ".join(format_bytes(est.phase_bytes.get(k, 0)) for k in
                                          ("inference", "alignment", "result")) + ")"  # fmt: skip
        flops = n * encode_flops_full() + pairs * decode_flops_full()
        gpu = f"{flops / (args.gpu_tflops * 1e12) / 60:.1f} min"
        row = (f"| {n} | {pairs} | {est.storage} | {format_bytes(out['peak'])} | {format_bytes(est.peak_ram_bytes)} | "
               f"{est.peak_ram_bytes / out['peak']:.2f} | {format_bytes(est_full.peak_ram_bytes)} | {composed} | "
               f"{network:.0f} | {align:.0f} | {clean:.0f} | {full_cpu} | {gpu} | {phases} |")  # fmt: skip
        lines.append(row)
        print(row, flush=True)
    lines.append(
        f"(load average at the end {os.getloadavg()[0]:.1f}; numpy matmul {_fresh_gflops():.1f} GFLOP/s)"
    )
    lines.append(f"\nGPU column: FLOPs of the full 512 DPT network ({encode_flops_full() / 1e12:.2f} TFLOP per "
                 f"encode, {decode_flops_full() / 1e12:.2f} TFLOP per pair) at {args.gpu_tflops:.0f} TFLOP/s.")  # fmt: skip
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    print(lines[-1])
    return 0


def _fresh_gflops() -> float:
    from core.resources.memory import cpu_matmul_gflops

    cpu_matmul_gflops.cache_clear()
    return cpu_matmul_gflops()


def composed_peak(run: dict, full: dict, n: int) -> int:
    """Peak RSS of the run with the full network: the tiny run's network phase plus what the full network
    adds (measured: weights and one batch of 4, above the bare runtime; plus the encoder cache of ``n``
    photos), against the tiny run's alignment and result phases (the pipeline frees the weights first)."""
    from core.model.configs import get_config
    from core.resources.network_cost import token_bytes

    extra = full["peak"] - full["imports"] + (n - full["batch"]) * token_bytes(get_config(FULL), (H, W), 4)
    phases = run["phases"]
    return max(phases.get("network", 0) + extra, phases.get("alignment", 0), phases.get("result", 0))


def encode_flops_full() -> int:
    from core.model.configs import get_config

    return encode_flops(get_config(FULL), (H, W))


def decode_flops_full() -> int:
    from core.model.configs import get_config

    return decode_flops(get_config(FULL), (H, W))


if __name__ == "__main__":
    sys.exit(main())
