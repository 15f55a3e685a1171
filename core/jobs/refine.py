"""The refinement step of the photo pipeline (:func:`core.jobs.photos.reconstruct`) and of footage.

``refine_on_photos`` matches on working copies of the ORIGINAL photos (long side at most
``RefineConfig.working_size``), tied to the network images through their crops (:mod:`core.geometry.photo`, by
way of :class:`core.refine.ImageFrame`); ``with_refinement`` puts what it found into the
:class:`~core.result.Reconstruction` (distortion, solve errors in photo pixels, per-view status, warnings).
``refine_frames`` is the footage variant: the frames' network images, one shared lens (``core.footage.align``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..align.result import AlignmentResult
from ..config import AlignConfig, RefineConfig
from ..footage.align import ShotRefinement
from ..geometry.camera_uncertainty import aligned_uncertainty_px
from ..progress import ProgressFn, check_cancel, no_progress
from ..result import Reconstruction

logger = logging.getLogger(__name__)


def priors_from(align_config: AlignConfig, n: int):
    """The refinement's :class:`~core.refine.Priors` from the alignment's: shared focal, known focals (the
    artist's lens, EXIF) and known poses stay as the user fixed them."""
    from ..refine import Priors

    focals = align_config.known_focals or [None] * n
    poses = align_config.known_poses or [None] * n
    return Priors(
        shared_focal=align_config.shared_focal,
        known_focal=np.array([f is not None for f in focals], dtype=bool),
        known_pose=np.array([T is not None for T in poses], dtype=bool),
    )


def network_correspondences(pairs, config: RefineConfig, num_views: int):
    """The network's pixel correspondences of the graph's pairs (:func:`core.refine.pair_correspondences`)
    for the refinement's first guesses, computed while the pair predictions are at hand (``pairs``: the pair
    store or the predictions); ``None`` when no refinement runs or ``config.network_seeds`` is off."""
    if not (config.enabled and config.network_seeds) or num_views < 2:
        return None
    from ..refine import pair_correspondences

    return pair_correspondences(pairs[k] for k in range(len(pairs)))


def refine_on_photos(
    images,
    aligned: AlignmentResult,
    align_config: AlignConfig,
    config: RefineConfig,
    names: Sequence[str],
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    correspondences=None,
):
    """Refine the aligned cameras on the original photos.

    Args:
        images: the pipeline's loaded images (``.path`` the photo, ``.crop`` its
            :class:`~core.geometry.photo.PhotoCrop` to the network image).
        aligned: the global alignment; align_config: its settings (priors); config: the refinement's.
        names: per view, a name for messages; progress, cancel: as everywhere.
        correspondences: the network's pixel correspondences per graph pair
            (:func:`core.refine.pair_correspondences`, computed while the pair store was open), first guesses
            that do not depend on the alignment; ``None``: reprojection only.

    Returns:
        a :class:`~core.refine.Refinement` (solve errors in pixels of the original photos).
    """
    from PIL import Image

    from ..inference.images import open_photo
    from ..refine import ImageFrame, refine_alignment, resize_crop

    progress = progress or no_progress
    progress("Loading photos for refinement", 0.0)
    works, frames = [], []
    for img in images:
        photo, _ = open_photo(img.path)  # upright 8-bit RGB, as the network image was made from
        w0, h0 = photo.size
        scale = 1.0 if config.working_size == 0 else min(1.0, config.working_size / max(w0, h0))
        size = (max(1, round(w0 * scale)), max(1, round(h0 * scale)))
        works.append(np.asarray(photo if size == (w0, h0) else photo.resize(size, Image.Resampling.LANCZOS)))
        frames.append(ImageFrame(net_crop=img.crop, image_crop=resize_crop((w0, h0), size)))
        check_cancel(cancel)
    priors = priors_from(align_config, len(images))
    refinement = refine_alignment(aligned, works, config, frames, priors, names, progress, cancel,
                                  correspondences)  # fmt: skip
    for line in refinement.warnings:
        logger.warning("refinement: %s", line)  # logged once here; the command line prints no copy
    return refinement


def with_refinement(result: Reconstruction, refinement) -> Reconstruction:
    """``result`` with the refinement's distortion, solve errors and uncertainties (photo pixels), per-view
    status; its warnings
    are added to ``result.warnings`` too (the UI shows those)."""
    return replace(
        result,
        dist=refinement.dist,
        solve_error_px=refinement.solve_error_px,
        solve_error_total_px=refinement.solve_error_total_px,
        uncertainty_px=refinement.uncertainty_px,
        refine_status=refinement.notes,
        refine_warnings=refinement.warnings,
        warnings=tuple(result.warnings) + tuple(f"refinement: {w}" for w in refinement.warnings),
    )


def refine_frames(
    aligned: AlignmentResult,
    rgb: Sequence[np.ndarray],
    align_config: AlignConfig,
    config: RefineConfig,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    correspondences=None,
):
    """Refine a shot's aligned frames on their network images (one lens: the shared focal, the artist's focal
    when given, one distortion set).

    Args:
        aligned: the shot's alignment (views in frame order); rgb: per view, its ``(H, W, 3)`` uint8 network
            image; align_config: the shot's alignment settings (shared focal, known focals).

    Returns:
        a :class:`~core.refine.Refinement` (solve errors in network pixels).
    """
    from ..refine import refine_alignment

    n = aligned.num_views
    priors = priors_from(replace(align_config, shared_focal=True), n)
    names = [f"reconstructed frame {k + 1}" for k in range(n)]
    refinement = refine_alignment(aligned, list(rgb), config, None, priors, names, progress, cancel,
                                  correspondences)  # fmt: skip
    for line in refinement.warnings:
        logger.warning("refinement: %s", line)
    return refinement


def refine_shot(
    aligned: AlignmentResult,
    images: Sequence,
    config: AlignConfig,
    refine: RefineConfig | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    correspondences=None,
) -> ShotRefinement:
    """The refinement step of a shot: :mod:`core.refine` on the frames' network images.

    Args:
        aligned: the shot's alignment; images: per view ``k``, ``images[k].rgb`` ``(H, W, 3)`` uint8, its
            network image; config: the shot's alignment config (:func:`~core.footage.align.shot_align_config`: one shared focal,
            the artist's focal fixed when given; the refinement keeps both).
        refine: the refinement's settings; ``None`` or ``enabled=False`` (or one frame): the alignment
            unchanged, no distortion, no solve error, the alignment's uncertainty.
        correspondences: the network's pixel correspondences of the frames' pairs (optional first guesses,
            :func:`core.refine.pair_correspondences`).

    The frames that are localised afterwards are posed against what this returns.
    """
    n = aligned.num_views
    if refine is None or not refine.enabled or n < 2:
        return ShotRefinement(aligned=aligned, dist=np.zeros((n, 2)), solve_error_px=np.full(n, np.nan),
                              uncertainty_px=aligned_uncertainty_px(aligned.intrinsics()), status=("",) * n)  # fmt: skip
    refinement = refine_frames(aligned, [img.rgb for img in images], config, refine, progress, cancel,
                               correspondences)  # fmt: skip
    return ShotRefinement(
        aligned=refinement.alignment,
        dist=refinement.dist,
        solve_error_px=refinement.solve_error_px,
        uncertainty_px=refinement.uncertainty_px,
        status=refinement.notes,
        warnings=refinement.warnings,
    )
