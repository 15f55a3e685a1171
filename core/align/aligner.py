"""``global_align``: validate, initialise along the spanning tree, optimise, and build the result."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import numpy as np

from ..config import AlignConfig
from ..errors import AlignmentError
from ..geometry import invert_rigid
from ..predictions import PairPrediction
from ..progress import ProgressFn, check_cancel, no_progress, sub_progress
from .dense import dense_depths
from .graph import build_pair_graph, select_usable_pairs
from .init import initialize_mst
from .result import AlignmentResult, result_from_cameras
from .solver import fast_align

logger = logging.getLogger(__name__)


def global_align(
    preds: Sequence[PairPrediction],
    config: AlignConfig,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    view_names: Sequence[str] | None = None,
) -> AlignmentResult:
    """Express all pairwise pointmaps in one world frame (paper section 3.4) for N >= 2 views.

    Args:
        preds: ordered pair predictions; views are numbered ``0..N-1`` by their ``i``/``j``. Every view must
            be the first image of at least one pair (the network runs on symmetrized pairs).
        config: method (``fast``: ours, ``paper``: the reference's Adam loop), priors and thresholds;
            ``memory`` (``dense``, ``sparse`` or ``auto``: :func:`alignment_memory`) picks how the ``fast``
            method holds the predictions (:mod:`.sparse`).
            ``known_focals`` / ``known_poses``, when given, have one entry per view (None = unknown).
        progress: ``progress(stage, fraction)``, called at least once per iteration.
        cancel: checked once per iteration; setting it raises :class:`~core.errors.Cancelled`.
        view_names: optional photo name of each view; error messages and warnings name the photos.

    A pair with (almost) no confident pixel on one side is left out with a warning
    (:func:`~.graph.select_usable_pairs`), as long as what is left still links every view.

    Returns:
        :class:`AlignmentResult` in the world frame of view 0's camera (or of the known poses), scaled so
        that the product of the pair scales is 1 (or by the known poses when two or more are given); its
        ``warnings`` list the pairs left out.

    Raises:
        AlignmentError: fewer than 2 views, a disconnected graph (after leaving out the unusable pairs),
            NaN/inf, a view with no confident pixel, inconsistent shapes, priors with the wrong number of
            entries.
        Cancelled: ``cancel`` was set.
    """
    start = time.perf_counter()
    progress = progress or no_progress
    check_cancel(cancel)
    progress("Aligning: initialisation", 0.0)
    preds, warnings = select_usable_pairs(preds, config.min_conf, view_names)
    graph = build_pair_graph(preds, config.min_conf, view_names)
    _check_priors(config, graph)
    init = initialize_mst(preds, graph, config)
    memory = alignment_memory(config, graph) if config.method == "fast" else "dense"
    if config.method == "paper":
        from .paper_mode import paper_align

        result = paper_align(preds, graph, init, config, sub_progress(progress, 0.02, 1.0), cancel)
    elif memory == "sparse":
        from .sparse import sparse_align

        result = sparse_align(preds, graph, init, config, sub_progress(progress, 0.02, 1.0), cancel)
    else:
        cams, sims, history, delta = fast_align(
            preds, graph, init, config, sub_progress(progress, 0.02, 0.8), cancel
        )
        depths, confs = dense_depths(
            preds, graph, cams, sims, config.min_conf, delta, sub_progress(progress, 0.8, 1.0), cancel
        )
        result = result_from_cameras(cams, depths, confs, history)
    if memory != "sparse":  # the sparse path solves its depth maps in the output frame already
        result = to_output_frame(result, config)
    progress("Aligning: done", 1.0)
    seconds = time.perf_counter() - start
    logger.info(
        "global alignment (%s, %s) of %d views in %.2f s", config.method, memory, graph.num_views, seconds
    )
    return AlignmentResult(**{**result.__dict__, "seconds": seconds, "warnings": warnings})


def alignment_memory(config: AlignConfig, graph) -> str:
    """``dense`` or ``sparse``: ``config.memory``, with ``auto`` resolved by the memory model on this
    machine's free RAM (:func:`core.resources.memory.choose_alignment`; the predictions are already held)."""
    if config.memory != "auto":
        return config.memory
    from ..resources.hardware import available_memory
    from ..resources.memory import choose_alignment

    degree = np.bincount(graph.edges.reshape(-1), minlength=graph.num_views)
    return choose_alignment(
        graph.sizes, len(graph.edges), int(degree.max()), available_memory().available_bytes,
        config.fast_pixels, config.anchor_pixels,
    )  # fmt: skip


def _check_priors(config: AlignConfig, graph) -> None:
    num_views = graph.num_views
    for name, values in (("known_focals", config.known_focals), ("known_poses", config.known_poses)):
        if values is not None and len(values) != num_views:
            raise AlignmentError(f"{name} has {len(values)} entries for {num_views} views")
    if config.known_poses is None:
        return
    for v, pose in enumerate(config.known_poses):
        if pose is None:
            continue
        T = np.asarray(pose, dtype=np.float64)
        if T.shape != (4, 4) or not np.isfinite(T).all():
            raise AlignmentError(
                f"known pose of {graph.label(v)} must be a finite 4x4 matrix, got shape {T.shape}"
            )
        if not np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-5):
            raise AlignmentError(
                f"known pose of {graph.label(v)} is not a rigid transform (rotation not orthonormal)"
            )


def to_output_frame(result: AlignmentResult, config: AlignConfig) -> AlignmentResult:
    """Move the result rigidly into view 0's camera frame, unless known poses define the world."""
    if config.known_poses is not None and any(p is not None for p in config.known_poses):
        return result
    new_from_old = invert_rigid(result.world_from_cam[0])
    world_from_cam = np.einsum("ij,njk->nik", new_from_old, result.world_from_cam)
    world_from_cam[0] = np.eye(4)
    R, t = new_from_old[:3, :3], new_from_old[:3, 3]
    pts3d = [(p.astype(np.float64) @ R.T + t).astype(np.float32) for p in result.pts3d]
    return AlignmentResult(**{**result.__dict__, "world_from_cam": world_from_cam, "pts3d": pts3d})
