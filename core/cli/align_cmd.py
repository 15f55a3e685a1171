"""``python -m core align``: global alignment of precomputed pairwise predictions (INTERFACES.md section 1).

Reads ``CASE.npz`` in the pairwise layout of ``shared/tools/synthgen.py`` (``edges`` (E, 2) int, ``pred_i``,
``pred_j`` (E, H, W, 3), ``conf_i``, ``conf_j`` (E, H, W); other arrays are ignored) and writes ``EST.npz``
with ``cam2world`` (N, 4, 4), ``focals`` (N,), ``pts3d`` (N, H, W, 3), ``conf`` (N, H, W), ``depth`` (N, H, W),
plus ``principal_points`` (N, 2), ``loss_history`` and ``seconds``.

By default (``--no-refine`` skips it; a case without ``images`` is aligned only unless ``--refine`` asks) the
cameras are then refined on the case's ``images`` (N, H, W, 3) uint8 (matches checked on the images, bundle
adjustment; ``--distortion`` also estimates radial distortion), and ``EST.npz`` also holds ``dist`` (N, 2),
``solve_error_px`` (N,) (pixels of the given images), ``solve_error_total_px`` and ``refine_seconds``.
``EST.npz`` always holds ``refine_status`` (N,) str (``refined`` or ``kept: <reason>``) and ``uncertainty_px``
(N,) float32 (1-sigma reprojection uncertainty of each camera, pixels of the given images; the alignment's
own for cameras not refined).
"""

from __future__ import annotations

import argparse
import logging
import zipfile
from pathlib import Path

import numpy as np

from ..config import ALIGN_MEMORIES, DEFAULT_MIN_CONF, DISTORTION_MODELS, AlignConfig, RefineConfig
from ..errors import AlignmentError, ConfigError
from ..io.atomic import save_npz
from ..io.output_paths import check_output_file
from ..predictions import PAIRWISE_KEYS, PairPrediction, predictions_from_pairwise

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "align",
        help="globally align precomputed pairwise predictions (CASE.npz -> EST.npz)",
        description="Global alignment (paper section 3.4) of the pairwise pointmaps stored in CASE.npz.",
    )
    parser.add_argument(
        "--input", required=True, metavar="CASE.npz", help="pairwise predictions (synthgen layout)"
    )
    parser.add_argument(
        "--output",
        required=True,
        metavar="EST.npz",
        help="where to write the estimate (a .npz name, used as given; replaced atomically)",
    )
    parser.add_argument(
        "--niter",
        type=int,
        default=None,
        help="iterations (paper: 300 by default; fast: a maximum, default 100)",
    )
    parser.add_argument("--focal-mode", choices=("weiszfeld", "median"), default="weiszfeld")
    parser.add_argument("--method", choices=("fast", "paper"), default="fast")
    parser.add_argument(
        "--min-conf", type=float, default=DEFAULT_MIN_CONF, help="ignore pixels with a confidence at or below"
    )
    parser.add_argument("--shared-focal", action="store_true", help="all views share one focal length")
    parser.add_argument(
        "--align-memory",
        choices=ALIGN_MEMORIES,
        default=AlignConfig().memory,
        help="how the alignment holds the predictions: dense, sparse (a fixed budget of anchor pixels per view "
        "and streamed depth maps: memory linear in the pairs, for thousands of views) or auto: sparse when "
        "dense would not fit in the free RAM (default: %(default)s)",
    )
    parser.add_argument(
        "--refine",
        dest="refine",
        action="store_true",
        default=None,
        help="refine the cameras to sub-pixel accuracy on the case's images (correspondences, bundle "
        "adjustment; the default when the case holds its images)",
    )
    parser.add_argument("--no-refine", dest="refine", action="store_false", help="keep the aligned cameras")
    parser.add_argument(
        "--distortion",
        choices=DISTORTION_MODELS,
        default="none",
        help="also estimate radial distortion in the refinement (one set with --shared-focal, else per view)",
    )
    parser.set_defaults(func=run)


