"""Pairs on Ray workers vs this process: the same run on ``local`` and on ``ray`` with 1 and 2 workers.

    python benchmarks/bench_cluster.py [--photos 6] [--size small|tiny] [--threads 1]

The model is a seeded random-weight network (no download): ``small`` is a ViT-S-sized encoder (384 wide, 8
blocks) with a 4-block decoder, about a tenth of the real 224 model's cost per pair, so the per-pair work is
large enough for the overhead to show as it would; ``tiny`` is the tests' model (overhead only). The photos
are the repository's examples, repeated (mirrored) up to ``--photos``; the graph is ``complete``.

Printed, in one run on one machine: the local time of the pairs (the baseline), then for 1 and 2 Ray workers
(a local Ray on 127.0.0.1) the start-up (connect, start the workers, load the model once each) and the time
of the pairs, the ratio of that time to the local one (target <= 1.1 for one worker), pairs per second and
pairs per second per worker; and whether every prediction equals the local one bit for bit (float32).
Each worker uses ``--threads`` torch threads, as the local run does: a fair comparison on a busy machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_small_model(folder: Path) -> Path:
    """A seeded random ViT-S-sized 224 model in the Hugging Face layout (config.json + model.safetensors)."""
    import torch
    from safetensors.torch import save_file

    from core.model.checkpoint import load_model
    from core.model.dust3r import build_model

    tiny = ROOT / "tests" / "data" / "tiny_linear_224"
    small = dict(
        enc_embed_dim=384, enc_depth=8, enc_num_heads=6, dec_embed_dim=256, dec_depth=4, dec_num_heads=4
    )
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(load_model(tiny).config, **small))
    folder.mkdir(parents=True, exist_ok=True)
    config = json.loads((tiny / "config.json").read_text())
    config.update(small)
    (folder / "config.json").write_text(json.dumps(config))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    return folder


def photos(count: int, folder: Path) -> list[str]:
    from PIL import Image

    examples = sorted((ROOT / "examples" / "photos").glob("*.jpg"))
    paths = []
    for k in range(count):
        source = examples[k % len(examples)]
        if k < len(examples):
            paths.append(str(source))
            continue
        image = Image.open(source)
        for _ in range(k // len(examples)):
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(3)
        path = folder / f"photo{k}.jpg"
        image.save(path, quality=95)
        paths.append(str(path))
    return paths


def _collect(into: dict):
    def sink(pred) -> None:
        into[(pred.i, pred.j)] = pred

    return sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--size", choices=("small", "tiny"), default="small")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a loopback-only local Ray, no token file written

    import numpy as np
    import ray
    import torch

    from core.config import InferenceConfig
    from core.graphs.photos import make_pairs
    from core.inference.images import load_images
    from core.inference.predictor import predict_pairs
    from core.inference.ray_backend import RayBackend, RaySettings
    from core.model.checkpoint import load_model

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        checkpoint = (
            make_small_model(Path(tmp) / "small")
            if args.size == "small"
            else ROOT / "tests/data/tiny_linear_224"
        )
        images = load_images(photos(args.photos, Path(tmp)), 224)
        pairs = make_pairs(len(images), "complete")
        config = InferenceConfig(image_size=224, device="cpu", precision="fp32")
        model = load_model(checkpoint)
        start = time.perf_counter()
        local = {(p.i, p.j): p for p in predict_pairs(model, images, pairs, config)}
        base = time.perf_counter() - start
        print(
            f"{len(pairs)} pairs of {len(images)} photos at 224, model {args.size}, {args.threads} torch thread(s)"
        )
        print(f"local:          {base:7.2f} s  {len(pairs) / base:6.2f} pairs/s")
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
        try:
            for workers in (1, 2):
                settings = RaySettings(workers=workers, cpus_per_worker=args.threads)
                start = time.perf_counter()
                with RayBackend(checkpoint, config, settings) as computer:
                    ready = time.perf_counter() - start
                    got = {}
                    start = time.perf_counter()
                    computer.run_pairs(images, pairs, _collect(got))
                    seconds = time.perf_counter() - start
                same = all(
                    np.array_equal(getattr(got[k], m), getattr(v, m))
                    for k, v in local.items()
                    for m in ("pts3d_i", "conf_i", "pts3d_j", "conf_j")
                )
                rate = len(pairs) / seconds
                print(f"ray {workers} worker(s): {seconds:7.2f} s  {rate:6.2f} pairs/s  {rate / workers:6.2f} "
                      f"pairs/s/worker  ratio to local {seconds / base:5.2f}x  start-up {ready:5.1f} s  "
                      f"identical: {same}")  # fmt: skip
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
