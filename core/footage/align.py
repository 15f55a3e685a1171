"""The alignment of a shot: one camera for all frames, and the seam where the sub-pixel refinement plugs in.

``align_shot`` runs the global alignment (:func:`core.align.global_align`) on the frames' pair predictions
with ONE shared focal length (a shot has one lens), fixed when the artist gave it. ``refine_shot`` is the
refinement step after it; today it returns the alignment unchanged (see its docstring).
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
class Refinement:
    """After the refinement step: the (refined) alignment, ``dist (N, 2)`` ``(k1, k2)`` and
    ``solve_error_px (N,)`` in NETWORK pixels (NaN where nothing was refined)."""

    aligned: AlignmentResult
    dist: np.ndarray
    solve_error_px: np.ndarray


def refine_shot(aligned: AlignmentResult, images: Sequence, config: AlignConfig) -> Refinement:
    """REFINEMENT HOOK: sub-pixel refinement of the aligned shot (issue 9, ``core/refine``, not merged yet).

    The lead wires ``core.refine`` here: it receives the alignment, the frames' network images
    (``images[k].rgb`` ``(H, W, 3)`` uint8, view ``k``) and the alignment config (one shared camera), and
    returns the refined cameras and depth maps, the shared distortion and each view's solve error. The
    frames that are localised afterwards are posed against what this returns. Until then: unchanged,
    no distortion, no solve error.
    """
    n = aligned.num_views
    return Refinement(aligned=aligned, dist=np.zeros((n, 2)), solve_error_px=np.full(n, np.nan))
