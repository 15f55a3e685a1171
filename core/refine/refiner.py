"""``refine_alignment``: aligned cameras in, cameras that sit on the images out (matching, bundle adjustment,
dense points made consistent, per-view status and solve errors)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..align.result import AlignmentResult
from ..config import RefineConfig
from ..progress import ProgressFn, check_cancel, no_progress, sub_progress
from .depth_fix import depth_correction, points_from_depth
from .lucas_kanade import PatchParams
from .matches import MatchParams, match_views
from .network_seeds import PairCorrespondences
from .seeds import SeedParams
from .solve import Priors, SolveOutcome, solve_views
from .views import ImageFrame, RefineView, identity_crop

logger = logging.getLogger(__name__)

# a view whose solve error is this many times the median of all views (and above _FAR_MIN_PX photo pixels)
# is named in a warning
_FAR_FACTOR = 3.0
_FAR_MIN_PX = 0.5
# matching passes: how far (fraction of the image's long side) each looks around its first guesses, and the
# share of ``max_points`` it matches
_PASSES = ((0.05, 0.35), (0.01, 1.0))


@dataclass(frozen=True)
class Refinement:
    """What the refinement returns.

    Attributes:
        alignment: the refined cameras and points, in the alignment's world frame and network-image units
            (``focals``, ``principal_points`` in network pixels; ``depth`` corrected; ``pts3d`` on the refined
            rays, with the distortion).
        dist: ``(N, 2)`` float64 ``(k1, k2)`` per view (zeros where not estimated or not refined).
        solve_error_px: ``(N,)`` float64 RMS reprojection error of each view's kept correspondences, in pixels
            of the ORIGINAL photo (of the given image when that is the photo); NaN without correspondences.
        solve_error_total_px: the same over all refined views' correspondences together (NaN if none).
        uncertainty_px: ``(N,)`` float64 1-sigma reprojection uncertainty of each view's camera, in the same
            pixels: from the bundle adjustment's covariance for refined views, the alignment's for kept ones
            (never 0, never below their correspondences' error); see :mod:`.uncertainty`.
        refined: ``(N,)`` bool, views whose camera the refinement changed.
        notes: per view, ``"refined"`` or ``"kept: <reason>"`` (it kept its aligned camera).
        warnings: user-facing sentences (views far above the others, views kept as aligned).
        num_tracks: tracks kept; num_observations: their observations.
        track_lengths: ``(L,)`` int, ``track_lengths[k]`` the kept tracks seen by ``k`` views.
        seconds: wall time.
    """

    alignment: AlignmentResult
    dist: np.ndarray
    solve_error_px: np.ndarray
    solve_error_total_px: float
    uncertainty_px: np.ndarray
    refined: np.ndarray
    notes: tuple[str, ...]
    warnings: tuple[str, ...]
    num_tracks: int
    num_observations: int
    track_lengths: np.ndarray
    seconds: float

    @property
    def reported_px(self) -> np.ndarray:
        """``(N,)`` the figure a user reads next to each camera: max(solve error, uncertainty)."""
        return np.fmax(self.solve_error_px, self.uncertainty_px)

    def weakest_view(self) -> int:
        """The view with the largest :attr:`reported_px`."""
        return int(np.nanargmax(np.nan_to_num(self.reported_px, nan=-1.0)))


def match_params(config: RefineConfig) -> MatchParams:
    """The matcher's parameters that ``config`` sets."""
    return MatchParams(
        seeds=SeedParams(max_points=config.max_points),
        track=PatchParams(window=config.window),
        max_partners=config.max_partners,
        min_overlap=config.min_overlap,
    )


def refine_alignment(
    aligned: AlignmentResult,
    images: Sequence[np.ndarray],
    config: RefineConfig,
    frames: Sequence[ImageFrame] | None = None,
    priors: Priors | None = None,
    names: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    correspondences: Sequence[PairCorrespondences] | None = None,
) -> Refinement:
    """Refine aligned cameras to sub-pixel accuracy on the views' images.

    Args:
        aligned: the global alignment (world frame, network-image intrinsics, dense depth and points).
        images: per view, the ``(H, W, 3)`` uint8 (or ``(H, W)`` grey) image to match on: the network image
            itself, or the photo / a working copy of it (then ``frames`` says how it maps to the network image).
        config: the refinement's settings.
        frames: per view, how the image's pixels map to the network image's (default: the image IS the
            network image).
        priors: shared focal, known focals and poses (default: none).
        names: per view, a name for messages (default ``"view <i>"``).
        progress: ``progress(stage, fraction)``; cancel: checked between views and solves.
        correspondences: the network's pixel correspondences per graph pair
            (:func:`.network_seeds.pair_correspondences`, computed while the pair predictions are at hand):
            first guesses for the matcher that do not depend on the alignment (default: none, reprojection
            through the aligned cameras only).
    """
    started = time.perf_counter()
    progress = progress or no_progress
    n = aligned.num_views
    if len(images) != n:
        raise ValueError(f"{len(images)} images for {n} views")
    frames = list(frames) if frames is not None else [_identity_frame(d.shape) for d in aligned.depth]
    priors = priors or Priors(False, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    names = list(names) if names is not None else [f"view {v}" for v in range(n)]
    start = _views(aligned, images, frames)
    K_image = np.stack([v.K for v in start])
    views = start
    outcome = None
    for pass_index, (search, share) in enumerate(_PASSES):
        # the first pass matches a share of the points from the aligned geometry; the last all of them from
        # the refined one, whose first guesses are within a pixel or two (where the patch matcher cannot miss)
        lo, hi = pass_index / len(_PASSES), (pass_index + 1) / len(_PASSES)
        params = match_params(config)
        seeds = replace(params.seeds, max_points=max(1, int(share * config.max_points)))
        params = replace(params, search_fraction=search, seeds=seeds)
        tracks, _, _ = match_views(views, params, sub_progress(progress, lo, lo + 0.7 * (hi - lo)), cancel,
                                   correspondences)  # fmt: skip
        check_cancel(cancel)
        progress("Bundle adjustment", lo + 0.7 * (hi - lo))
        last = pass_index == len(_PASSES) - 1
        solve_config = config if last else replace(config, rounds=min(config.rounds, 2))
        # the last pass starts from the first's cameras (its prior stays on the alignment's)
        init = None if outcome is None else outcome.state
        outcome = solve_views(aligned.world_from_cam, K_image, tracks, priors, solve_config, init)
        # a focal the first pass found undetermined stays held (no second solve to find it again)
        priors = replace(priors, known_focal=priors.known_focal | outcome.held_focal)
        check_cancel(cancel)
        result = _refined_alignment(aligned, start, outcome)
        views = _views(result, images, frames, outcome.state.dist)
    errors, total = _photo_errors(outcome, frames)
    scale = np.array([np.sqrt(np.mean(np.square(f.photo_px_per_image_px))) for f in frames])
    lengths = np.bincount(np.bincount(outcome.tracks.obs.point, minlength=outcome.tracks.num_tracks))
    refinement = Refinement(
        alignment=result,
        dist=outcome.state.dist.copy(),
        solve_error_px=errors,
        solve_error_total_px=total,
        uncertainty_px=outcome.uncertainty * scale,
        refined=outcome.refined.copy(),
        notes=outcome.notes,
        warnings=_warnings(errors, outcome, names),
        num_tracks=outcome.tracks.num_tracks,
        num_observations=len(outcome.tracks.obs.view),
        track_lengths=lengths,
        seconds=time.perf_counter() - started,
    )
    progress("Refinement done", 1.0)
    logger.info("refined %d of %d views in %.2f s, solve error %.3f px", int(outcome.refined.sum()), n,
                refinement.seconds, total)  # fmt: skip
    return refinement


def _views(alignment: AlignmentResult, images, frames, dist=None) -> list[RefineView]:
    K_net = alignment.intrinsics()
    dist = np.zeros((alignment.num_views, 2)) if dist is None else dist
    return [
        RefineView(image=images[v], K=frames[v].K_image(K_net[v]), world_from_cam=alignment.world_from_cam[v],
                   pts3d=alignment.pts3d[v], depth=alignment.depth[v], conf=alignment.conf[v], frame=frames[v],
                   dist=tuple(dist[v]))
        for v in range(alignment.num_views)
    ]  # fmt: skip


def _identity_frame(depth_shape: tuple[int, int]) -> ImageFrame:
    crop = identity_crop(depth_shape[1], depth_shape[0])
    return ImageFrame(net_crop=crop, image_crop=crop)


def _refined_alignment(aligned: AlignmentResult, views: list[RefineView], outcome: SolveOutcome):
    """The alignment with the refined cameras, corrected depth maps and re-cast points."""
    st = outcome.state
    world_from_cam = aligned.world_from_cam.copy()
    focals, pps = aligned.focals.copy(), aligned.principal_points.copy()
    depth, pts3d = list(aligned.depth), list(aligned.pts3d)
    obs = outcome.tracks.obs
    for v in np.flatnonzero(outcome.refined):
        world_from_cam[v, :3, :3] = st.R[v].T
        world_from_cam[v, :3, 3] = st.C[v]
        K_net = views[v].frame.K_net(st.K[v])
        focals[v], pps[v] = K_net[0, 0], K_net[:2, 2]
        mine = obs.view == v
        z_track = (st.points[obs.point[mine]] - st.C[v]) @ st.R[v][2]
        uv_net = views[v].frame.net_from_image(obs.xy[mine])
        corrected = aligned.depth[v] * depth_correction(aligned.depth[v], uv_net, z_track)
        depth[v] = corrected.astype(np.float32)
        pts3d[v] = points_from_depth(corrected, K_net, st.dist[v], world_from_cam[v])
    return replace(aligned, world_from_cam=world_from_cam, focals=focals, principal_points=pps, depth=depth,
                   pts3d=pts3d)  # fmt: skip


def _photo_errors(outcome: SolveOutcome, frames: Sequence[ImageFrame]) -> tuple[np.ndarray, float]:
    """Solve errors in photo pixels: per view and over all kept correspondences."""
    n = len(frames)
    obs = outcome.tracks.obs
    scale = np.array([f.photo_px_per_image_px for f in frames], dtype=np.float64).reshape(n, 2)
    errors = outcome.solve_error * np.sqrt(np.mean(scale**2, axis=1))  # views kept as aligned
    if len(obs.view) == 0:
        return errors, float("nan")
    sq = np.sum((outcome.residuals * scale[obs.view]) ** 2, axis=1)
    count = np.bincount(obs.view, minlength=n)
    per_view = np.sqrt(np.bincount(obs.view, weights=sq, minlength=n) / np.maximum(count, 1))
    errors = np.where(outcome.refined & (count > 0), per_view, errors)
    return errors, float(np.sqrt(np.mean(sq)))


def _warnings(errors: np.ndarray, outcome: SolveOutcome, names: Sequence[str]) -> tuple[str, ...]:
    out = []
    finite = errors[np.isfinite(errors) & outcome.refined]
    if len(finite) >= 3:
        median = float(np.median(finite))
        far = [v for v in np.flatnonzero(outcome.refined)
               if errors[v] > max(_FAR_FACTOR * median, _FAR_MIN_PX)]  # fmt: skip
        if far:
            listed = ", ".join(f"{names[v]} ({errors[v]:.2f} px)" for v in far)
            out.append(f"solve error far above the others (median {median:.2f} px): {listed}")
    for v, note in enumerate(outcome.notes):
        if not outcome.refined[v]:
            out.append(f"{names[v]}: {note}")
    return tuple(out)
