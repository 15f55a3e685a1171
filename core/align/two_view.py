"""Closed-form alignment of one or two views (paper section 3.3; the reference's "PairViewer").

Two views need no iterative optimisation: the two ordered predictions ``(0, 1)`` and ``(1, 0)`` already give,
for each image, its pointmap in its own camera frame (focal length) and in the other camera's frame (relative
pose). The algorithm, following the reference ``PairViewer`` except for the pose solver:

1. Per image ``i``: the image confidence map ``im_conf_i`` is the pixel-wise maximum of its confidences over
   both edges; ``mask_i = im_conf_i > min_conf``. The edge score ``score_i = mean(conf_i) * mean(conf_j)``
   of the edge ``(i, 1 - i)`` in which image ``i`` is view 1.
2. Per image ``i``: the focal by ``estimate_focal_knowing_depth`` (``config.focal_mode``, Weiszfeld by default)
   on the edge ``(i, 1 - i)``'s view-1 pointmap with principal point ``(W / 2, H / 2)``, over all pixels
   (a known focal from ``config.known_focals`` replaces the estimate).
3. The image with the larger score, ``r``, becomes the world (ties: image 1, as the reference); its edge
   ``(r, o)`` fixes the scale. The other camera's pose ``cam_r_from_cam_o`` comes from a confidence-weighted
   similarity Procrustes (Umeyama) from image ``o``'s points in its own frame (edge ``(o, r)``, view 1)
   to the same pixels' points in camera ``r``'s frame (edge ``(r, o)``, view 2), over ``mask_o``, weights
   ``conf * conf`` of the two pointmaps. The reference uses PnP-RANSAC on the pixels instead; on exact
   pointmaps both are exact, and the scale factor of the similarity absorbs the two edges' different
   normalisation, so the translation is in edge ``(r, o)``'s scale as with PnP.
4. Depths: ``depth_r`` = z of edge ``(r, o)``'s view-1 points; ``depth_o`` = z of edge ``(r, o)``'s view-2
   points moved into camera ``o`` by the inverse pose. World points are these depths back-projected with each
   camera's intrinsics and pose, so every view's points are consistent with its camera.

Known poses (``config.known_poses``) re-anchor the result afterwards: with one known camera the whole
reconstruction is moved rigidly so that this camera sits at its known pose; with two, a similarity also fixes
the scale from the known baseline, and both cameras take their known poses exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np

from ..config import AlignConfig
from ..errors import AlignmentError
from ..geometry.cameras import default_principal_point, depth_to_cam_points
from ..geometry.focal import estimate_focal_knowing_depth, focal_base
from ..geometry.procrustes import weighted_umeyama
from ..geometry.transforms import invert_rigid, make_rigid, transform_points
from ..predictions import PairPrediction
from .result import AlignmentResult

logger = logging.getLogger(__name__)


def align_two_views(
    preds: Sequence[PairPrediction], config: AlignConfig, progress=None, cancel=None
) -> AlignmentResult:
    """Align two images from their two ordered predictions ``(0, 1)`` and ``(1, 0)`` (any order in ``preds``).

    Args:
        preds: exactly the two predictions of the pairs ``(0, 1)`` and ``(1, 0)``; ``(i, i)`` pairs are ignored.
        config: ``min_conf`` (mask of the pose fit), ``focal_mode``, ``known_focals``, ``known_poses`` are used;
            the iteration settings do not apply.
        progress, cancel: accepted for symmetry with ``global_align``; the computation is instantaneous.

    Returns:
        an :class:`AlignmentResult` whose world frame is the camera of the more confident image (or the
        frame of ``config.known_poses``), with empty ``loss_history``.

    Raises:
        AlignmentError: a pair is missing, the two views' shapes disagree between edges, or too few
            confident pixels remain for the pose.
    """
    start = time.perf_counter()
    edges = _edges_by_pair(preds)
    shapes = [edges[(0, 1)].pts3d_i.shape[:2], edges[(1, 0)].pts3d_i.shape[:2]]
    _check_shapes(edges, shapes)

    im_conf = [_image_conf(edges, view) for view in (0, 1)]
    scores = [float(edges[(v, 1 - v)].conf_i.mean() * edges[(v, 1 - v)].conf_j.mean()) for v in (0, 1)]
    pps = [default_principal_point(*shape) for shape in shapes]
    focals = [_focal_of(edges[(v, 1 - v)], pps[v], config, v) for v in (0, 1)]

    ref = 0 if scores[0] > scores[1] else 1
    other = 1 - ref
    ref_edge, other_edge = edges[(ref, other)], edges[(other, ref)]
    mask_other = im_conf[other] > config.min_conf
    cam_ref_from_cam_other = _relative_pose(other_edge, ref_edge, mask_other)

    world_from_cam = np.empty((2, 4, 4))
    world_from_cam[ref] = np.eye(4)
    world_from_cam[other] = cam_ref_from_cam_other
    depth = [np.empty(0)] * 2
    depth[ref] = ref_edge.pts3d_i[..., 2].astype(np.float64)
    depth[other] = transform_points(invert_rigid(cam_ref_from_cam_other), ref_edge.pts3d_j)[..., 2]
    logger.debug("two-view alignment: world = camera %d, scores %s, focals %s", ref, scores, focals)

    world_from_cam, depth = _apply_known_poses(world_from_cam, depth, config)
    return _make_result(world_from_cam, np.array(focals), np.stack(pps), depth, im_conf, start)


def align_single_view(pred: PairPrediction, config: AlignConfig) -> AlignmentResult:
    """Monocular case: the prediction of the pair ``(i, i)`` (the same image twice).

    The focal comes from the view-1 pointmap (unless ``config.known_focals[0]`` is set), the camera is the
    world (or sits at ``config.known_poses[0]``), depth is the view-1 pointmap's z, confidence its confidence.

    Args:
        pred: a :class:`PairPrediction`, normally with ``i == j``.
        config: ``focal_mode``, ``known_focals``, ``known_poses`` are used.

    Returns:
        a one-view :class:`AlignmentResult`.
    """
    start = time.perf_counter()
    pp = default_principal_point(*pred.pts3d_i.shape[:2])
    focal = _focal_of(pred, pp, config, 0)
    world_from_cam = _known_world_from_cam(config, 0)
    world_from_cam = np.eye(4) if world_from_cam is None else world_from_cam
    depth = [pred.pts3d_i[..., 2].astype(np.float64)]
    conf = [np.asarray(pred.conf_i, dtype=np.float32)]
    return _make_result(world_from_cam[None], np.array([focal]), pp[None], depth, conf, start)


def _edges_by_pair(preds: Sequence[PairPrediction]) -> dict[tuple[int, int], PairPrediction]:
    edges = {(p.i, p.j): p for p in preds if p.i != p.j}
    if set(edges) != {(0, 1), (1, 0)}:
        raise AlignmentError(
            f"two-view alignment needs the predictions of the pairs (0, 1) and (1, 0), got {sorted(edges)}"
        )
    return edges


def _check_shapes(edges: dict[tuple[int, int], PairPrediction], shapes: list[tuple[int, int]]) -> None:
    for (i, j), pred in edges.items():
        for name, arr, view in (
            ("pts3d_i", pred.pts3d_i, i),
            ("pts3d_j", pred.pts3d_j, j),
            ("conf_i", pred.conf_i, i),
            ("conf_j", pred.conf_j, j),
        ):
            if tuple(arr.shape[:2]) != tuple(shapes[view]):
                raise AlignmentError(
                    f"pair ({i}, {j}): {name} has shape {arr.shape}, but image {view} is {tuple(shapes[view])}"
                )


def _image_conf(edges: dict[tuple[int, int], PairPrediction], view: int) -> np.ndarray:
    """``(H, W)`` float32 pixel-wise maximum confidence of ``view`` over the two edges."""
    return np.maximum(edges[(view, 1 - view)].conf_i, edges[(1 - view, view)].conf_j).astype(np.float32)


def _known_focal(config: AlignConfig, view: int) -> float | None:
    if config.known_focals is None or view >= len(config.known_focals):
        return None
    focal = config.known_focals[view]
    return None if focal is None else float(focal)


def _known_world_from_cam(config: AlignConfig, view: int) -> np.ndarray | None:
    """``(4, 4)`` float64 ``world_from_cam`` of ``view`` from ``config.known_poses``, or None."""
    if config.known_poses is None or view >= len(config.known_poses) or config.known_poses[view] is None:
        return None
    world_from_cam = np.asarray(config.known_poses[view], dtype=np.float64)
    if world_from_cam.shape != (4, 4) or not np.all(np.isfinite(world_from_cam)):
        raise AlignmentError(
            f"known pose of view {view} must be a finite 4x4 matrix, got shape {world_from_cam.shape}"
        )
    return world_from_cam


def _focal_of(pred: PairPrediction, pp: np.ndarray, config: AlignConfig, view: int) -> float:
    """Focal (network pixels) of ``pred``'s view 1: the known prior, else estimated from its pointmap."""
    known = _known_focal(config, view)
    if known is not None:
        return known
    focal = estimate_focal_knowing_depth(pred.pts3d_i, pp, config.focal_mode)
    if not np.isfinite(focal) or focal <= 0:
        # A pointmap that is not a pinhole image (an untrained or wrong model) gives no focal; a camera with a
        # zero focal cannot be built, so fall back to a 60 degree field of view and say so.
        fallback = focal_base(*pred.pts3d_i.shape[:2])
        logger.warning(
            "view %d: the pointmap gives no usable focal length (%s); using %.1f px", view, focal, fallback
        )
        return fallback
    return focal


