"""Benchmark: which pairs ``retrieval-K`` chooses on synthetic orbit/room sets, and where ``auto`` switches.

Run from the repository root::

    OMP_NUM_THREADS=2 python benchmarks/bench_retrieval.py [--n 50 100 200] [--checkpoint PATH] [--out r.md]

**What can be measured honestly here.** The descriptor of the real pipeline is the pooled encoder tokens of
the DUSt3R checkpoint; no real weights are available in this environment, and the tiny random-weight network
gives a descriptor with no meaning. So the benchmark separates the two things a retrieval graph depends on:

1. the GRAPH BUILDER (K nearest by similarity + maximum spanning tree), given a perfect similarity: the
   views' true overlap from synthgen's ground truth (``covisible``). This is an upper bound for any
   descriptor; it shows what the builder keeps (recall of strongly overlapping pairs) and wastes;
2. the DESCRIPTOR: the tiny network's (expected at chance level: it is random) and, with ``--checkpoint``,
   a real checkpoint's (the measurement to make wherever the weights are); against random graphs with the
   same number of pairs (chance) and the sliding window over the view order (``swin-K``).

Quality: the overlap of two views is the mean of the fractions of each view's scene pixels (sky excluded)
that the other sees unoccluded (synthgen's ``covisible``); reported: the fraction of chosen pairs that
overlap by 10 % and 50 %, their mean overlap, and the recall of the oracle: of each view's 10 most
overlapping partners, the fraction the graph contains. Timing: the tiny network's encoder per photo and the pair choice for N photos.

**Where auto switches** (``--threshold``): synthgen's pairwise predictions (noise 1) aligned with the
complete graph and with oracle ``retrieval-10`` and ``retrieval-5-5`` for N = 10 ... 40 views: alignment error
and time. Caveat:
synthgen predicts non-overlapping pairs as accurately as overlapping ones (the real network does not), which
favours the complete graph; the switch point measured here is therefore a conservative (high) one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from synthgen_loader import SYNTHGEN, load_synthgen  # noqa: E402

from core.align import global_align  # noqa: E402
from core.align.graph import connected_components  # noqa: E402
from core.config import AlignConfig, InferenceConfig  # noqa: E402
from core.graphs.photos import make_pairs, retrieval_pairs  # noqa: E402
from core.graphs.retrieval import global_descriptors, similarity_matrix  # noqa: E402
from core.inference.predictor import PairRunner, Reporter  # noqa: E402
from core.model.configs import get_config  # noqa: E402
from core.model.dust3r import build_model  # noqa: E402
from core.predictions import PairPrediction  # noqa: E402

OVERLAP, STRONG = 0.10, 0.50


def overlap_matrix(sg, case) -> np.ndarray:
    """``(N, N)``: the mean of the two views' co-visible fractions of their scene pixels (synthgen ground
    truth; the orbit's sky dome, seen by every view, does not count)."""
    depth, focals, T = case["depth"], case["focals"], case["cam2world"]
    scene = ~np.isin(case["obj_id"], case["bg_ids"])
    n = len(focals)
    frac = np.eye(n)
    for a in range(n):
        for b in range(n):
            if a != b:
                vis = sg.covisible(depth[a], focals[a], T[a], depth[b], focals[b], T[b])
                frac[a, b] = vis[scene[a]].mean() if scene[a].any() else 0.0
    return (frac + frac.T) / 2


def encoder_descriptors(model, images: np.ndarray) -> tuple[np.ndarray, float]:
    """Descriptors of the pipeline (pooled encoder tokens) and the encoder's seconds per photo."""
    tensors = [torch.from_numpy(im).permute(2, 0, 1)[None].float() / 127.5 - 1 for im in images]
    runner = PairRunner(model, InferenceConfig(device="cpu", precision="fp32", batch_size=8))
    start = time.perf_counter()
    cache = runner.encode(tensors, Reporter(None, len(tensors), 0, 1.0))
    seconds = (time.perf_counter() - start) / len(tensors)
    return global_descriptors([cache.tokens(k) for k in range(len(tensors))]), seconds


def quality(pairs, overlap: np.ndarray, k: int = 10) -> dict[str, float]:
    """Overlap of the chosen pairs; ``recall``: of every view's ``k`` most overlapping partners (the oracle's
    choice), the fraction the graph contains."""
    n = overlap.shape[0]
    chosen = np.array(pairs)
    values = overlap[chosen[:, 0], chosen[:, 1]]
    chosen_set = {tuple(p) for p in pairs}
    others = np.where(np.eye(n, dtype=bool), -np.inf, overlap)
    best = np.argsort(-others, axis=1, kind="stable")[:, :k]
    recall = np.mean([(min(i, j), max(i, j)) in chosen_set for i in range(n) for j in best[i]])
    connected = len(set(connected_components(chosen, n).tolist())) == 1
    return {"pairs": len(pairs), "precision": float(np.mean(values >= OVERLAP)),
            "strong": float(np.mean(values >= STRONG)), "recall": float(recall),
            "mean_overlap": float(values.mean()), "connected": connected}  # fmt: skip


def _name(k: int, m: int) -> str:
    return f"retrieval-{k}" if m == 0 else f"retrieval-{k}-{m}"


