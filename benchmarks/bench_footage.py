"""Benchmark of footage: the stages of a shot (decode, pairs, align, localise) and their accuracy, against
today's per-photo alignment on the same frames in the same run; and the network's cost per frame.

Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/bench_footage.py [--frames 48 120 480] [--sizes 128x96 256x192]
        [--scene shot arc] [--noise 1] [--no-network] [--out results.md]

Synthetic footage from ``shared/tools/synthgen.py`` (or the project's ``tests/synthetic`` with
``--generator tests``): one lens, consecutive frames, DUSt3R-like pair predictions (network not run). One case
per row holds the pairs of every frame at offsets 1, 2, 4, ..., 64, so all variants share the same predictions:

* ``footage``: every frame reconstructed, one shared focal, pairs at offsets 1, 2, 4, ..., 32 (``core.footage``);
* ``per-photo``: today's pipeline on the same pairs (a focal per frame, ``AlignConfig()``);
* ``per-photo swin-2``: today's pipeline on the window graph ``swin-2-noncyclic`` (offsets 1, 2);
* ``every 2 + localise``: the even frames reconstructed (offsets 2, 4, ..., 64), the odd ones localised (paper 4.1);
* ``every 2 + interpolate``: the same, the odd frames interpolated (SLERP + linear).

Accuracy (``synthgen.evaluate`` on ALL frames' cameras): ATE and jitter in % of the scene's median depth,
``rot_step_err_deg``, ``reproj_px`` median / p95 at the frame size. Stages: ``decode`` = decoding a lossless
video of the rendered frames with PyAV plus the blank/duplicate checks; ``pairs`` = building the pair graph
and the loop-closure search (random 1024-d descriptors: the ViT-L token width); ``align`` and ``localise``
with their peak traced memory (``tracemalloc``; the predictions they read are listed separately). Stage
times are CPU seconds of this process (run with ``OMP_NUM_THREADS=1``). No refinement (the sub-pixel
refinement is another issue).

``--network`` (default on): the full-size 512 DPT model with random weights at 512x288 (a 16:9 plate):
FLOPs of one encode and one pair decode (counted by ``torch.utils.flop_counter``), their wall time on this
CPU, and what a 10-second 24 fps plate costs: on this CPU (measured) and on a GPU (estimated from the FLOPs
at an assumed sustained throughput).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from synthgen_loader import SYNTHGEN, load_synthgen  # noqa: E402

from core.align import global_align  # noqa: E402
from core.config import AlignConfig  # noqa: E402
from core.footage.align import align_shot  # noqa: E402
from core.footage.frames import check_frames  # noqa: E402
from core.footage.localise import (  # noqa: E402
    Correspondences,
    default_inlier_px,
    localise_frame,
    pair_correspondences,
)
from core.footage.read.source import open_footage  # noqa: E402
from core.footage.trajectory import interpolate_poses  # noqa: E402
from core.graphs.temporal import TEMPORAL_OFFSETS, footage_pairs, loop_closure_pairs, temporal_pairs  # noqa: E402
from core.predictions import PairPrediction  # noqa: E402

CASE_OFFSETS = (1, 2, 4, 8, 16, 32, 64)
PLATE_SECONDS, PLATE_FPS, PLATE_SIZE = 10, 24, (512, 288)
GPU_SUSTAINED_TFLOPS = {"a GPU sustaining 100 TFLOP/s (bf16)": 100.0, "H200 at ~40 % of its bf16 peak": 300.0}


def load_generator(name: str):
    if name == "synthgen" and SYNTHGEN.is_file():
        return load_synthgen()
    import tests.synthetic as module

    return module


def case_graph(n: int) -> str:
    return "pairs:" + ",".join(f"{i}-{j}" for i, j in temporal_pairs(n, CASE_OFFSETS))


def predictions(case, keep) -> list[PairPrediction]:
    """The case's ordered pairs ``(i, j)`` for which ``keep(i, j)`` gives new view numbers (or None)."""
    out = []
    for e, (i, j) in enumerate(case["edges"].tolist()):
        views = keep(i, j)
        if views is not None:
            out.append(
                PairPrediction(
                    i=views[0],
                    j=views[1],
                    pts3d_i=case["pred_i"][e],
                    conf_i=case["conf_i"][e],
                    pts3d_j=case["pred_j"][e],
                    conf_j=case["conf_j"][e],
                )  # fmt: skip
            )
    return out


