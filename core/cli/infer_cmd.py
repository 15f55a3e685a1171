"""``python -m core infer``: run the network on every pair of a scene graph and save the pairwise predictions.

Writes ``DIR/pair_<i>_<j>.npz`` per ordered pair with the array names of ``shared/reference/outputs/*.npz``
(``pair``, ``true_shape1``, ``true_shape2``, ``pred1_pts3d``, ``pred1_conf``, ``pred2_pts3d_in_other_view``,
``pred2_conf``), see :meth:`core.predictions.PairPrediction.save`. Each file is replaced atomically. Once
all are written, the ``pair_<i>_<j>.npz`` files of an EARLIER run that this run did not write (other photos,
another graph) are removed, so the folder holds exactly this run's pairs; no other file is touched.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import time
from pathlib import Path

from ..config import DEVICES, IMAGE_SIZES, PRECISIONS, InferenceConfig
from ..errors import ConfigError
from ..io.output_paths import check_output_folder

log = logging.getLogger(__name__)
# Our pair files, and the temporary files of an interrupted atomic write of one (core.io.atomic).
PAIR_FILE_RE = re.compile(r"^(pair_\d+_\d+\.npz|\.pair_\d+_\d+\.npz\..+\.part)$")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    defaults = InferenceConfig()
    parser = subparsers.add_parser(
        "infer",
        help="run the network on image pairs and save the pairwise pointmaps",
        description="Run DUSt3R on every ordered pair of the scene graph (symmetrized, in the official order) "
        "and write DIR/pair_<i>_<j>.npz per pair (reference array names). Photos are numbered in the order given.",
    )
    parser.add_argument("--checkpoint", required=True, metavar="PATH",
                        help="official .pth file, Hugging Face folder (model.safetensors + config.json) "
                        "or a model.safetensors file")  # fmt: skip
    parser.add_argument("--images", required=True, nargs="+", metavar="IMG", help="photos, in this order")
    parser.add_argument("--size", type=int, choices=IMAGE_SIZES, default=None,
                        help="network image size; must be the model's (default: the model's)")  # fmt: skip
    add_network_options(parser, defaults)
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (created if needed); pair_<i>_<j>.npz files of an earlier run "
                        "that this run does not write are removed, nothing else is touched")  # fmt: skip
    parser.set_defaults(func=run)


def add_network_options(parser: argparse.ArgumentParser, defaults: InferenceConfig) -> None:
    """``--graph``, ``--device``, ``--precision`` (and the deprecated ``--half``), ``--batch-size`` and
    ``--no-memory-check``: the options ``infer`` and ``reconstruct`` share."""
    parser.add_argument("--graph", default=defaults.scene_graph,
                        help="scene graph: auto, complete, swin-K[-noncyclic], logwin-K[-noncyclic], oneref-R or "
                        "retrieval-K[-M] (each photo with its K most similar, and M more at wider baselines; auto: "
                        f"complete up to 20 photos, retrieval-5-5 above) (default: {defaults.scene_graph})")  # fmt: skip
    parser.add_argument("--device", choices=DEVICES, default=defaults.device, help="default: %(default)s")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="network precision: auto picks bf16 on CPUs with AMX/AVX-512 BF16 and on recent "
                        "NVIDIA GPUs, fp16 on other GPUs, fp32 otherwise; results are stored as float32 "
                        f"(default: {defaults.precision})")  # fmt: skip
    parser.add_argument("--half", action="store_true", help="deprecated: same as --precision fp16")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, metavar="N",
                        help="pairs decoded together (default: 4 on the CPU, as many as fit on a GPU)")  # fmt: skip
    parser.add_argument("--no-memory-check", action="store_true",
                        help="run even when the estimated peak memory exceeds the free memory")  # fmt: skip


def precision_from_args(args: argparse.Namespace, default: str) -> str:
    """``--precision``, or fp16 for the deprecated ``--half`` (a warning), else ``default``."""
    if args.half:
        if args.precision not in (None, "fp16"):
            raise ConfigError(f"--half (fp16) contradicts --precision {args.precision}: drop --half")
        log.warning("--half is deprecated: use --precision fp16")
        return "fp16"
    return args.precision or default


def _check_inputs(args: argparse.Namespace) -> Path:
    """Cheap checks before the (slow) model load: the output folder, then every photo's header; returns the
    output folder."""
    from ..inference.images import check_photo

    out = check_output_folder(args.out)
    for name in args.images:
        check_photo(name)
    return out


def remove_stale_pairs(folder: Path, written: set[str]) -> list[Path]:
    """Remove the ``pair_<i>_<j>.npz`` files (and temporary files of an interrupted write of one) of
    ``folder`` whose names are not in ``written``; returns them."""
    stale = [
        p for p in folder.iterdir() if PAIR_FILE_RE.match(p.name) and p.name not in written and p.is_file()
    ]
    for path in stale:
        path.unlink()
    return stale


def _log_progress(stage: str, fraction: float) -> None:
    log.info("%s (%.0f%%)", stage, 100 * fraction)


def run(args: argparse.Namespace) -> int:
    from ..graphs.photos import count_pairs
    from ..inference.backend import make_backend
    from ..inference.images import load_images
    from ..inference.predictor import choose_image_size, resolve_device
    from ..inference.scene import infer_scene
    from ..jobs.plan import RunGuard, photo_sizes
    from ..model.checkpoint import load_model
    from ..resources.guard import memory_errors

    # Everything that can be checked without the (slow) model load comes first.
    out = _check_inputs(args)
    config = InferenceConfig(image_size=args.size, scene_graph=args.graph, device=args.device,
                             precision=precision_from_args(args, InferenceConfig.precision),
                             batch_size=args.batch_size, check_memory=not args.no_memory_check)  # fmt: skip
    count_pairs(len(args.images), args.graph)  # validates the graph name
    device = resolve_device(args.device)
    guard = RunGuard(photo_sizes(args.images), config, device.type, with_result=False)
    guard.check()
    start = time.perf_counter()
    with memory_errors("loading the model"):
        model = load_model(args.checkpoint, device=device)
    size = choose_image_size(args.size, model)
    config = dataclasses.replace(config, image_size=size)
    guard.check(model.config)
    images = load_images(args.images, size)
    out.mkdir(parents=True, exist_ok=True)

    written: set[str] = set()

    def save(pred) -> None:  # each pair is written as soon as it is computed
        name = f"pair_{pred.i}_{pred.j}.npz"
        pred.save(out / name)
        written.add(name)

    done = infer_scene(make_backend("local", config=config, model=model), images, args.graph, config, save, progress=_log_progress,
                       before_decode=lambda pairs: guard.check(model.config, pairs))  # fmt: skip
    stale = remove_stale_pairs(out, written)
    note = f"; removed {len(stale)} pair files of an earlier run" if stale else ""
    seconds = time.perf_counter() - start
    print(f"wrote {len(done.pairs)} pairs of {len(images)} photos to {out} in {seconds:.1f} s{note}")
    return 0
