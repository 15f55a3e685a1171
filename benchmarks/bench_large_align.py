"""Benchmark: global alignment of 200 / 500 / 1,000 views, dense vs sparse (``AlignConfig.memory``).

Run from the repository root::

    OMP_NUM_THREADS=2 python benchmarks/bench_large_align.py [--n 200 500 1000] [--size 128 96] [--k 5]

Each N runs in a fresh subprocess: the ``orbit`` scene of ``tests/synthetic`` with N photos (noise 1, the
error model of the tests), a retrieval-like graph (each view paired with its ``k`` most similar views by
camera centre and viewing direction, both orders: about ``2k`` ordered pairs per view, as ``retrieval-5-5``
gives), predicted pair by pair into a :class:`~core.align.store.PairStore` on disk. Then, with the peak RSS
reset (``/proc/self/clear_refs``, Linux) before each:

* ``sparse``: ``global_align`` on the disk store, ``AlignConfig(memory="sparse")``;
* ``dense``: the predictions copied into a RAM store (the path a run takes today when it fits), then
  ``global_align(..., memory="dense")``; only where the memory model's estimate of it fits in
  ``--dense-share`` of the free RAM and N is at most ``--dense-up-to`` (else reported as skipped).

Reported per N and path: pairs, peak RSS of the process (``VmHWM``) and its rise above the RSS at the reset,
the memory model's estimate of that rise (:func:`core.resources.memory.alignment_bytes`, plus the RAM store
for dense, times the allocator overhead), the alignment's seconds, and the accuracy against the ground truth:
ATE (RMS camera-centre error after a Sim(3) fit, / the scene's median depth) and the mean relative focal
error. The ratio sparse/dense ATE is the target's (<= 1.2).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def knn_pairs(world_from_cam: np.ndarray, k: int) -> list[tuple[int, int]]:
    """Ordered pairs ``(i, j)`` of a retrieval-like graph: every view with its ``k`` nearest views by
    ``|c_i - c_j| / median spacing + angle between the optical axes (radians) * 2``, both orders, sorted."""
    centres = world_from_cam[:, :3, 3]
    axes = world_from_cam[:, :3, 2]
    n = len(centres)
    found = set()
    for start in range(0, n, 256):
        block = slice(start, min(start + 256, n))
        dist = np.linalg.norm(centres[block, None] - centres[None], axis=-1)
        angle = np.arccos(np.clip(axes[block] @ axes.T, -1.0, 1.0))
        score = dist / np.median(np.sort(dist, axis=1)[:, 1]) + 2.0 * angle
        score[np.arange(block.stop - block.start), np.arange(block.start, block.stop)] = np.inf
        for row, v in enumerate(range(block.start, block.stop)):
            for w in np.argsort(score[row])[:k]:
                found.add((min(v, int(w)), max(v, int(w))))
    pairs = sorted(found)
    return pairs + [(j, i) for i, j in pairs]


def _reset_peak() -> int:
    """Reset the peak RSS to the current RSS; returns the current RSS in bytes."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def _accuracy(case, result) -> dict:
    from tests.synthetic import umeyama

    gt = np.asarray(case["cam2world"], float)[:, :3, 3]
    est = result.world_from_cam[:, :3, 3]
    s, R, t = umeyama(est, gt)
    ate = float(np.sqrt(np.mean(np.sum((s * est @ R.T + t - gt) ** 2, axis=1))))
    focal = float(np.mean(np.abs(result.focals / np.asarray(case["focals"], float) - 1.0)))
    return {"ate": ate / float(case["scene_scale"]), "focal_err": focal}