def traced(fn):
    """``(result, seconds, peak traced bytes)`` of ``fn()``; seconds of CPU time of this process (one thread:
    the wall time of an idle machine; on a shared machine the wall time mostly measures the neighbours)."""
    tracemalloc.start()
    start = time.process_time()
    result = fn()
    seconds = time.process_time() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def camera_metrics(gen, case, world_from_cam, focals, pp) -> dict:
    n, H, W = case["depth"].shape
    est = {"cam2world": world_from_cam, "focals": focals, "principal_points": pp}
    # camera metrics only: points are the ground-truth depth through the estimated cameras (not scored)
    est["pts3d"] = np.zeros((n, H, W, 3), np.float32)
    est["depth"] = case["depth"]
    m = gen.evaluate(case, est, max_points=2000)
    return {
        "ATE %": 100 * m["ate"],
        "jitter %": 100 * m["jitter"],
        "rot step deg": m["rot_step_err_deg"],
        "reproj px med": m["reproj_px_median"],
        "reproj px p95": m["reproj_px_p95"],
        "focal %": 100 * m["focal_err_mean"],
    }


def decode_stage(frames: np.ndarray) -> tuple[float, int]:
    """Seconds and peak bytes to decode a lossless video of ``frames`` and check every frame."""
    from tests.footage_support import write_video

    with tempfile.TemporaryDirectory() as tmp:
        path = write_video(Path(tmp) / "plate.mkv", frames, codec="ffv1")

        def run():
            source = open_footage(path)
            decoded = [rgb for _, rgb in source.read(range(1, len(frames) + 1))]
            return check_frames(decoded, list(range(1, len(frames) + 1)))

        _, seconds, peak = traced(run)
    return seconds, peak


def pairs_stage(n: int) -> tuple[float, int]:
    rng = np.random.default_rng(0)
    desc = rng.normal(size=(n, 1024))
    desc /= np.linalg.norm(desc, axis=1, keepdims=True)
    _, seconds, peak = traced(lambda: footage_pairs(n, TEMPORAL_OFFSETS, loop_closure_pairs(desc)))
    return seconds, peak


def run_case(gen, scene: str, n: int, size: tuple[int, int], noise: float, seed: int) -> list[dict]:
    start = time.perf_counter()
    case = gen.make_case(scene, n=n, noise=noise, size=size, seed=seed, graph=case_graph(n))
    gen_s = time.perf_counter() - start
    pred_mb = sum(case[k].nbytes for k in ("pred_i", "pred_j", "conf_i", "conf_j")) / 1e6
    decode_s, decode_peak = decode_stage(case["images"])
    pairs_s, pairs_peak = pairs_stage(n)
    base = {"scene": scene, "size": f"{size[0]}x{size[1]}", "N": n, "noise": noise, "decode s": decode_s,
            "decode MB": decode_peak / 1e6, "pairs s": pairs_s, "gen s": gen_s}  # fmt: skip
    rows = []
    config = AlignConfig()
    offsets = set(TEMPORAL_OFFSETS)

    def add(variant, aligned, seconds, peak, world_from_cam, pair_count, loc=(0.0, 0.0)):
        row = dict(base, variant=variant, pairs=pair_count, **{"align s": seconds, "align MB": peak / 1e6})
        row.update(
            {
                "localise s": loc[0],
                "localise MB": loc[1] / 1e6,
                "preds MB": pred_mb * pair_count / len(case["edges"]),
            }
        )
        focals = aligned.focals if len(aligned.focals) == n else np.full(n, aligned.focals[0])
        pp = (
            aligned.principal_points
            if len(aligned.principal_points) == n
            else np.tile(aligned.principal_points[0], (n, 1))
        )
        row.update(camera_metrics(gen, case, world_from_cam, focals, pp))
        rows.append(row)
        print(format_row(row), flush=True)

    all_preds = predictions(case, lambda i, j: (i, j) if abs(i - j) in offsets else None)
    aligned, s, peak = traced(lambda: align_shot(all_preds, n, config))
    add("footage", aligned, s, peak, aligned.world_from_cam, len(all_preds))
    aligned, s, peak = traced(lambda: global_align(all_preds, config))
    add("per-photo", aligned, s, peak, aligned.world_from_cam, len(all_preds))
    swin = predictions(case, lambda i, j: (i, j) if abs(i - j) <= 2 else None)
    aligned, s, peak = traced(lambda: global_align(swin, config))
    add("per-photo swin-2", aligned, s, peak, aligned.world_from_cam, len(swin))
    every_two(case, n, config, add)
    return rows