def random_pairs(n: int, count: int, seed: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(seed)
    every = [(i, j) for i in range(n) for j in range(i + 1, n)]
    picks = rng.choice(len(every), size=min(count, len(every)), replace=False)
    return sorted(every[k] for k in picks)


def graph_quality(args, sg, lines: list[str]) -> None:
    lines += ["## Chosen pairs (unordered) on synthgen sets, 128x96 views",
              "", "| scene | N | graph (descriptor) | pairs | overlap >= 10 % | overlap >= 50 % | mean overlap | "
              "recall of each view's 10 best | connected |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    print("\n".join(lines[-4:]), flush=True)
    torch.manual_seed(0)
    tiny = build_model(get_config("tiny_linear"))
    real = None
    if args.checkpoint:
        from core.model.checkpoint import load_model

        real = load_model(args.checkpoint)
    for scene in ("orbit", "room"):
        for n in args.n:
            case = sg.make_case(scene, n=n, noise=0, size=(128, 96), seed=0, preds=False)
            overlap = overlap_matrix(sg, case)
            graphs = {}
            for k, m in ((5, 0), (10, 0), (5, 5)):
                graphs[f"{_name(k, m)} (true overlap)"] = retrieval_pairs(overlap, k, m)
            desc, enc_s = encoder_descriptors(tiny, case["images"])
            start = time.perf_counter()
            graphs["retrieval-5-5 (tiny random network)"] = retrieval_pairs(similarity_matrix(desc), 5, 5)
            choose_s = time.perf_counter() - start
            if real is not None:
                desc_real, _ = encoder_descriptors(real, case["images"])
                graphs["retrieval-5-5 (checkpoint)"] = retrieval_pairs(similarity_matrix(desc_real), 5, 5)
            count = len(graphs["retrieval-5-5 (true overlap)"])
            graphs["random, same count"] = random_pairs(n, count, seed=n)
            graphs["swin-10 (view order)"] = make_pairs(n, "swin-10", symmetrize=False)
            for name, pairs in graphs.items():
                q = quality(pairs, overlap)
                row = (f"| {scene} | {n} | {name} | {q['pairs']} | {100 * q['precision']:.0f}% | "
                       f"{100 * q['strong']:.0f}% | {q['mean_overlap']:.2f} | {100 * q['recall']:.0f}% | "
                       f"{q['connected']} |")  # fmt: skip
                lines.append(row)
                print(row, flush=True)
            lines.append(f"| {scene} | {n} | timing: tiny encoder {1e3 * enc_s:.0f} ms/photo, pair choice "
                         f"{1e3 * choose_s:.0f} ms | | | | | | |")  # fmt: skip
            print(lines[-1], flush=True)


def _align(sg, case, edges: set[tuple[int, int]]) -> tuple[dict, float]:
    preds = [PairPrediction(int(i), int(j), case["pred_i"][e], case["conf_i"][e], case["pred_j"][e],
                            case["conf_j"][e])
             for e, (i, j) in enumerate(case["edges"]) if (min(i, j), max(i, j)) in edges]  # fmt: skip
    start = time.perf_counter()
    r = global_align(preds, AlignConfig())
    seconds = time.perf_counter() - start
    est = {
        "cam2world": r.world_from_cam,
        "focals": r.focals,
        "pts3d": np.stack(r.pts3d),
        "depth": np.stack(r.depth),
    }
    return sg.evaluate(case, est, max_points=20000), seconds


def switch_point(args, sg, lines: list[str]) -> None:
    lines += ["", "## Where auto switches: complete vs retrieval (true overlap), synthgen noise 1, 64x48",
              "", "| scene | N | graph | ordered pairs | ATE % | focal err % | RRA@15 | alignment s |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    print("\n".join(lines[-4:]), flush=True)
    for scene in ("orbit", "room"):
        for n in args.threshold_n:
            case = sg.make_case(scene, n=n, noise=1, size=(64, 48), seed=0, graph="complete")
            overlap = overlap_matrix(sg, case)
            complete = {(i, j) for i in range(n) for j in range(i + 1, n)}
            graphs = [("complete", complete)]
            graphs += [(_name(k, m), set(retrieval_pairs(overlap, k, m))) for k, m in ((10, 0), (5, 5))]
            for name, edges in graphs:
                m, seconds = _align(sg, case, edges)
                row = (f"| {scene} | {n} | {name} | {2 * len(edges)} | {100 * m['ate']:.2f} | "
                       f"{100 * m['focal_err_mean']:.2f} | {m['rra15']:.2f} | {seconds:.1f} |")  # fmt: skip
                lines.append(row)
                print(row, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--threshold-n", type=int, nargs="+", default=[10, 15, 20, 30, 40])
    parser.add_argument("--checkpoint", help="a real checkpoint: measure its descriptor too")
    parser.add_argument("--skip-graphs", action="store_true")
    parser.add_argument("--skip-threshold", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if not SYNTHGEN.is_file():
        print(f"error: {SYNTHGEN} not found (this benchmark renders synthgen scenes)", file=sys.stderr)
        return 2
    sg = load_synthgen()
    lines = [f"# Retrieval benchmark ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})", ""]
    if not args.skip_graphs:
        graph_quality(args, sg, lines)
    if not args.skip_threshold:
        switch_point(args, sg, lines)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