def load_case_predictions(path: str | Path) -> list[PairPrediction]:
    """The ordered pair predictions of a synthgen-layout ``CASE.npz``.

    Raises:
        AlignmentError: the file is missing, unreadable, or lacks one of the pairwise arrays.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in PAIRWISE_KEYS if k not in data.files]
            if missing:
                raise AlignmentError(f"{path} lacks the pairwise arrays {missing} (synthgen layout expected)")
            arrays = {k: data[k] for k in PAIRWISE_KEYS}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise AlignmentError(f"cannot read {path}: {exc}") from exc
    return predictions_from_pairwise(arrays)


def load_case_images(path: str | Path, num_views: int, size: tuple[int, int]) -> np.ndarray:
    """The ``images`` array of ``CASE.npz``: ``(N, H, W, 3)`` uint8 at the pointmaps' size.

    Raises:
        AlignmentError: the array is missing or has the wrong shape.
    """
    with np.load(path, allow_pickle=False) as data:
        if "images" not in data.files:
            raise AlignmentError(
                f"{path} has no 'images' array: --refine needs the views' images (N, H, W, 3) uint8, as "
                "synthgen.py writes them"
            )
        images = data["images"]
    expected = (num_views, size[0], size[1], 3)
    if images.shape != expected or images.dtype != np.uint8:
        raise AlignmentError(f"{path}: 'images' must be uint8 {expected}, got {images.dtype} {images.shape}")
    return images


def run(args: argparse.Namespace) -> int:
    from ..align import global_align

    if args.niter is not None and args.niter < 0:
        raise ConfigError(f"--niter cannot be negative, got {args.niter}")
    iterations = (
        {} if args.niter is None else {"niter" if args.method == "paper" else "fast_niter": args.niter}
    )
    config = AlignConfig(
        method=args.method,
        focal_mode=args.focal_mode,
        min_conf=args.min_conf,
        shared_focal=args.shared_focal,
        memory=args.align_memory,
        **iterations,
    )
    refine = RefineConfig().enabled if args.refine is None else args.refine
    refine_config = RefineConfig(enabled=refine, distortion=args.distortion)
    if args.distortion != "none" and not refine:
        raise ConfigError("--distortion is estimated by the refinement: drop --no-refine")
    output = check_output_file(args.output, "--output")
    preds = load_case_predictions(args.input)
    result = global_align(preds, config, progress=args.progress)
    sizes = {d.shape for d in result.depth}
    if len(sizes) != 1:
        raise AlignmentError(f"views have different sizes {sorted(sizes)}: EST.npz needs one size")
    estimate = {
        "cam2world": result.world_from_cam,
        "focals": result.focals,
        "principal_points": result.principal_points,
        "pts3d": np.stack(result.pts3d),
        "conf": np.stack(result.conf),
        "depth": np.stack(result.depth),
        "loss_history": np.asarray(result.loss_history, dtype=np.float64),
        "seconds": np.float64(result.seconds),
    }
    if refine and args.refine is None and not _has_images(args.input):
        refine = False  # by default: a case without its images is aligned only
        print("the case holds no 'images': cameras not refined")
    if not refine:
        estimate.update(_unrefined_arrays(result))
    if refine:
        images = load_case_images(args.input, result.num_views, next(iter(sizes)))
        print(f"aligned {result.num_views} views in {result.seconds:.2f} s")
        refinement = _refine(result, images, refine_config, args.shared_focal, args.progress)
        refined = refinement.alignment
        estimate.update(
            cam2world=refined.world_from_cam,
            focals=refined.focals,
            principal_points=refined.principal_points,
            pts3d=np.stack(refined.pts3d),
            depth=np.stack(refined.depth),
            **_refinement_arrays(refinement),
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    save_npz(output, estimate)
    if refine:
        print(f"wrote {output}")
    else:
        print(f"aligned {result.num_views} views in {result.seconds:.2f} s -> {output}")
    return 0


def _refine(aligned, images: np.ndarray, config: RefineConfig, shared_focal: bool, progress):
    from ..refine import Priors, refine_alignment
    from ..refine.summary import refine_summary

    n = aligned.num_views
    priors = Priors(shared_focal=shared_focal, known_focal=np.zeros(n, bool), known_pose=np.zeros(n, bool))
    refinement = refine_alignment(aligned, list(images), config, priors=priors, progress=progress)
    summary = refine_summary(refinement.solve_error_total_px, refinement.solve_error_px,
                             refinement.uncertainty_px, refinement.notes, [f"view {v}" for v in range(n)])  # fmt: skip
    lengths = ", ".join(f"{k}: {c}" for k, c in enumerate(refinement.track_lengths) if c)
    print(
        f"refined {int(refinement.refined.sum())} of {n} views in {refinement.seconds:.2f} s: {summary} "
        f"({refinement.num_observations} observations of {refinement.num_tracks} tracks; views per track "
        f"{lengths or 'none'})"
    )
    for line in refinement.warnings:
        logger.warning("refinement: %s", line)
    return refinement


def _refinement_arrays(refinement) -> dict[str, np.ndarray]:
    return {
        "dist": np.asarray(refinement.dist, dtype=np.float64),
        "solve_error_px": np.asarray(refinement.solve_error_px, dtype=np.float64),
        "solve_error_total_px": np.float64(refinement.solve_error_total_px),
        "refine_status": np.array(refinement.notes, dtype=str),
        "uncertainty_px": np.asarray(refinement.uncertainty_px, dtype=np.float32),
        "refine_seconds": np.float64(refinement.seconds),
    }


def _unrefined_arrays(aligned) -> dict[str, np.ndarray]:
    """``refine_status`` and ``uncertainty_px`` of cameras left as aligned (the alignment's uncertainty)."""
    from ..geometry.camera_uncertainty import aligned_uncertainty_px

    n = aligned.num_views
    return {
        "refine_status": np.array(["kept: refinement off"] * n, dtype=str),
        "uncertainty_px": aligned_uncertainty_px(aligned.intrinsics()).astype(np.float32),
    }


def _has_images(path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as data:
            return "images" in data.files
    except (OSError, ValueError, zipfile.BadZipFile):
        return False
