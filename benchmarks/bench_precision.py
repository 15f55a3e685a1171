"""Benchmark: agreement of bf16 / fp16 inference with float32, and its effect on the alignment.

Run from the repository root::

    OMP_NUM_THREADS=2 python benchmarks/bench_precision.py [--full] [--out results.md]

1. **Network agreement** on the reference fixtures' inputs (``../shared/reference/inputs_*.npz`` with the
   tiny random-weight models, every ordered pair of the three images; ``tests/data`` when ``../shared`` is
   absent), optionally (``--full``) the full 224 linear network with random weights on the 224 inputs:
   median and 99th-percentile relative pointmap difference ``|X - X_fp32| / |X_fp32|`` and relative
   confidence difference, for bf16 and fp16 autocast, and for bf16 with RoPE applied in float32 and with
   the DPT head's last layers (``dpt.head``: two 3x3 convolutions and the 1x1 output) in float32 (to decide
   whether either matters).
2. **Effect on the alignment** (synthgen orbit/room, 8 views): the network's bf16 error is not available on
   synthetic scenes (a random-weight network predicts nothing meaningful), so every synthetic prediction is
   perturbed along its ray by relative errors resampled from the bf16-vs-fp32 differences measured in part
   1 (tiny DPT); then aligned as float32, and from the float16 pair store. Metrics are synthgen's.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

from precision_common import agreement, relative_differences  # noqa: E402
from synthgen_loader import SYNTHGEN, load_synthgen  # noqa: E402

from core.align import global_align  # noqa: E402
from core.align.store import PairStore  # noqa: E402
from core.config import AlignConfig, InferenceConfig  # noqa: E402
from core.graphs.photos import make_pairs  # noqa: E402
from core.inference.predictor import predict_pairs  # noqa: E402
from core.model import rope2d  # noqa: E402
from core.model.checkpoint import load_model  # noqa: E402
from core.model.configs import get_config  # noqa: E402
from core.model.dust3r import build_model  # noqa: E402
from core.predictions import PairPrediction, predictions_from_pairwise  # noqa: E402

SHARED = REPO_ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
VENDORED = REPO_ROOT / "tests" / "data"
METRICS = ("ate", "focal_err_mean", "rot_err_mean", "depth_absrel", "point_err_mean")


def _inputs(size: int) -> list[torch.Tensor]:
    path = REFERENCE / f"inputs_{size}.npz"
    if not path.is_file():
        path = VENDORED / "inputs_224_img01.npz"
    data = np.load(path)
    return [torch.from_numpy(data[k]) for k in sorted(k for k in data.files if k.startswith("img"))]


def _cases(full: bool) -> list[tuple[str, object, list[torch.Tensor]]]:
    cases = []
    if REFERENCE.is_dir():
        for name, size in (("tiny_linear", 512), ("tiny_dpt", 512), ("tiny_linear_224", 224)):
            cases.append((name, load_model(REFERENCE / "models" / name), _inputs(size)))
    else:
        cases.append(("tiny_linear_224 (vendored)", load_model(VENDORED / "tiny_linear_224"), _inputs(224)))
    if full:
        torch.manual_seed(0)
        cases.append(("ViT-L 224 linear, random", build_model(get_config("DUSt3R_ViTLarge_BaseDecoder_224_linear")),
                      _inputs(224)))  # fmt: skip
    return cases


def _apply_rope_fp32(x: torch.Tensor, tables) -> torch.Tensor:
    """RoPE computed in float32 whatever the dtype of ``x`` (the experiment of part 1)."""
    out = _ORIGINAL_APPLY_ROPE(x.float(), rope2d.RopeTables(tables.cos.float(), tables.sin.float()))
    return out.to(x.dtype)


_ORIGINAL_APPLY_ROPE = rope2d.apply_rope


class _Float32(torch.nn.Module):
    """Runs ``inner`` in float32 with autocast off (the DPT head's last layers, experiment of part 1)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return self.inner(x.float())


def _run(
    model, images, precision: str, rope_fp32: bool = False, head_fp32: bool = False
) -> list[PairPrediction]:
    modules = [m for m in (sys.modules.get("core.model.layers"),) if m is not None]
    heads = [h.dpt for h in (model.downstream_head1, model.downstream_head2) if hasattr(h, "dpt")]
    if rope_fp32:
        for module in modules:
            module.apply_rope = _apply_rope_fp32
    if head_fp32:
        for head in heads:
            head.head = _Float32(head.head)
    try:
        config = InferenceConfig(device="cpu", precision=precision, batch_size=1)
        return predict_pairs(model, images, make_pairs(len(images)), config)
    finally:
        for module in modules:
            module.apply_rope = _ORIGINAL_APPLY_ROPE
        for head in heads:
            if isinstance(head.head, _Float32):
                head.head = head.head.inner


def network_agreement(full: bool, lines: list[str]) -> np.ndarray:
    """Part 1; returns the tiny DPT's bf16 relative differences (for part 2)."""
    lines += ["## Network agreement with float32 (all ordered pairs of the fixture images)", "",
              "| model | precision | pointmap rel. diff median | p99 | max | confidence rel. diff median | p99 |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    print("\n".join(lines[-4:]), flush=True)
    samples = np.zeros(0)
    for name, model, images in _cases(full):
        reference = _run(model, images, "fp32")
        variants = [("bf16", "bf16", False, False), ("bf16, RoPE fp32", "bf16", True, False),
                    ("fp16", "fp16", False, False)]  # fmt: skip
        if hasattr(model.downstream_head1, "dpt"):
            variants.insert(2, ("bf16, DPT head's last layers fp32", "bf16", False, True))
        if name.startswith("ViT-L"):  # the full network: emulated bf16 is slow on most CPUs, keep it short
            variants = [v for v in variants if v[0] in ("bf16", "fp16")]
        for label, precision, rope, head in variants:
            other = _run(model, images, precision, rope, head)
            a = agreement(reference, other)
            row = (f"| {name} | {label} | {a['pts_median']:.2e} | {a['pts_p99']:.2e} | {a['pts_max']:.2e} | "
                   f"{a['conf_median']:.2e} | {a['conf_p99']:.2e} |")  # fmt: skip
            lines.append(row)
            print(row, flush=True)
            if name.startswith("tiny_dpt") and label == "bf16" or not samples.size and label == "bf16":
                samples = relative_differences(reference, other)
    return samples


def _perturbed(preds, samples: np.ndarray, seed: int) -> list[PairPrediction]:
    rng = np.random.default_rng(seed)
    out = []
    for p in preds:
        f_i = 1 + rng.choice(samples, p.pts3d_i.shape[:2])[..., None]
        f_j = 1 + rng.choice(samples, p.pts3d_j.shape[:2])[..., None]
        out.append(PairPrediction(p.i, p.j, (p.pts3d_i * f_i).astype(np.float32), p.conf_i,
                                  (p.pts3d_j * f_j).astype(np.float32), p.conf_j))  # fmt: skip
    return out


def _metrics(sg, case, source) -> dict:
    r = global_align(source, AlignConfig())
    est = {
        "cam2world": r.world_from_cam,
        "focals": r.focals,
        "pts3d": np.stack(r.pts3d),
        "depth": np.stack(r.depth),
    }
    return sg.evaluate(case, est, max_points=50000)


def alignment_effect(samples: np.ndarray, lines: list[str]) -> None:
    """Part 2."""
    if not SYNTHGEN.is_file():
        lines.append("\n(synthgen not found: alignment part skipped)")
        return
    sg = load_synthgen()
    lines += ["", "## Effect on the alignment (synthgen, 8 views 128x96; bf16-like = perturbed by the measured "
              "bf16 errors)", "", "| scene | noise | predictions | " + " | ".join(METRICS) + " |",
              "|---|---|---|" + "---|" * len(METRICS)]  # fmt: skip
    print("\n".join(lines[-5:]), flush=True)
    for scene in ("orbit", "room"):
        for noise in (0, 1):
            case = sg.make_case(scene, n=8, noise=noise, size=(128, 96), seed=0)
            preds = predictions_from_pairwise(case)
            bf16 = _perturbed(preds, samples, seed=1)
            store = PairStore()
            for p in bf16:
                store.add(p)
            for label, source in (
                ("float32", preds),
                ("bf16-like", bf16),
                ("bf16-like + float16 store", store),
            ):
                m = _metrics(sg, case, source)
                row = f"| {scene} | {noise} | {label} | " + " | ".join(f"{m[k]:.2e}" for k in METRICS) + " |"
                lines.append(row)
                print(row, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the full 224 network (random weights)")
    parser.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    lines = [f"# Precision benchmark (torch {torch.__version__}, {torch.get_num_threads()} threads, "
             f"CPU capability {torch.backends.cpu.get_cpu_capability()}, load average {os.getloadavg()[0]:.1f})",
             ""]  # fmt: skip
    print(lines[0], flush=True)
    samples = network_agreement(args.full, lines)
    print(f"bf16 relative-difference samples: {samples.size}, median |d| {np.median(np.abs(samples)):.2e}")
    alignment_effect(samples, lines)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
