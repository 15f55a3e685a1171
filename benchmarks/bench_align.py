"""Benchmark of the global alignment: our ``fast`` method against the paper's Adam loop, in the same process.

Synthetic scenes with ground truth from ``shared/tools/synthgen.py`` (orbit and room, complete graphs).
For every case it prints the ``synthgen.evaluate`` metrics (ATE and Chamfer in % of the scene's median depth,
mean focal error in %, RRA/RTA at 15 degrees) and the wall time of each method, plus the speed ratio.
Paper mode is slow (300 full-resolution Adam iterations), so it only runs where ``--paper`` allows it.

Examples::

    python benchmarks/bench_align.py --sizes 128x96 --n 3 5 8 --noise 0 1 --out results.md
    python benchmarks/bench_align.py --sizes 512x384 --n 20 --noise 1 --memory-only

Grid cases are generated on the fly (not timed). Torch uses ``--threads`` threads (2 by default); on a
shared, loaded machine run with ``--threads 1`` and ``OPENBLAS_NUM_THREADS=1`` so that neither method spins on
oversubscribed cores. Chamfer uses synthgen's default 200,000-point subsample, so with more points than that
it has a small floor even for a perfect estimate.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from synthgen_loader import load_synthgen  # noqa: E402

from core.align import global_align  # noqa: E402
from core.config import AlignConfig  # noqa: E402
from core.predictions import predictions_from_pairwise  # noqa: E402

COLUMNS = ("scene", "size", "N", "noise", "seed", "method", "seconds", "ATE %", "focal %", "RRA15", "RTA15",
           "Chamfer %", "speed-up")  # fmt: skip


def run_method(sg, case, preds, config: AlignConfig) -> dict:
    result = global_align(preds, config)
    est = {
        "cam2world": result.world_from_cam,
        "focals": result.focals,
        "pts3d": np.stack(result.pts3d),
        "depth": np.stack(result.depth),
    }
    metrics = sg.evaluate(case, est)
    return {
        "seconds": result.seconds,
        "ATE %": 100 * metrics["ate"],
        "focal %": 100 * metrics["focal_err_mean"],
        "RRA15": metrics["rra15"],
        "RTA15": metrics["rta15"],
        "Chamfer %": 100 * metrics["chamfer"],
    }


def paper_allowed(size: str, n: int, noise: float, rules: list[str]) -> bool:
    """``rules``: ``SIZE:MAXN[:NOISES]`` such as ``128x96:8`` or ``512x384:3:1`` (noises joined by ``/``)."""
    for rule in rules:
        parts = rule.split(":")
        if parts[0] != size or n > int(parts[1]):
            continue
        if len(parts) < 3 or noise in [float(x) for x in parts[2].split("/")]:
            return True
    return False


def bench_case(sg, args, scene: str, size: str, n: int, noise: float, seed: int) -> list[dict]:
    W, H = (int(x) for x in size.split("x"))
    case = sg.make_case(scene, n=n, noise=noise, size=(W, H), seed=seed)
    preds = predictions_from_pairwise(case)
    key = {"scene": scene, "size": size, "N": n, "noise": noise, "seed": seed}
    rows = [{**key, "method": "fast", **run_method(sg, case, preds, AlignConfig(method="fast"))}]
    if paper_allowed(size, n, noise, args.paper):
        paper = run_method(sg, case, preds, AlignConfig(method="paper", niter=args.paper_niter))
        rows.append({**key, "method": "paper", **paper})
        rows[0]["speed-up"] = paper["seconds"] / rows[0]["seconds"]
    return rows


def warm_up(sg) -> None:
    """Import and initialise torch and numpy code paths once, so that no timed run pays for it."""
    preds = predictions_from_pairwise(sg.make_case("orbit", n=3, noise=1, size=(32, 24), seed=0))
    for method in ("fast", "paper"):
        global_align(preds, AlignConfig(method=method, niter=5))


def memory_check(sg, size: str, n: int, noise: float) -> str:
    """Peak memory of a fast alignment of an n-view complete graph (numpy allocations, tracemalloc)."""
    W, H = (int(x) for x in size.split("x"))
    case = sg.make_case("room", n=n, noise=noise, size=(W, H), seed=0)
    preds = predictions_from_pairwise(case)
    pred_bytes = sum(p.pts3d_i.nbytes + p.pts3d_j.nbytes + p.conf_i.nbytes + p.conf_j.nbytes for p in preds)
    tracemalloc.start()
    start = time.perf_counter()
    result = global_align(preds, AlignConfig(method="fast"))
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    est = {"cam2world": result.world_from_cam, "focals": result.focals, "pts3d": np.stack(result.pts3d)}
    ate = 100 * sg.evaluate(case, est, max_points=50000)["ate"]
    return (
        f"memory: {n}-view complete graph ({len(preds)} pairs) at {size}, noise {noise}: predictions "
        f"{pred_bytes / 2**30:.2f} GiB; peak extra allocation during fast alignment {peak / 2**30:.2f} GiB; "
        f"{seconds:.1f} s; ATE {ate:.2f} %"
    )


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def markdown(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", nargs="+", default=["orbit", "room"])
    parser.add_argument("--n", nargs="+", type=int, default=[3, 5, 8, 12, 20])
    parser.add_argument("--noise", nargs="+", type=float, default=[0.0, 1.0, 2.0])
    parser.add_argument("--sizes", nargs="+", default=["128x96", "512x384"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--paper", nargs="*", default=["128x96:8", "512x384:3:1"],
                        help="where paper mode runs: SIZE:MAXN[:NOISE/NOISE...] (none: no paper mode)")  # fmt: skip
    parser.add_argument("--paper-niter", type=int, default=300)
    parser.add_argument("--memory", default="512x384:20", help="SIZE:N of the peak-memory run ('' to skip)")
    parser.add_argument("--memory-only", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the results as a markdown table here")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    sg = load_synthgen()
    warm_up(sg)
    rows: list[dict] = []
    if not args.memory_only:
        print(" | ".join(COLUMNS), flush=True)
        for size in args.sizes:
            for scene in args.scenes:
                for n in args.n:
                    for noise in args.noise:
                        for seed in args.seeds:
                            for row in bench_case(sg, args, scene, size, n, noise, seed):
                                rows.append(row)
                                print(" | ".join(fmt(row.get(c, "")) for c in COLUMNS), flush=True)
    memory_line = ""
    if args.memory:
        size, n = args.memory.split(":")
        memory_line = memory_check(sg, size, int(n), 1.0)
        print(memory_line, flush=True)
    if args.out:
        Path(args.out).write_text(markdown(rows) + "\n\n" + memory_line + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