def child(n: int, size: tuple[int, int], k: int, dense_share: float, seed: int, dense_up_to) -> None:
    """Generate the case of ``n`` views and align it both ways; prints one ``ROW {json}`` line per path."""
    from core.align import global_align
    from core.align.store import PairStore
    from core.config import AlignConfig
    from core.predictions import PairPrediction
    from core.resources.hardware import available_memory
    from core.resources.memory import ALLOCATOR_OVERHEAD, alignment_bytes
    from tests.synthetic import make_case, true_rays
    from tests.synthetic.case import scene_prims
    from tests.synthetic.predictions import PairPredictor

    started = time.perf_counter()
    case = make_case("orbit", n=n, noise=1.0, size=size, seed=seed, preds=False)
    pairs = knn_pairs(case["cam2world"], k)
    bg = np.isin(case["obj_id"], [i for i, p in enumerate(scene_prims("orbit", seed)) if p.background])
    predictor = PairPredictor(case["depth"].astype(np.float64), true_rays(case), case["cam2world"],
                              case["K"].astype(np.float64), case["dist"], bg, 1.0, seed)  # fmt: skip
    disk = PairStore(on_disk=True)
    for i, j in pairs:
        pts_i, pts_j, conf_i, conf_j, _ = predictor.predict(i, j)
        disk.add(PairPrediction(i, j, pts_i, conf_i, pts_j, conf_j))
        predictor._covis.pop((i, j), None)  # the generator's cache is not the aligner's memory
    del predictor
    for key in ("images", "obj_id"):
        case.pop(key)
    gc.collect()
    generated = time.perf_counter() - started
    W, H = size
    sizes = [(H, W)] * n
    degree = int(np.bincount(np.array(pairs).reshape(-1)).max())
    for memory in ("sparse", "dense"):
        parts = alignment_bytes(sizes, len(pairs), degree, "fast", memory == "sparse")
        store_ram = disk.nbytes if memory == "dense" else 0
        estimate = ALLOCATOR_OVERHEAD * (max(parts.values()) + store_ram + 20 * H * W * n)  # + the result
        row = {"n": n, "pairs": len(pairs), "size": f"{W}x{H}", "memory": memory, "estimate": estimate,
               "generate_s": generated}  # fmt: skip
        free = available_memory().available_bytes
        if memory == "dense" and free is not None and estimate > dense_share * free:
            row["skipped"] = (
                f"estimate {estimate / 1e9:.1f} GB > {dense_share:.0%} of {free / 1e9:.1f} GB free"
            )
        elif memory == "dense" and dense_up_to is not None and n > dense_up_to:
            row["skipped"] = f"--dense-up-to {dense_up_to} (time on this shared machine)"
        if "skipped" in row:
            print("ROW " + json.dumps(row), flush=True)
            continue
        base = _reset_peak()
        preds = disk
        if memory == "dense":
            preds = PairStore()
            for p in disk:
                preds.add(p.to_prediction())
        t0 = time.perf_counter()
        result = global_align(preds, AlignConfig(memory=memory))
        row["align_s"] = time.perf_counter() - t0
        row["peak_rss"] = _status("VmHWM")
        row["rise"] = row["peak_rss"] - base
        row.update(_accuracy(case, result))
        del result
        if preds is not disk:
            preds.close()
        del preds
        gc.collect()
        print("ROW " + json.dumps(row), flush=True)
    disk.close()


def _table(rows: list[dict]) -> str:
    lines = [
        "| views | pairs | path | peak RSS | rise | model | align s | ATE | focal err | ATE vs dense |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    dense_ate = {r["n"]: r.get("ate") for r in rows if r["memory"] == "dense"}
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['n']} | {r['pairs']:,} | {r['memory']} | skipped: {r['skipped']} | | "
                         f"{r['estimate'] / 1e9:.2f} GB | | | | |")  # fmt: skip
            continue
        ref = dense_ate.get(r["n"])
        ratio = f"{r['ate'] / ref:.2f}x" if ref else "n/a"
        lines.append(
            f"| {r['n']} | {r['pairs']:,} | {r['memory']} | {r['peak_rss'] / 1e9:.2f} GB | "
            f"{r['rise'] / 1e9:.2f} GB | {r['estimate'] / 1e9:.2f} GB | {r['align_s']:.1f} | {r['ate']:.4f} | "
            f"{r['focal_err']:.4f} | {ratio} |"
        )
    return "\n".join(lines)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[200, 500, 1000])
    parser.add_argument("--size", type=int, nargs=2, default=[128, 96], metavar=("W", "H"))
    parser.add_argument("--k", type=int, default=10, help="neighbours per view of the retrieval-like graph")
    parser.add_argument(
        "--dense-share", type=float, default=0.6, help="run dense when its estimate fits this"
    )
    parser.add_argument("--dense-up-to", type=int, default=None, help="run dense only up to this many views")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, tuple(args.size), args.k, args.dense_share, args.seed, args.dense_up_to)
        return 0
    rows = []
    for n in args.n:
        cmd = [sys.executable, __file__, "--child", str(n), "--size", *map(str, args.size), "--k", str(args.k),
               "--dense-share", str(args.dense_share), "--seed", str(args.seed)]  # fmt: skip
        if args.dense_up_to is not None:
            cmd += ["--dense-up-to", str(args.dense_up_to)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env) as proc:
            for line in proc.stdout:  # each row as it comes: a long run shows its progress
                if line.startswith("ROW "):
                    rows.append(json.loads(line[len("ROW ") :]))
                    print(_table(rows[-1:]).splitlines()[-1], flush=True)
        if proc.returncode != 0:
            return 1
    print(f"\nCPU: {_cpu()}, {os.cpu_count()} cores; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"synthetic orbit, noise 1, {args.size[0]}x{args.size[1]}, k = {args.k}\n")
    print(_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