def every_two(case, n, config, add) -> None:
    keys = list(range(0, n, 2))
    slot = {k: s for s, k in enumerate(keys)}
    key_offsets = {2 * o for o in TEMPORAL_OFFSETS}
    key_preds = predictions(
        case,
        lambda i, j: (slot[i], slot[j]) if i in slot and j in slot and abs(i - j) in key_offsets else None,
    )
    aligned, s, peak = traced(lambda: align_shot(key_preds, len(keys), config))
    fills = [q for q in range(n) if q not in slot]
    query = predictions(
        case, lambda i, j: (i, slot[j]) if i not in slot and j in slot and abs(i - j) == 1 else None
    )
    K, pp = aligned.intrinsics()[0], aligned.principal_points[0]
    W, H = case["depth"].shape[2], case["depth"].shape[1]

    def localise():
        poses = {}
        for q in fills:
            parts = [
                pair_correspondences(p, aligned.pts3d[p.j], aligned.conf[p.j], pp, config.min_conf)
                for p in query
                if p.i == q
            ]
            loc = localise_frame(Correspondences.concatenate(parts), K, default_inlier_px((W, H)))
            poses[q] = loc.world_from_cam if loc is not None and loc.trusted else None
        return poses

    poses, loc_s, loc_peak = traced(localise)
    world = np.zeros((n, 4, 4))
    world[keys] = aligned.world_from_cam
    interp = interpolate_poses(keys, aligned.world_from_cam, fills)
    world[fills] = interp
    add("every 2 + interpolate", aligned, s, peak, world.copy(), len(key_preds))
    failed = [q for q, T in poses.items() if T is None]
    for q, T in poses.items():
        if T is not None:
            world[q] = T
    add(
        f"every 2 + localise ({len(failed)} fell back)",
        aligned,
        s,
        peak,
        world,
        len(key_preds) + len(query),
        (loc_s, loc_peak),
    )


COLUMNS = ("scene", "size", "N", "variant", "pairs", "ATE %", "jitter %", "rot step deg", "reproj px med", "reproj px p95",
           "focal %", "decode s", "pairs s", "align s", "align MB", "preds MB", "localise s", "localise MB")  # fmt: skip


def format_row(row: dict) -> str:
    cells = []
    for key in COLUMNS:
        value = row.get(key, "")
        cells.append(f"{value:.3g}" if isinstance(value, float) else str(value))
    return "| " + " | ".join(cells) + " |"


