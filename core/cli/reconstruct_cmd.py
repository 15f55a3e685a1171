"""``python -m core reconstruct``: photos (or footage, :mod:`core.cli.footage`) -> RESULT.npz (INTERFACES.md).

The defaults are the Blender operator's defaults (both come from :mod:`core.config`), so the same settings
give the same result in Blender and on the command line.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from ..config import (
    ALIGN_MEMORIES,
    DISTORTION_MODELS,
    IMAGE_SIZES,
    PAIR_STORAGES,
    AlignConfig,
    InferenceConfig,
    ReconstructConfig,
    RefineConfig,
)
from ..errors import ConfigError
from ..io.output_paths import check_output_file
from .backend_options import backend_factory
from .footage import add_footage_arguments, is_footage, report_lines, run_footage
from .infer_cmd import PAIR_FILE_RE, add_network_options, precision_from_args

logger = logging.getLogger(__name__)
_DEFAULT_INFERENCE = InferenceConfig()
_DEFAULT_ALIGN = AlignConfig()
_DEFAULT_REFINE = RefineConfig()


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reconstruct",
        help="run the whole pipeline: network on all pairs, global alignment, result file",
        description="Reconstruct cameras and a point cloud from photos and write RESULT.npz.",
    )
    parser.add_argument(
        "--checkpoint", required=True, help="official .pth, Hugging Face folder or model.safetensors"
    )
    sources = parser.add_mutually_exclusive_group(required=True)
    sources.add_argument("--images", nargs="+", metavar="IMG", help="photos, in view order")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="RESULT.npz",
        help="result file: a .npz name, used exactly as given, checked before any work, replaced atomically",
    )
    parser.add_argument(
        "--size",
        type=int,
        choices=IMAGE_SIZES,
        default=None,
        help="network image size (default: the model's)",
    )
    add_network_options(parser, _DEFAULT_INFERENCE)
    parser.add_argument("--pair-storage", choices=PAIR_STORAGES, default=_DEFAULT_INFERENCE.pair_storage,
                        help="keep the pair predictions in RAM, on disk (a scratch file in the temporary "
                        "folder, removed afterwards) or auto: on disk when RAM is short (default: %(default)s)")  # fmt: skip
    parser.add_argument("--method", choices=("fast", "paper"), default=_DEFAULT_ALIGN.method)
    parser.add_argument("--niter", type=int, default=None, help="alignment iterations (default: per method)")
    parser.add_argument("--focal-mode", choices=("weiszfeld", "median"), default=_DEFAULT_ALIGN.focal_mode)
    parser.add_argument("--min-conf", type=float, default=_DEFAULT_ALIGN.min_conf)
    parser.add_argument("--shared-focal", action="store_true", help="all photos share one focal length")
    parser.add_argument(
        "--align-memory",
        choices=ALIGN_MEMORIES,
        default=_DEFAULT_ALIGN.memory,
        help="how the alignment holds the predictions: dense, sparse (a fixed budget of anchor pixels per view "
        "and streamed depth maps: memory linear in the pairs, for thousands of views) or auto: sparse when "
        "dense would not fit in the free RAM (default: %(default)s)",
    )
    focal = parser.add_mutually_exclusive_group()
    focal.add_argument(
        "--focal-mm",
        type=float,
        help="known focal length in mm, 1 to 5000: for photos on a 36 mm film back on the photo's long side "
        "(the Blender camera's lens; the 35 mm equivalent for 3:2 photos); for footage on the --sensor-width "
        "film back",
    )
    focal.add_argument(
        "--focal-exif",
        action="store_true",
        help="fix the focal from EXIF FocalLengthIn35mmFilm where present (35 mm equivalent on the diagonal)",
    )
    parser.add_argument(
        "--no-clean", action="store_true", help="keep points that other views see as floaters"
    )
    parser.add_argument(
        "--refine",
        action=argparse.BooleanOptionalAction,
        default=_DEFAULT_REFINE.enabled,
        help="refine the cameras to sub-pixel accuracy on the photos or frames (correspondences, bundle "
        "adjustment; default: %(default)s; --no-refine keeps the aligned cameras)",
    )
    parser.add_argument(
        "--distortion",
        choices=DISTORTION_MODELS,
        default=_DEFAULT_REFINE.distortion,
        help="also estimate radial distortion in the refinement (one set with --shared-focal or footage, else per "
        "photo)",
    )
    parser.add_argument("--pairs", type=Path, default=None, metavar="DIR",
                        help="use the valid pair files in DIR (e.g. written by infer --shard K/N on a farm) and run "
                        "the network only for the pairs missing there; the result is the same")  # fmt: skip
    parser.add_argument("--resume", action="store_true",
                        help="keep the pairs that an interrupted run with the same --out finished (they wait in "
                        "the hidden folder .<out name>.pairs beside --out) and compute only the others")  # fmt: skip
    add_footage_arguments(parser, sources)
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> ReconstructConfig:
    """The :class:`ReconstructConfig` the command-line options describe."""
    if args.distortion != "none" and not args.refine:
        raise ConfigError("--distortion is estimated by the refinement: drop --no-refine")
    align_kwargs = {
        "method": args.method,
        "focal_mode": args.focal_mode,
        "min_conf": args.min_conf,
        "shared_focal": args.shared_focal,
        "memory": args.align_memory,
    }
    if args.niter is not None:
        align_kwargs["niter" if args.method == "paper" else "fast_niter"] = args.niter
    return ReconstructConfig(
        inference=InferenceConfig(
            image_size=args.size,
            scene_graph=args.graph,
            device=args.device,
            precision=precision_from_args(args, _DEFAULT_INFERENCE.precision),
            batch_size=args.batch_size,
            pair_storage=args.pair_storage,
            check_memory=not args.no_memory_check,
        ),
        align=AlignConfig(**align_kwargs),
        focal_prior="mm" if args.focal_mm is not None else ("exif" if args.focal_exif else "none"),
        focal_mm=args.focal_mm,
        clean_depth=not args.no_clean,
        refine=replace(_DEFAULT_REFINE, enabled=args.refine, distortion=args.distortion),
    )


def resume_folder(out: Path) -> Path:
    """The scratch folder of ``--out``'s finished pairs: ``.<out name>.pairs`` beside it."""
    return out.parent / f".{out.name}.pairs"