def _relative_pose(own_edge: PairPrediction, ref_edge: PairPrediction, mask: np.ndarray) -> np.ndarray:
    """``(4, 4)`` ``cam_ref_from_cam_own`` of the image that is view 1 of ``own_edge`` and view 2 of ``ref_edge``.

    Similarity Procrustes from ``own_edge.pts3d_i`` (own frame, own edge's scale) to ``ref_edge.pts3d_j``
    (reference frame, reference edge's scale); the rigid part is returned, its translation in the
    reference edge's scale.
    """
    src = own_edge.pts3d_i.reshape(-1, 3)
    dst = ref_edge.pts3d_j.reshape(-1, 3)
    weights = (own_edge.conf_i.astype(np.float64) * ref_edge.conf_j).reshape(-1) * mask.reshape(-1)
    weights = np.where(np.isfinite(src).all(1) & np.isfinite(dst).all(1), weights, 0.0)
    try:
        _, R, t = weighted_umeyama(src, dst, weights, with_scale=True)
    except ValueError as exc:
        raise AlignmentError(
            f"cannot find the relative pose of the two photos ({exc}); "
            "lower the minimum confidence or use photos that overlap more"
        ) from exc
    return make_rigid(R, t)


def _apply_known_poses(
    world_from_cam: np.ndarray, depth: list[np.ndarray], config: AlignConfig
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Move (and with two known poses, scale) the reconstruction onto the known camera poses."""
    known_world_from_cam = [_known_world_from_cam(config, v) for v in range(len(world_from_cam))]
    views = [v for v, known in enumerate(known_world_from_cam) if known is not None]
    if not views:
        return world_from_cam, depth
    anchor = views[0]
    scale = 1.0
    if len(views) == 2:
        est_baseline = np.linalg.norm(world_from_cam[1, :3, 3] - world_from_cam[0, :3, 3])
        known_baseline = np.linalg.norm(known_world_from_cam[1][:3, 3] - known_world_from_cam[0][:3, 3])
        if est_baseline > 0 and known_baseline > 0:
            scale = float(known_baseline / est_baseline)
    new_from_old = known_world_from_cam[anchor] @ invert_rigid(world_from_cam[anchor])
    moved = new_from_old @ world_from_cam
    moved[:, :3, 3] = scale * (moved[:, :3, 3] - moved[anchor, :3, 3]) + moved[anchor, :3, 3]
    for v in views:
        moved[v] = known_world_from_cam[v]
    return moved, [d * scale for d in depth]


def _make_result(
    world_from_cam: np.ndarray,
    focals: np.ndarray,
    pps: np.ndarray,
    depth: list[np.ndarray],
    conf: list[np.ndarray],
    start: float,
) -> AlignmentResult:
    pts3d = [
        transform_points(world_from_cam[v], depth_to_cam_points(depth[v], focals[v], pps[v])).astype(
            np.float32
        )
        for v in range(len(depth))
    ]
    return AlignmentResult(
        world_from_cam=np.asarray(world_from_cam, dtype=np.float64),
        focals=np.asarray(focals, dtype=np.float64),
        principal_points=np.asarray(pps, dtype=np.float64),
        depth=[np.asarray(d, dtype=np.float32) for d in depth],
        pts3d=pts3d,
        conf=[np.asarray(c, dtype=np.float32) for c in conf],
        loss_history=[],
        seconds=time.perf_counter() - start,
    )
