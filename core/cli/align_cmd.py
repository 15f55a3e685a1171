"""``python -m core align``: global alignment of precomputed pairwise predictions (INTERFACES.md section 1).

Reads ``CASE.npz`` in the pairwise layout of ``shared/tools/synthgen.py`` (``edges`` (E, 2) int, ``pred_i``,
``pred_j`` (E, H, W, 3), ``conf_i``, ``conf_j`` (E, H, W); other arrays are ignored) and writes ``EST.npz``
with ``cam2world`` (N, 4, 4), ``focals`` (N,), ``pts3d`` (N, H, W, 3), ``conf`` (N, H, W), ``depth`` (N, H, W),
plus ``principal_points`` (N, 2), ``loss_history`` and ``seconds``.
"""

from __future__ import annotations

import argparse
import logging
import zipfile
from pathlib import Path

import numpy as np

from ..config import AlignConfig
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
        "--min-conf", type=float, default=3.0, help="ignore pixels with a confidence at or below"
    )
    parser.add_argument("--shared-focal", action="store_true", help="all views share one focal length")
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
        **iterations,
    )
    output = check_output_file(args.output, "--output")
    preds = load_case_predictions(args.input)
    result = global_align(preds, config, progress=_log_progress)
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
    output.parent.mkdir(parents=True, exist_ok=True)
    save_npz(output, estimate)
    print(f"aligned {result.num_views} views in {result.seconds:.2f} s -> {output}")
    return 0


def _log_progress(stage: str, fraction: float) -> None:
    logger.info("%s (%.0f%%)", stage, 100 * fraction)
