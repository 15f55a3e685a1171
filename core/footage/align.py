"""The alignment of a shot: one camera for all frames, and the seam where the sub-pixel refinement plugs in.

``align_shot`` runs the global alignment (:func:`core.align.global_align`) on the frames' pair predictions
with ONE shared focal length (a shot has one lens), fixed when the artist gave it. ``refine_shot`` is the
refinement step after it (:mod:`core.refine` on the frames' network images, when ``RefineConfig.enabled``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..align import AlignmentResult, align_single_view, global_align
from ..align_uncertainty import aligned_uncertainty_px
from ..config import AlignConfig, RefineConfig
from ..predictions import PairPrediction
from ..progress import ProgressFn, no_progress


def shot_align_config(config: AlignConfig, num_frames: int, known_focal: float | None) -> AlignConfig:
    """``config`` with one shared focal length, fixed to ``known_focal`` (network pixels) when given."""
    known = None if known_focal is None else (float(known_focal),) * num_frames
    return replace(config, shared_focal=True, known_focals=known)


def align_shot(
    preds: Sequence[PairPrediction],
    num_frames: int,
    config: AlignConfig,
    known_focal: float | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> AlignmentResult:
    """Global alignment of a shot's pairs (views ``0..num_frames-1`` in frame order), one shared focal.

    One frame is the monocular case (the pair ``(0, 0)``), as for one photo.
    """
    progress = progress or no_progress
    config = shot_align_config(config, num_frames, known_focal)
    if num_frames == 1:
        result = align_single_view(preds[0], config)
        progress("Aligning 1/1", 1.0)
        return result
    return global_align(preds, config, progress=progress, cancel=cancel)


@dataclass(frozen=True)
class Refinement:
    """After the refinement step: the (refined) alignment, ``dist (N, 2)`` ``(k1, k2)``,
    ``solve_error_px (N,)`` and ``uncertainty_px (N,)`` in NETWORK pixels (solve errors NaN where nothing was
    refined; uncertainties the alignment's there), per view ``status`` (``refined``, ``kept: <reason>``, or
    ``""`` when the refinement did not run) and the refinement's ``warnings``."""

    aligned: AlignmentResult
    dist: np.ndarray
    solve_error_px: np.ndarray
    uncertainty_px: np.ndarray
    status: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def refine_shot(
    aligned: AlignmentResult,
    images: Sequence,
    config: AlignConfig,
    refine: RefineConfig | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> Refinement:
    """The refinement step of a shot: :mod:`core.refine` on the frames' network images.

    Args:
        aligned: the shot's alignment; images: per view ``k``, ``images[k].rgb`` ``(H, W, 3)`` uint8, its
            network image; config: the shot's alignment config (:func:`shot_align_config`: one shared focal,
            the artist's focal fixed when given; the refinement keeps both).
        refine: the refinement's settings; ``None`` or ``enabled=False`` (or one frame): the alignment
            unchanged, no distortion, no solve error, the alignment's uncertainty.

    The frames that are localised afterwards are posed against what this returns.
    """
    n = aligned.num_views
    if refine is None or not refine.enabled or n < 2:
        return Refinement(aligned=aligned, dist=np.zeros((n, 2)), solve_error_px=np.full(n, np.nan),
                          uncertainty_px=aligned_uncertainty_px(aligned.intrinsics()), status=("",) * n)  # fmt: skip
    from ..jobs.refine import refine_frames

    refinement = refine_frames(aligned, [img.rgb for img in images], config, refine, progress, cancel)
    return Refinement(
        aligned=refinement.alignment,
        dist=refinement.dist,
        solve_error_px=refinement.solve_error_px,
        uncertainty_px=refinement.uncertainty_px,
        status=refinement.notes,
        warnings=refinement.warnings,
    )