def network_costs(threads: int) -> list[str]:
    """FLOPs and CPU seconds of one encode / one pair decode of the full-size model at 512x288."""
    import torch

    from benchmarks.bench_inference import MODEL_NAME, count_flops, matmul_gflops
    from core.model.configs import get_config
    from core.model.dust3r import build_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(get_config(MODEL_NAME)).eval()
    W, H = PLATE_SIZE
    img = torch.rand(1, 3, H, W) * 2 - 1
    with torch.inference_mode():
        enc_flops = count_flops(lambda: model.encode(img))
        enc = model.encode(img)
        dec_flops = count_flops(lambda: model.decode(enc, enc))
        start = time.perf_counter()
        enc = model.encode(img)
        enc_s = time.perf_counter() - start
        start = time.perf_counter()
        model.decode(enc, enc)
        dec_s = time.perf_counter() - start
    peak = matmul_gflops()
    frames = PLATE_SECONDS * PLATE_FPS
    all_pairs = len(footage_pairs(frames, TEMPORAL_OFFSETS))
    keys = len(range(0, frames, 4)) + 1
    key_pairs = len(footage_pairs(keys, TEMPORAL_OFFSETS))
    fills = frames - keys
    plans = {
        f"every frame reconstructed ({frames} encodes, {all_pairs} pairs)": (frames, all_pairs),
        f"every 4th reconstructed, the rest localised ({frames} encodes, {key_pairs} + {2 * fills} pairs)": (
            frames, key_pairs + 2 * fills),
    }  # fmt: skip
    lines = [
        f"Full-size {MODEL_NAME}, random weights, {W}x{H} (a 16:9 plate), float32, {threads} threads, CPU "
        f"(float32 matmul {peak:.0f} GFLOP/s, load average {os.getloadavg()[0]:.1f}):",
        f"- one encode: {enc_flops / 1e12:.3f} TFLOP, {enc_s:.1f} s; one pair decode: {dec_flops / 1e12:.3f} TFLOP, {dec_s:.1f} s",
        f"- per reconstructed frame (1 encode + {2 * len(TEMPORAL_OFFSETS)} decodes, offsets {TEMPORAL_OFFSETS} both ways): "
        f"{(enc_flops + 2 * len(TEMPORAL_OFFSETS) * dec_flops) / 1e12:.2f} TFLOP, {enc_s + 2 * len(TEMPORAL_OFFSETS) * dec_s:.0f} s",
        f"- per localised frame (1 encode + 2 decodes): {(enc_flops + 2 * dec_flops) / 1e12:.2f} TFLOP, {enc_s + 2 * dec_s:.0f} s",
        "",
        f"| {PLATE_SECONDS} s plate at {PLATE_FPS} fps | TFLOP | this CPU (measured per op) | "
        + " | ".join(GPU_SUSTAINED_TFLOPS) + " |",
        "|---|---|---|" + "---|" * len(GPU_SUSTAINED_TFLOPS),
    ]  # fmt: skip
    for label, (encodes, pairs) in plans.items():
        flops = encodes * enc_flops + pairs * dec_flops
        cpu = encodes * enc_s + pairs * dec_s
        gpu = " | ".join(f"{flops / (t * 1e12):.0f} s" for t in GPU_SUSTAINED_TFLOPS.values())
        lines.append(f"| {label} | {flops / 1e12:.0f} | {cpu / 3600:.1f} h | {gpu} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[48, 120, 480])
    parser.add_argument("--sizes", nargs="+", default=["128x96", "256x192"])
    parser.add_argument("--max-pixels-frames", type=int, default=120 * 128 * 96 * 4,
                        help="skip cases with more frames x pixels than this (memory and time)")  # fmt: skip
    parser.add_argument("--scene", nargs="+", default=["shot"])
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generator", choices=("synthgen", "tests"), default="synthgen")
    parser.add_argument("--no-network", action="store_true", help="skip the full-size network costs")
    parser.add_argument("--network-only", action="store_true", help="only the full-size network costs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    gen = load_generator(args.generator)
    lines = [f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, generator {gen.__name__}, "
             f"noise {args.noise:g}, seed {args.seed}", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]  # fmt: skip
    print("\n".join(lines), flush=True)
    for scene in [] if args.network_only else args.scene:
        for size_text in args.sizes:
            size = tuple(int(v) for v in size_text.lower().split("x"))
            for n in args.frames:
                if n * size[0] * size[1] > args.max_pixels_frames:
                    print(f"(skipped {scene} {size_text} N={n}: over --max-pixels-frames)", flush=True)
                    continue
                lines += [format_row(r) for r in run_case(gen, scene, n, size, args.noise, args.seed)]
    if not args.no_network:
        net = network_costs(args.threads)
        print("\n".join(["", *net]), flush=True)
        lines += ["", *net]
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