def clear_pair_files(folder: Path) -> None:
    """Remove our pair files (and interrupted writes of them) from ``folder``, then the folder if empty."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if PAIR_FILE_RE.match(path.name) and path.is_file():
            path.unlink()
    if not any(folder.iterdir()):
        folder.rmdir()


def _pair_files(args: argparse.Namespace, out: Path):
    """The run's :class:`~core.inference.pair_reuse.PairFiles`: the resume folder (emptied first unless
    ``--resume``), ``--pairs DIR`` if given, and the backend."""
    from ..inference.pair_reuse import PairFiles

    if args.pairs is not None and not args.pairs.is_dir():
        raise ConfigError(f"--pairs {args.pairs}: no such folder")
    make_backend_for = backend_factory(args, transport="float16")
    scratch = resume_folder(out)
    if not args.resume:
        clear_pair_files(scratch)
    sources = [args.pairs] if args.pairs is not None else []
    return PairFiles(args.checkpoint, scratch, sources, make_backend_for)


def run(args: argparse.Namespace) -> int:
    from ..jobs.photos import reconstruct

    config = config_from_args(args)
    out = check_output_file(args.out)
    if is_footage(args):
        if args.pairs is not None or args.resume:
            raise ConfigError("--pairs and --resume are for photos (--images), not for footage")
        make_backend_for = backend_factory(args, transport="float32")
        print("\n".join(report_lines(run_footage(args, config, out, make_backend_for), out)))
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    files = _pair_files(args, out)
    result = reconstruct(args.images, args.checkpoint, config, progress=args.progress, pair_files=files)
    result.save_npz(out)
    clear_pair_files(files.scratch)
    if files.reused:
        print(f"{files.reused} pairs reused from pair files, {files.computed} computed")
    points = sum(int(p.shape[0] * p.shape[1]) for p in result.pts3d)
    print(f"wrote {out}: {result.num_views} views, {points} points")
    if any(result.refine_status):
        from ..refine.summary import refine_summary

        refined = sum(status == "refined" for status in result.refine_status)
        names = [Path(p).stem for p in result.image_paths]
        summary = refine_summary(result.solve_error_total_px, result.solve_error_px, result.uncertainty_px,
                                 result.refine_status, names)  # fmt: skip
        print(f"refined {refined} of {result.num_views} cameras: {summary}")
        # its warnings were logged once, as the refinement found them (core.jobs.refine)
    return 0
