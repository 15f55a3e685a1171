"""Benchmark of the camera refinement: the global alignment, then ``core.refine``, in the same run.

Synthetic scenes with ground truth from ``shared/tools/synthgen.py`` (v2, imported by path: the issue's targets
are stated on its cases): photo sets (``orbit``, ``room``; a focal per view) and footage (``shot``, ``arc``;
consecutive frames, one shared focal), each given as ``scene:N:graph[:k1k2]`` (``k1k2``: the case has
``--k1 -0.12 --k2 0.03`` and the refinement estimates ``k1, k2``). For every case it prints the
``synthgen.evaluate`` metrics of the aligned cameras and of the refined ones: ``reproj_px_median``,
``reproj_px_p95``, ``focal_err_mean`` (%), ``ate`` (% of the scene's median depth), ``jitter`` and
``rot_step_err_deg`` (footage), ``|k1 err|`` (mean over views), the solve error (RMS of the kept
correspondences), the track-length histogram (``views: tracks``), the honesty of the figure reported next to
each camera (max(solve error, uncertainty)) against its true per-view reprojection median
(``tests/synthetic``'s metrics on the same case): the smallest and largest ratio over the views, and the wall
times of the alignment and of the refinement, with their ratio.

Examples::

    OMP_NUM_THREADS=1 python benchmarks/bench_refine.py --out refine.md
    OMP_NUM_THREADS=1 python benchmarks/bench_refine.py --cases room:10:swin-3 --sizes 256x192
    OMP_NUM_THREADS=1 python benchmarks/bench_refine.py --set prior_weight_px=0

Cases are generated on the fly (not timed). Torch uses ``--threads`` threads (1 by default).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from synthgen_loader import load_synthgen  # noqa: E402

from core.align import global_align  # noqa: E402
from core.config import AlignConfig, RefineConfig  # noqa: E402
from core.predictions import predictions_from_pairwise  # noqa: E402
from core.refine import Priors, refine_alignment  # noqa: E402
from tests.synthetic import evaluate as repo_evaluate  # noqa: E402 (per-view truth)

FOOTAGE = ("shot", "arc")
COLUMNS = ("case", "size", "N", "stage", "reproj med px", "reproj p95 px", "focal %", "ATE %", "jitter",
           "rot step deg", "|k1 err|", "solve px", "tracks (views: count)", "reported/truth min..max",
           "align s", "refine s", "refine/align")  # fmt: skip
DEFAULT_CASES = ("orbit:8:complete", "orbit:12:complete", "room:10:swin-3", "shot:48:logwin-4-noncyclic",
                 "arc:48:logwin-4-noncyclic", "arc:48:logwin-4-noncyclic:k1k2")  # fmt: skip


def _estimate(alignment, dist=None) -> dict:
    est = {
        "cam2world": alignment.world_from_cam,
        "focals": alignment.focals,
        "principal_points": alignment.principal_points,
        "pts3d": np.stack(alignment.pts3d),
        "depth": np.stack(alignment.depth),
    }
    if dist is not None:
        est["dist"] = dist
    return est


def _metrics(sg, case, est: dict) -> dict:
    m = sg.evaluate(case, est, max_points=50000)
    row = {
        "reproj med px": m["reproj_px_median"],
        "reproj p95 px": m["reproj_px_p95"],
        "focal %": 100 * m["focal_err_mean"],
        "ATE %": 100 * m["ate"],
    }
    if case["footage"]:
        row["jitter"] = m["jitter"]
        row["rot step deg"] = m["rot_step_err_deg"]
    if np.any(case["dist"]):
        k1 = est["dist"][:, 0] if "dist" in est else np.zeros(len(case["dist"]))
        row["|k1 err|"] = float(np.mean(np.abs(k1 - case["dist"][:, 0])))
    return row


def bench_case(sg, args, spec: str, size: str) -> list[dict]:
    scene, n, graph, *rest = spec.split(":")
    n = int(n)
    k1k2 = (args.k1, args.k2) if rest and rest[0] == "k1k2" else None
    W, H = (int(x) for x in size.split("x"))
    footage = scene in FOOTAGE
    case = sg.make_case(scene, n=n, noise=args.noise, size=(W, H), seed=args.seed, graph=graph, dist=k1k2)
    case["footage"] = footage
    preds = predictions_from_pairwise(case)
    name = f"{scene} {graph}" + (f" k1 {k1k2[0]:g} k2 {k1k2[1]:g}" if k1k2 else "")
    key = {"case": name, "size": size, "N": n}
    aligned = global_align(preds, AlignConfig(shared_focal=footage))
    config = RefineConfig(distortion="k1k2" if k1k2 else "none", **args.overrides)
    priors = Priors(shared_focal=footage, known_focal=np.zeros(n, bool), known_pose=np.zeros(n, bool))
    start = time.perf_counter()
    refinement = refine_alignment(aligned, list(case["images"]), config, priors=priors)
    refine_s = time.perf_counter() - start
    est = _estimate(refinement.alignment, refinement.dist)
    truth = repo_evaluate(case, est, max_points=20000)["reproj_px_median_per_view"]
    ratio = refinement.reported_px / np.maximum(truth, 1e-9)
    if args.per_view:
        for v in range(n):
            print(f"  view {v}: reported {refinement.reported_px[v]:.3g} px, true {truth[v]:.3g} px, "
                  f"{refinement.notes[v]}", flush=True)  # fmt: skip
    lengths = " ".join(f"{k}:{c}" for k, c in enumerate(refinement.track_lengths) if c) or "none"
    before = {**key, "stage": "aligned", **_metrics(sg, case, _estimate(aligned)), "align s": aligned.seconds}
    after = {
        **key,
        "stage": f"refined {int(refinement.refined.sum())}/{n}",
        **_metrics(sg, case, est),
        "solve px": refinement.solve_error_total_px,
        "tracks (views: count)": lengths,
        "reported/truth min..max": f"{np.min(ratio):.2g}..{np.max(ratio):.2g}",
        "refine s": refine_s,
        "refine/align": refine_s / aligned.seconds,
    }
    return [before, after]


def warm_up(sg) -> None:
    """Run each code path once on a tiny case, so that no timed run pays for imports and first calls."""
    case = sg.make_case("orbit", n=3, noise=1, size=(64, 48), seed=0)
    aligned = global_align(predictions_from_pairwise(case), AlignConfig(fast_niter=5))
    priors = Priors(False, np.zeros(3, bool), np.zeros(3, bool))
    refine_alignment(aligned, list(case["images"]), RefineConfig(), priors=priors)


def _override(item: str) -> tuple[str, object]:
    """``FIELD=VALUE`` -> ``(field, value)`` typed like the field's default in :class:`RefineConfig`."""
    name, _, text = item.partition("=")
    default = getattr(RefineConfig(), name)
    if isinstance(default, bool):
        return name, text.lower() in ("1", "true", "yes")
    return name, type(default)(text)


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
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES), help="scene:N:graph[:k1k2]")
    parser.add_argument("--sizes", nargs="+", default=["256x192"])
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--k1", type=float, default=-0.12)
    parser.add_argument("--k2", type=float, default=0.03)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                        help="RefineConfig fields to override, e.g. prior_weight_px=0")  # fmt: skip
    parser.add_argument("--per-view", action="store_true", help="print each view's reported and true figure")
    parser.add_argument("--out", default=None, help="write the results as a markdown table here")
    args = parser.parse_args(argv)
    args.overrides = dict(_override(item) for item in args.set)

    import torch

    torch.set_num_threads(args.threads)
    sg = load_synthgen()
    warm_up(sg)
    rows: list[dict] = []
    print(" | ".join(COLUMNS), flush=True)
    for spec, size in [(spec, size) for size in args.sizes for spec in args.cases]:
        for row in bench_case(sg, args, spec, size):
            rows.append(row)
            print(" | ".join(fmt(row.get(c, "")) for c in COLUMNS), flush=True)
    if args.out:
        Path(args.out).write_text(markdown(rows) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
