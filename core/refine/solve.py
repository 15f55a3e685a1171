"""The refinement's solve: bundle adjustments with outlier rejection between them, and the "never worse" rule.

A view is refined only if it has enough correspondences, its solve does not run away (rotation or focal far
from the aligned ones), its reprojection error of the kept correspondences is lower than with its aligned
camera (never worse) and its tracks determine it (its covariance, :mod:`.uncertainty`, is well below the
alignment's); otherwise it keeps its aligned camera (and its observations leave the solve, which is run
again), and its note, ``kept: <reason>``, says why. Every view gets an ``uncertainty`` (pixels): from the
covariance when refined, the alignment's (never below its correspondences' error) when kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ..config import RefineConfig
from ..geometry.camera_uncertainty import ALIGNMENT_SIGMA, aligned_uncertainty_px
from ..geometry.transforms import rotation_angle_deg
from .bundle import BundleProblem, BundleState, Intrinsics, Observations
from .tracks import TrackSet
from .uncertainty import prior_pull, problem_at, view_uncertainty

logger = logging.getLogger(__name__)

REFINED = "refined"
KEPT = "kept: "
# a view is determined by its tracks when its covariance's reprojection uncertainty is at most this share of
# the alignment's (the same figure from the prior alone): otherwise the prior, not the images, holds it
_DETERMINED_RATIO = 0.3
# a focal is estimated only when the tracks determine it well: its posterior sigma at most this share of the
# alignment's (2 %); otherwise (two-view tracks, forward motion: focal and depth trade off) it keeps the
# aligned value. Measured on tests/synthetic shot N=12 at 128x96: a focal with ratio 0.4-0.6 drifted to
# 6.7 % off (aligned 0.19 %)
_FOCAL_DETERMINED_RATIO = 0.2
# the camera prior's standard deviations (how far from the alignment a parameter may move for one
# ``prior_weight_px`` pixel of cost): the alignment's own uncertainty
_PRIOR_SIGMA = ALIGNMENT_SIGMA
_MAX_FOCAL_CHANGE = 0.5  # relative; more is a diverged solve
# the last round uses the weaker final prior only when the tracks hold this many observations on average: a
# two-view track fixes no scale between pairs, so with mostly two-view tracks (wide baselines, few matches:
# synthgen orbit) only the prior holds the pairs' relative scales and the cameras drift without it
_MIN_TRACK_LENGTH_TO_RELEASE = 3.0
_MAX_RETRIES = 3
# never worse, and never a change for nothing: a view is refined only when its error of the kept
# correspondences falls below this share of its aligned camera's (noise-free cases stay exact: their aligned
# cameras already sit on the matches' noise floor)
_MIN_GAIN = 0.9
# Levenberg-Marquardt stops when an iteration lowers the cost by less than this share: far below what moves a
# camera by a hundredth of a pixel, and a third of the iterations of 1e-10 (profiled on shot N=12)
_LM_TOL = 1e-7
# Levenberg-Marquardt iterations at most per round (the last round, on the kept observations: more). A forward
# shot's focal-depth valley is slow: on synthgen shot N=48 seed 0 (256x192) 15/40 left the focal 0.66 % off
# and the cameras 0.6-0.9 px off (the figures reading 0.2-0.5 of that); 25/80 converge to 0.06 % and
# 0.13-0.22 px. An easy problem stops at ``_LM_TOL`` long before.
_ITERATIONS, _LAST_ITERATIONS = 25, 80


@dataclass(frozen=True)
class Priors:
    """What the user fixed. Attributes: ``shared_focal`` one lens for all views; ``known_focal`` and
    ``known_pose``: ``(N,)`` bool, views whose focal / pose must not change."""

    shared_focal: bool
    known_focal: np.ndarray
    known_pose: np.ndarray


@dataclass(frozen=True)
class SolveOutcome:
    """Attributes:
    state: final cameras (views kept as aligned hold their aligned camera), intrinsics, distortion, points.
    tracks: the kept tracks and observations (only those of refined views).
    refined: ``(N,)`` bool.
    notes: per view, ``"refined"`` or why it kept its aligned camera.
    solve_error: ``(N,)`` RMS reprojection error of the view's kept correspondences, refinement-image pixels
        (for a view kept as aligned: of its correspondences through its aligned camera; NaN without any).
    residuals: ``(O, 2)`` final residuals of ``tracks.obs``, pixels.
    uncertainty: ``(N,)`` 1-sigma reprojection uncertainty of each view's camera, refinement-image pixels:
        from the adjustment's covariance for refined views; for views kept as aligned the alignment's
        (:func:`core.geometry.camera_uncertainty.aligned_uncertainty_px`), or their correspondences' error
        when larger.
    held_focal: ``(N,)`` bool, views whose focal the tracks did not determine: it kept the aligned value.
    """

    state: BundleState
    tracks: TrackSet
    refined: np.ndarray
    notes: tuple[str, ...]
    solve_error: np.ndarray
    residuals: np.ndarray
    uncertainty: np.ndarray
    held_focal: np.ndarray


def start_state(world_from_cam: np.ndarray, K: np.ndarray, points: np.ndarray) -> BundleState:
    """The aligned cameras as a :class:`BundleState` (no distortion)."""
    world_from_cam = np.asarray(world_from_cam, dtype=np.float64)
    R = np.swapaxes(world_from_cam[:, :3, :3], 1, 2)
    return BundleState(R=R, C=world_from_cam[:, :3, 3].copy(), K=np.asarray(K, np.float64).copy(),
                       dist=np.zeros((len(R), 2)), points=np.asarray(points, np.float64))  # fmt: skip


def _groups(active: np.ndarray, priors: Priors, config: RefineConfig, hold_focal=None) -> Intrinsics:
    """The intrinsic groups of the solve; views in ``hold_focal`` (``(N,)`` bool) keep their aligned focal."""
    n = len(active)
    if hold_focal is not None and hold_focal.any():
        priors = Priors(priors.shared_focal, priors.known_focal | hold_focal, priors.known_pose)
    per_view = np.where(active, np.arange(n), -1)
    shared = np.where(active, 0, -1)
    lens = shared if priors.shared_focal else per_view
    if priors.shared_focal:
        focal = np.full(n, -1) if np.any(priors.known_focal) else shared
    else:
        focal = np.where(priors.known_focal, -1, per_view)
    num_dist = {"none": 0, "k1": 1, "k1k2": 2}[config.distortion]
    return Intrinsics(
        focal_group=_compact(focal),
        pp_group=_compact(lens if config.optimize_pp else np.full(n, -1)),
        dist_group=_compact(lens if num_dist else np.full(n, -1)),
        num_dist=num_dist,
    )


def _compact(groups: np.ndarray) -> np.ndarray:
    """Renumber the non-negative group ids as ``0..G-1``."""
    out = np.full(len(groups), -1)
    used = groups >= 0
    if used.any():
        out[used] = np.unique(groups[used], return_inverse=True)[1]
    return out


def _gauge(active: np.ndarray, start: BundleState, priors: Priors):
    """``(free_views, scale_pair)``: views whose pose is solved, and the pair whose distance fixes the scale."""
    fixed = active & priors.known_pose
    if not fixed.any():
        fixed = np.zeros_like(active)
        fixed[np.flatnonzero(active)[0]] = True
    free = active & ~fixed
    scale_pair = None
    if fixed.sum() < 2 and free.any():
        ref = int(np.flatnonzero(fixed)[0])
        far = int(max(np.flatnonzero(free), key=lambda v: np.linalg.norm(start.C[v] - start.C[ref])))
        if np.linalg.norm(start.C[far] - start.C[ref]) > 0:
            scale_pair = (ref, far)
    return free, scale_pair


def _prior_weights(problem: BundleProblem, tracks: TrackSet, pose_px: float, intrinsics_px: float):
    """``(n_camera_params,)`` weights of the camera prior (see ``_PRIOR_SIGMA``): ``pose_px`` pixels of cost
    per sigma for the poses, ``intrinsics_px`` for focal, principal point and distortion; None when both
    are 0."""
    if pose_px <= 0 and intrinsics_px <= 0:
        return None
    st = problem.start
    obs = tracks.obs
    depth = float(np.median(np.linalg.norm(tracks.points[obs.point] - st.C[obs.view], axis=1)))
    long_side = float(np.median(2.0 * np.max(st.K[:, :2, 2], axis=1)))
    sigma = np.zeros(problem.n_camera_params)
    poses = sigma[: problem.focal_col0].reshape(-1, 6)
    poses[:, :3] = np.radians(_PRIOR_SIGMA["rotation_deg"])
    poses[:, 3:] = _PRIOR_SIGMA["position"] * max(depth, 1e-9)
    sigma[problem.focal_col0 : problem.pp_col0] = _PRIOR_SIGMA["focal"]
    sigma[problem.pp_col0 : problem.dist_col0] = _PRIOR_SIGMA["pp"] * long_side
    sigma[problem.dist_col0 : problem.point_col0] = _PRIOR_SIGMA["dist"]
    weight = np.full(problem.n_camera_params, float(intrinsics_px))
    weight[: problem.focal_col0] = pose_px
    return weight / sigma


def _view_rms(view: np.ndarray, residuals: np.ndarray, n: int) -> np.ndarray:
    sq = np.bincount(view, weights=np.sum(residuals**2, axis=1), minlength=n)
    count = np.bincount(view, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.sqrt(sq / np.maximum(count, 1)), np.nan)


def _mean_track_length(tracks: TrackSet) -> float:
    return len(tracks.obs.view) / max(tracks.num_tracks, 1)


def _round_prior(config: RefineConfig, release: bool) -> tuple[float, float]:
    """``(pose_px, intrinsics_px)``: the camera prior's weights for one round (pixels of cost per alignment
    sigma, see ``_PRIOR_SIGMA``; 0: none). Before the last round both are ``prior_weight_px``. Released (the
    last round, tracks that tie the views together), the poses take ``final_prior_weight_px``; so do the
    intrinsics, unless distortion is estimated: then focal and distortion trade off and the prior keeps
    holding them (measured on a 10-frame arc at 128x96 with ``k1``: releasing them took the focal from 0.6 to
    1.6 % off; a prior at the residuals' own sigma, 0.03 px, still took it from 0.35 to 1.8 %). What that
    prior holds against the tracks is in the figure: :func:`.uncertainty.view_uncertainty`'s ``prior_pull``."""
    if not release:
        return config.prior_weight_px, config.prior_weight_px
    if config.distortion == "none" or config.prior_weight_px == 0:
        return config.final_prior_weight_px, config.final_prior_weight_px
    return config.final_prior_weight_px, config.prior_weight_px


def _x_at(problem: BundleProblem, state: BundleState) -> np.ndarray:
    """``problem``'s parameters at ``state``'s cameras and intrinsics (points: the problem's start): a solve
    warm-started from an earlier one (its prior still centred on the alignment)."""
    x = problem.x0()
    st = problem.start
    free = problem.free
    if len(free):
        poses = x[: 6 * len(free)].reshape(-1, 6)
        poses[:, :3] = Rotation.from_matrix(state.R[free] @ np.swapaxes(st.R[free], 1, 2)).as_rotvec()
        poses[:, 3:] = state.C[free]
    intr = problem.intr
    for group in range(problem.n_focal):
        v = int(np.flatnonzero(intr.focal_group == group)[0])
        x[problem.focal_col0 + group] = state.K[v, 0, 0] / st.K[v, 0, 0] - 1.0
    for group in range(problem.n_pp):
        v = int(np.flatnonzero(intr.pp_group == group)[0])
        x[problem.pp_col0 + 2 * group : problem.pp_col0 + 2 * group + 2] = state.K[v, :2, 2] - st.K[v, :2, 2]
    for group in range(problem.n_distg):
        v = int(np.flatnonzero(intr.dist_group == group)[0])
        first = problem.dist_col0 + intr.num_dist * group
        x[first : first + intr.num_dist] = (state.dist[v] - st.dist[v])[: intr.num_dist]
    return x


def _bundle(start, tracks, active, priors, config, hold_focal=None, init=None):
    """One solve with outlier rejection between rounds: returns ``(problem, x, tracks, prior_px)``
    (``prior_px``: the last round's ``(pose_px, intrinsics_px)``, see :func:`_round_prior`).

    The camera prior (``prior_weight_px``) holds the cameras near the alignment in the rounds whose residuals
    reject the outliers. The last round, on the kept observations, weakens it (see :func:`_round_prior`)
    when the tracks tie the views together (see ``_MIN_TRACK_LENGTH_TO_RELEASE``; the reference view and
    the scale pair fix the gauge): a strong prior also pulls well-observed cameras towards the aligned ones,
    so that even exact observations would not give the exact cameras. ``init``: a :class:`BundleState` to
    start from (an earlier solve's cameras) instead of the alignment."""
    free, scale_pair = _gauge(active, start, priors)
    intr = _groups(active, priors, config, hold_focal)
    x = None
    prior_px = (config.prior_weight_px, config.prior_weight_px)
    for round_index in range(config.rounds):
        begin = BundleState(start.R, start.C, start.K, start.dist, tracks.points)
        last = round_index == config.rounds - 1
        release = last and config.rounds > 1 and _mean_track_length(tracks) >= _MIN_TRACK_LENGTH_TO_RELEASE
        prior_px = _round_prior(config, release)
        probe = BundleProblem(begin, tracks.obs, free, intr, scale_pair)
        weights = _prior_weights(probe, tracks, *prior_px)
        problem = (
            probe if weights is None else BundleProblem(begin, tracks.obs, free, intr, scale_pair, weights)
        )
        if x is None:
            x = problem.x0() if init is None else _x_at(problem, init)
        x = problem.solve(
            x, config.loss, config.loss_scale_px, _LAST_ITERATIONS if last else _ITERATIONS, _LM_TOL
        ).x
        if last:
            break
        err = np.linalg.norm(problem.residuals(x)[: 2 * len(tracks.obs.view)].reshape(-1, 2), axis=1)
        sigma = 1.4826 * np.median(err)
        keep = err <= max((4.0 if round_index == 0 else 3.0) * sigma, 0.1 * config.loss_scale_px)
        logger.debug("round %d: rejected %d of %d observations", round_index, int(np.sum(~keep)), len(err))
        counts = np.bincount(tracks.obs.point[keep], minlength=tracks.num_tracks)
        points = x[problem.point_col0 :].reshape(-1, 3)[counts >= 2]
        x = np.concatenate([x[: problem.point_col0], points.ravel()])
        tracks = tracks.select(keep)
    return problem, x, tracks, prior_px


def solve_views(
    world_from_cam: np.ndarray,
    K: np.ndarray,
    tracks: TrackSet,
    priors: Priors,
    config: RefineConfig,
    init: BundleState | None = None,
) -> SolveOutcome:
    """Refine the cameras on the tracks, keeping views that the refinement cannot help as aligned.

    Args:
        world_from_cam: ``(N, 4, 4)`` aligned cameras; K: ``(N, 3, 3)`` their intrinsics (refinement images).
        tracks: observations in refinement-image pixels, aligned start points.
        priors: shared focal, known focals and poses.
        config: loss, rounds, thresholds.
        init: cameras to start the solve from (an earlier pass's, :attr:`SolveOutcome.state`); the prior stays
            centred on the aligned cameras. None: start from the aligned cameras.
    """
    n = len(world_from_cam)
    start = start_state(world_from_cam, K, tracks.points)
    notes = [REFINED] * n
    counts = np.bincount(tracks.obs.view, minlength=n)
    active = counts >= config.min_matches
    for v in np.flatnonzero(~active):
        notes[v] = f"kept: too few correspondences ({counts[v]}, needs {config.min_matches})"
    all_tracks = tracks
    hold_focal = np.zeros(n, dtype=bool)
    for _ in range(_MAX_RETRIES + 2):
        if active.sum() < 2:
            for v in np.flatnonzero(active):
                notes[v] = "kept: no other view to refine it with"
            active[:] = False
            break
        kept = all_tracks.select(active[all_tracks.obs.view])
        problem, x, kept, prior_px = _bundle(start, kept, active, priors, config, hold_focal, init)
        init = problem.state(x)  # a retry starts where this solve ended
        failed = _check(problem, x, kept, start, active, priors, config, notes)
        if not failed.any():
            at = problem_at(problem.state(x), problem, active)
            unc = view_uncertainty(at, None, config.loss, config.loss_scale_px, n, prior_px)
            loose = _loose_focal(at, unc) & active & ~hold_focal if config.distortion == "none" else ~active
            if loose.any():  # the tracks do not pin the focal down: it keeps the alignment's, solve again
                hold_focal |= loose
                logger.info("focal of %d views held at the aligned value (not determined)", int(loose.sum()))
                continue
            unc, pull = _uncertainty(problem, x, kept, active, priors, config, hold_focal, prior_px, unc)
            failed = _undetermined(unc, kept, active, notes)
        if not failed.any():
            break
        active &= ~failed
    aligned_unc = aligned_uncertainty_px(start.K)
    if not active.any():
        return _unrefined(start, all_tracks, notes, aligned_unc)
    state = problem.state(x)
    residuals = problem.residuals(x)[: 2 * len(kept.obs.view)].reshape(-1, 2)
    solve_error = _view_rms(kept.obs.view, residuals, n)
    kept_views = ~active & (np.bincount(all_tracks.obs.view, minlength=n) > 0)
    if kept_views.any():  # views kept as aligned: the error of their correspondences with the aligned cameras
        solve_error[kept_views] = _aligned_rms(start, all_tracks, n)[kept_views]
    if failed.any():  # the retries ran out: the last solve still held views it keeps as aligned
        unc, pull = _uncertainty(problem, x, kept, active, priors, config, hold_focal, prior_px)
    figure = np.sqrt(unc.uncertainty_px**2 + pull**2)
    uncertainty = np.where(active, figure, np.fmax(aligned_unc, np.nan_to_num(solve_error)))
    final = BundleState(
        R=np.where(active[:, None, None], state.R, start.R),
        C=np.where(active[:, None], state.C, start.C),
        K=np.where(active[:, None, None], state.K, start.K),
        dist=np.where(active[:, None], state.dist, start.dist),
        points=state.points,
    )
    return SolveOutcome(
        final,
        kept.with_points(state.points),
        active.copy(),
        tuple(notes),
        solve_error,
        residuals,
        uncertainty,
        hold_focal,
    )


def _longest_track(tracks: TrackSet, n: int) -> np.ndarray:
    """``(N,)`` int: the longest track (views) each view is in (0 without any)."""
    length = np.bincount(tracks.obs.point, minlength=tracks.num_tracks)
    longest = np.zeros(n, dtype=np.int64)
    np.maximum.at(longest, tracks.obs.view, length[tracks.obs.point])
    return longest


def _uncertainty(problem, x, tracks, active, priors, config, hold_focal, prior_px, unc=None):
    """Each view's :func:`.uncertainty.view_uncertainty` at the solution ``x``. A focal held at the aligned
    value (the tracks did not determine it) still has the alignment's uncertainty: for views with two-view
    tracks only, which nothing else ties, it enters the covariance as a parameter at the alignment's sigma
    (room N=2 at 256x192: 0.33 px read against 1.1-1.5 px true without it). With longer tracks it does not:
    a shot's shared focal comes from every pair of the alignment and is then much better than that sigma
    (tests/synthetic shot N=12: 0.19 % where the sigma says 2 %; with it the figures were 12 times the
    truth). The camera prior's pull (:func:`.uncertainty.prior_pull`) adds in quadrature: the prior the last
    round used, and the one it released (``prior_weight_px`` where the last round's was weaker): what the
    tracks let drift away from the alignment (a shot's shared focal) reads as what that prior would take
    back. Returns ``(covariance figure, pull (N,))``: whether a view is determined is the covariance's call
    (with the pull in it, four frames of synthgen's 48-frame shot were kept as aligned, 149 px off, and the
    shot around them went from 4 to 49 px); the figure reported is both in quadrature. ``unc``: the
    covariance's figure already computed at ``x`` (reused when nothing changes)."""
    n = len(active)
    two_view = hold_focal & active & (_longest_track(tracks, n) <= 2)
    if two_view.any():
        intr = _groups(active, priors, config, hold_focal & ~two_view)
        at = BundleProblem(problem.state(x), problem.obs, active, intr, None)
        groups = intr.focal_group[two_view]
        alignment_info = np.zeros(at.n_camera_params, dtype=bool)
        alignment_info[at.focal_col0 + groups[groups >= 0]] = True
        unc = view_uncertainty(at, None, config.loss, config.loss_scale_px, n, prior_px, alignment_info)
    elif unc is None:
        at = problem_at(problem.state(x), problem, active)
        unc = view_uncertainty(at, None, config.loss, config.loss_scale_px, n, prior_px)
    pull = prior_pull(problem, x, config.loss, config.loss_scale_px, n)
    weight = config.prior_weight_px
    released = tuple(weight if px < weight else 0.0 for px in prior_px)
    if weight > 0 and any(released):
        # the last round released (part of) the prior: how far the rounds' prior would take the cameras back
        held = BundleProblem(problem.start, problem.obs, np.isin(np.arange(n), problem.free), problem.intr,
                             problem.scale_pair, _prior_weights(problem, tracks, *released))  # fmt: skip
        pull = np.hypot(pull, prior_pull(held, x, config.loss, config.loss_scale_px, n, used=False))
    return unc, pull


def _loose_focal(problem: BundleProblem, unc) -> np.ndarray:
    """``(N,)`` bool: views whose focal the tracks do not determine (its posterior sigma above
    ``_FOCAL_DETERMINED_RATIO`` of the alignment's)."""
    groups = problem.intr.focal_group
    ratio = unc.param_ratio[problem.focal_col0 : problem.pp_col0]
    loose = np.zeros(len(groups), dtype=bool)
    has = groups >= 0
    loose[has] = ratio[groups[has]] > _FOCAL_DETERMINED_RATIO
    return loose


def _undetermined(unc, tracks: TrackSet, active: np.ndarray, notes: list[str]) -> np.ndarray:
    """``(N,)`` bool: active views whose tracks do not determine them (uncertainty not well below the
    alignment's, see ``_DETERMINED_RATIO``); their note says why."""
    longest = _longest_track(tracks, len(active))
    failed = active & ~(unc.uncertainty_px <= _DETERMINED_RATIO * unc.prior_px)
    for v in np.flatnonzero(failed):
        why = "two-view tracks only" if longest[v] <= 2 else "its tracks do not determine it"
        notes[v] = f"kept: {why} (±{unc.uncertainty_px[v]:.2g} px)"
    return failed


def _check(problem, x, tracks, start, active, priors, config, notes) -> np.ndarray:
    """``(N,)`` bool: active views the refinement did not help (their note is set)."""
    n = len(active)
    failed = np.zeros(n, dtype=bool)
    state = problem.state(x)
    residuals = problem.residuals(x)[: 2 * len(tracks.obs.view)].reshape(-1, 2)
    after = _view_rms(tracks.obs.view, residuals, n)
    before = _aligned_rms(start, tracks, n)
    counts = np.bincount(tracks.obs.view, minlength=n)
    for v in np.flatnonzero(active):
        rot = rotation_angle_deg(state.R[v] @ start.R[v].T)
        focal_change = abs(state.K[v, 0, 0] / start.K[v, 0, 0] - 1.0)
        if counts[v] < config.min_matches:
            notes[v] = f"kept: too few correspondences after outlier rejection ({counts[v]})"
        elif not np.isfinite(after[v]) or rot > config.max_rotation_deg or focal_change > _MAX_FOCAL_CHANGE:
            notes[v] = (
                f"kept: the solve diverged (rotation moved {rot:.1f} deg, focal {100 * focal_change:.0f} %)"
            )
        elif after[v] >= _MIN_GAIN * before[v]:
            notes[v] = f"kept: refinement did not lower its error ({after[v]:.2f} px vs {before[v]:.2f} px)"
        else:
            continue
        failed[v] = True
    return failed


def _aligned_rms(start: BundleState, tracks: TrackSet, n: int) -> np.ndarray:
    """Per view RMS error of the tracks with the ALIGNED cameras (points re-triangulated for them)."""
    none = np.full(n, -1)
    problem = BundleProblem(
        BundleState(start.R, start.C, start.K, start.dist, tracks.points), tracks.obs,
        np.zeros(n, dtype=bool), Intrinsics(none, none, none, 0), None,
    )  # fmt: skip
    x = problem.solve(problem.x0(), "soft_l1", 1.0, 6).x  # points only: a few Gauss-Newton steps
    return _view_rms(tracks.obs.view, problem.residuals(x).reshape(-1, 2), n)


def _unrefined(start: BundleState, tracks: TrackSet, notes, aligned_unc: np.ndarray) -> SolveOutcome:
    n = len(start.R)
    empty = TrackSet(Observations(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 2))), np.zeros((0, 3)),
                     np.zeros(0, int))  # fmt: skip
    error = _aligned_rms(start, tracks, n) if len(tracks.obs.view) else np.full(n, np.nan)
    return SolveOutcome(
        start, empty, np.zeros(n, dtype=bool), tuple(notes), error, np.zeros((0, 2)),
        np.fmax(aligned_unc, np.nan_to_num(error)), np.zeros(n, dtype=bool),
    )  # fmt: skip
