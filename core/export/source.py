"""The "what to export" step: a ``RESULT.npz`` (or a :class:`~core.result.Reconstruction`) -> ExportScene.

Points are the network pixels whose confidence is above ``min_conf`` (strictly, as the alignment's own
threshold), optionally subsampled to ``max_points`` with a fixed seed (the same file gives the same export).
Each keeps the photo pixel it came from (:func:`~core.geometry.photo.photo_from_net_pixels` through the
view's crop), so that the COLMAP writers can record it as a 2-D observation.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..config import DEFAULT_MIN_CONF
from ..errors import ConfigError
from ..geometry.cameras import pixel_grid
from ..geometry.photo import photo_from_net_pixels
from ..result import Reconstruction, ResultFileError, read_result
from .files import ExportError
from .scene import ExportScene, subsample_indices

logger = logging.getLogger(__name__)


def load_result(path: str | Path) -> Reconstruction:
    """Read a ``RESULT.npz`` for export (:func:`core.result.read_result`).

    Raises:
        ExportError: the file is missing, not an npz, or not a RESULT.npz (one line that says which arrays
            are missing and how to make one).
    """
    try:
        return read_result(path)
    except ResultFileError as exc:
        if exc.problem == "missing":
            raise ExportError(
                f"{path} not found: give the RESULT.npz written by `python -m core reconstruct`"
            ) from exc
        if exc.problem == "unreadable":
            raise ExportError(f"{path} is not a readable .npz file ({exc.detail})") from exc
        if exc.problem == "arrays":
            missing = exc.missing_arrays
            shown = ", ".join(missing[:4]) + (", ..." if len(missing) > 4 else "")
            raise ExportError(
                f"{path} is not a RESULT.npz (it lacks {shown}): write one with `python -m core reconstruct`"
            ) from exc
        raise ExportError(f"{path} is not a valid RESULT.npz: {exc.detail}") from exc


def check_point_options(min_conf: float, max_points: int | None) -> None:
    """Raises ConfigError for a non-finite ``min_conf`` or a ``max_points`` below 1."""
    if not np.isfinite(min_conf):
        raise ConfigError(f"--min-conf must be a finite number, got {min_conf}")
    if max_points is not None and max_points < 1:
        raise ConfigError(f"--max-points must be at least 1, got {max_points}")


def scene_from_reconstruction(
    rec: Reconstruction,
    min_conf: float = DEFAULT_MIN_CONF,
    max_points: int | None = None,
    new_from_world: np.ndarray | None = None,
) -> ExportScene:
    """The cameras of ``rec``'s ORIGINAL photos and its confident points, ready for any writer.

    Args:
        rec: the reconstruction (``Reconstruction.load_npz`` of a RESULT.npz, or built in memory).
        min_conf: points with ``conf > min_conf`` are exported.
        max_points: at most this many points, a uniform random subset with a fixed seed (None: all).
        new_from_world: optional ``(4, 4)`` similarity applied to cameras and points (e.g. the artist's
            level/scale/move of the reconstruction in Blender, expressed in the reconstruction's frame).

    Raises:
        ConfigError: bad ``min_conf``/``max_points``, or ``new_from_world`` is not a similarity.
    """
    check_point_options(min_conf, max_points)
    points, colors, confidence, views, uvs = [], [], [], [], []
    for k in range(rec.num_views):
        conf = np.asarray(rec.conf[k])
        pts = np.asarray(rec.pts3d[k])
        keep = (conf > min_conf) & np.isfinite(pts).all(axis=-1)
        h2, w2 = conf.shape
        uv_net = pixel_grid(h2, w2)[keep]  # (M, 2) index coordinates of the kept network pixels
        points.append(pts[keep].astype(np.float64))
        colors.append(np.clip(np.round(np.asarray(rec.colors[k])[keep] * 255.0), 0, 255).astype(np.uint8))
        confidence.append(conf[keep].astype(np.float32))
        views.append(np.full(int(keep.sum()), k, dtype=np.int64))
        uvs.append(photo_from_net_pixels(uv_net, rec.crops[k]))
    total = sum(len(v) for v in views)
    chosen = subsample_indices(total, max_points)
    scene = ExportScene(
        image_paths=rec.image_paths,
        frame_numbers=rec.frame_numbers,
        is_footage=rec.is_footage,
        world_from_cam=rec.world_from_cam,
        K_photo=rec.K_photo,
        photo_size=rec.photo_size,
        dist=rec.dist,
        points=np.concatenate(points)[chosen],
        colors=np.concatenate(colors)[chosen],
        confidence=np.concatenate(confidence)[chosen],
        point_view=np.concatenate(views)[chosen],
        point_uv=np.concatenate(uvs)[chosen],
    )
    logger.info("export: %d of %d confident points (conf > %g)", scene.num_points, total, min_conf)
    return scene if new_from_world is None else scene.transformed(new_from_world)
