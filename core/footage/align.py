"""The alignment of a shot: one camera for all frames.

``align_shot`` runs the global alignment (:func:`core.align.global_align`) on the frames' pair predictions
with ONE shared focal length (a shot has one lens), fixed when the artist gave it. The refinement step after
it is the job's (:func:`core.jobs.refine.refine_shot`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..align import AlignmentResult, align_single_view, global_align
from ..config import AlignConfig
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
class ShotRefinement:
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
