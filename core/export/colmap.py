"""COLMAP sparse models, text (``cameras.txt``, ``images.txt``, ``points3D.txt``) and binary (``.bin``).

Written by hand from COLMAP's documented formats (the extension does not bundle pycolmap; the tests read the
files back with it). Conventions: poses are world-to-camera, a unit quaternion ``(qw, qx, qy, qz)``
(Hamilton, ``qw >= 0``) and a translation; pixel coordinates are continuous (the image spans ``[0, W]``),
the same as ours; cameras are ``PINHOLE`` (``fx fy cx cy``) or, with distortion, ``OPENCV``
(``fx fy cx cy k1 k2 p1 p2`` with ``p1 = p2 = 0``). Each exported point has a track of one observation: the
photo pixel it came from (``IMAGE_ID POINT2D_IDX``), and ``ERROR`` is its reprojection error there in
pixels (``-1`` for points without an observation).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..geometry.distortion import project_distorted
from .files import atomic_write
from .scene import ExportScene

MODEL_IDS = {"PINHOLE": 1, "OPENCV": 4}
INVALID_POINT3D_ID = np.uint64(2**64 - 1)
TEXT_FILES = ("cameras.txt", "images.txt", "points3D.txt")
BINARY_FILES = ("cameras.bin", "images.bin", "points3D.bin")
_CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class ColmapCamera:
    camera_id: int
    model: str
    width: int
    height: int
    params: tuple[float, ...]


@dataclass(frozen=True)
class ColmapModel:
    """The arrays of a COLMAP model, shared by the text and binary writers.

    Attributes:
        cameras: distinct cameras (ids from 1).
        camera_of_view: ``(N,)`` camera id of each view; image ids are ``1..N`` in view order.
        names: N image file names (relative to the images folder).
        quats: ``(N, 4)`` ``(qw, qx, qy, qz)`` of ``cam_from_world``; trans: ``(N, 3)`` its translation.
        observed: ``(P,)`` bool, points with a 2-D observation.
        point2d_idx: ``(P,)`` int64, index of each observed point in its image's POINTS2D list (else -1).
        order: per view, the indices of its observed points in POINTS2D order.
        errors: ``(P,)`` float64 reprojection error in pixels (-1 where not observed).
    """

    cameras: tuple[ColmapCamera, ...]
    camera_of_view: np.ndarray
    names: tuple[str, ...]
    quats: np.ndarray
    trans: np.ndarray
    observed: np.ndarray
    point2d_idx: np.ndarray
    order: tuple[np.ndarray, ...]
    errors: np.ndarray


def quaternion_from_rotation(R: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` rotations -> ``(N, 4)`` float64 unit quaternions ``(qw, qx, qy, qz)`` with ``qw >= 0``.

    Shepperd's method: for each matrix, the largest of ``4 qw^2, 4 qx^2, 4 qy^2, 4 qz^2`` is computed from
    the diagonal and the other components from off-diagonal sums, so no branch divides by a small number.
    """
    R = np.asarray(R, dtype=np.float64).reshape(-1, 3, 3)
    m00, m11, m22 = R[:, 0, 0], R[:, 1, 1], R[:, 2, 2]
    trace = np.stack([m00 + m11 + m22, m00 - m11 - m22, -m00 + m11 - m22, -m00 - m11 + m22], axis=1)
    best = np.argmax(trace, axis=1)
    d21, d12 = R[:, 2, 1] - R[:, 1, 2], R[:, 2, 1] + R[:, 1, 2]
    d02, d20 = R[:, 0, 2] - R[:, 2, 0], R[:, 0, 2] + R[:, 2, 0]
    d10, d01 = R[:, 1, 0] - R[:, 0, 1], R[:, 1, 0] + R[:, 0, 1]
    # rows: (4 * component * q_best) for best = w, x, y, z
    q = np.stack(
        [
            np.stack([1 + trace[:, 0], d21, d02, d10], axis=1),
            np.stack([d21, 1 + trace[:, 1], d01, d20], axis=1),
            np.stack([d02, d01, 1 + trace[:, 2], d12], axis=1),
            np.stack([d10, d20, d12, 1 + trace[:, 3]], axis=1),
        ],
        axis=1,
    )[np.arange(len(R)), best]
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)


def camera_params(K: np.ndarray, dist: np.ndarray) -> tuple[str, tuple[float, ...]]:
    """COLMAP model name and parameters of one photo camera (``K`` continuous, ``dist = (k1, k2)``)."""
    base = (float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]))
    if np.any(np.asarray(dist) != 0):
        return "OPENCV", base + (float(dist[0]), float(dist[1]), 0.0, 0.0)
    return "PINHOLE", base


def build_model(scene: ExportScene, names: Sequence[str]) -> ColmapModel:
    """Cameras (one per distinct size and intrinsics), poses, and the 2-D observations of ``scene``."""
    cameras: dict[tuple, ColmapCamera] = {}
    camera_of_view = np.zeros(scene.num_views, dtype=np.int64)
    for k in range(scene.num_views):
        model, params = camera_params(scene.K_photo[k], scene.dist[k])
        w, h = (int(v) for v in scene.photo_size[k])
        key = (model, w, h, params)
        if key not in cameras:
            cameras[key] = ColmapCamera(len(cameras) + 1, model, w, h, params)
        camera_of_view[k] = cameras[key].camera_id
    cam_from_world = scene.cam_from_world
    observed = (scene.point_view >= 0) & np.isfinite(scene.point_uv).all(axis=1)
    view = np.where(observed, scene.point_view, scene.num_views)  # unobserved sort last
    by_view = np.argsort(view, kind="stable")
    counts = np.bincount(view, minlength=scene.num_views + 1)
    starts = np.concatenate([[0], np.cumsum(counts)])
    point2d_idx = np.full(scene.num_points, -1, dtype=np.int64)
    point2d_idx[by_view] = np.arange(scene.num_points) - starts[view[by_view]]
    point2d_idx[~observed] = -1
    order = tuple(by_view[starts[k] : starts[k + 1]] for k in range(scene.num_views))
    return ColmapModel(
        cameras=tuple(cameras.values()),
        camera_of_view=camera_of_view,
        names=tuple(names),
        quats=quaternion_from_rotation(cam_from_world[:, :3, :3]),
        trans=cam_from_world[:, :3, 3].copy(),
        observed=observed,
        point2d_idx=point2d_idx,
        order=order,
        errors=_reprojection_errors(scene, observed, order, cam_from_world),
    )


def _reprojection_errors(
    scene: ExportScene, observed: np.ndarray, order: Sequence[np.ndarray], cam_from_world: np.ndarray
) -> np.ndarray:
    errors = np.full(scene.num_points, -1.0)
    for k, idx in enumerate(order):
        if len(idx) == 0:
            continue
        T = cam_from_world[k]
        pts_cam = scene.points[idx] @ T[:3, :3].T + T[:3, 3]
        uv = project_distorted(scene.K_photo[k], pts_cam, scene.dist[k])
        err = np.linalg.norm(uv - scene.point_uv[idx], axis=1)
        errors[idx] = np.where(np.isfinite(err) & (pts_cam[:, 2] > 0), err, -1.0)
    return errors


# --- text -------------------------------------------------------------------------------------------------


def _format_rows(row_format: str, columns: Sequence[np.ndarray]) -> Iterator[str]:
    """Text of the rows ``row_format % (col0[i], col1[i], ...)``, in chunks (one C-level format per chunk)."""
    n = len(columns[0]) if columns else 0
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(n, start + _CHUNK_ROWS)
        flat = np.empty((stop - start) * len(columns), dtype=object)
        for c, column in enumerate(columns):
            flat[c :: len(columns)] = column[start:stop].tolist()
        yield (row_format * (stop - start)) % tuple(flat)


def write_text(folder: Path, scene: ExportScene, model: ColmapModel) -> list[Path]:
    """Write ``cameras.txt``, ``images.txt`` and ``points3D.txt`` into ``folder``; returns their paths."""
    paths = [folder / name for name in TEXT_FILES]
    with atomic_write(paths[0]) as f:
        f.write(b"# Camera list with one line of data per camera:\n")
        f.write(b"#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n")
        f.write(f"# Number of cameras: {len(model.cameras)}\n".encode())
        for cam in model.cameras:
            params = " ".join(repr(p) for p in cam.params)
            f.write(f"{cam.camera_id} {cam.model} {cam.width} {cam.height} {params}\n".encode())
    with atomic_write(paths[1]) as f:
        f.write(b"# Image list with two lines of data per image:\n")
        f.write(b"#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n")
        f.write(b"#   POINTS2D[] as (X, Y, POINT3D_ID)\n")
        f.write(f"# Number of images: {scene.num_views}\n".encode())
        for k in range(scene.num_views):
            pose = " ".join(repr(float(v)) for v in (*model.quats[k], *model.trans[k]))
            f.write(f"{k + 1} {pose} {model.camera_of_view[k]} {model.names[k]}\n".encode())
            idx = model.order[k]
            uv = scene.point_uv[idx]
            for text in _format_rows("%.6f %.6f %d ", [uv[:, 0], uv[:, 1], idx + 1]):
                f.write(text.encode())
            f.write(b"\n")
    with atomic_write(paths[2]) as f:
        f.write(b"# 3D point list with one line of data per point:\n")
        f.write(b"#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n")
        f.write(f"# Number of points: {scene.num_points}\n".encode())
        for mask, tail in ((model.observed, " %d %d\n"), (~model.observed, "\n")):
            ids = np.flatnonzero(mask)
            xyz, rgb = scene.points[ids], scene.colors[ids]
            columns = [ids + 1, xyz[:, 0], xyz[:, 1], xyz[:, 2], rgb[:, 0], rgb[:, 1], rgb[:, 2]]
            columns.append(model.errors[ids])
            if tail != "\n":
                columns += [scene.point_view[ids] + 1, model.point2d_idx[ids]]
            for text in _format_rows("%d %.9g %.9g %.9g %d %d %d %.6g" + tail, columns):
                f.write(text.encode())
    return paths


# --- binary -----------------------------------------------------------------------------------------------

_POINT2D = np.dtype([("x", "<f8"), ("y", "<f8"), ("point3d_id", "<u8")])
_POINT3D = [("id", "<u8"), ("xyz", "<f8", (3,)), ("rgb", "u1", (3,)), ("error", "<f8"), ("track_len", "<u8")]
_POINT3D_TRACKED = np.dtype(_POINT3D + [("image_id", "<u4"), ("point2d_idx", "<u4")])
_POINT3D_UNTRACKED = np.dtype(_POINT3D)


def write_binary(folder: Path, scene: ExportScene, model: ColmapModel) -> list[Path]:
    """Write ``cameras.bin``, ``images.bin`` and ``points3D.bin`` into ``folder``; returns their paths."""
    paths = [folder / name for name in BINARY_FILES]
    with atomic_write(paths[0]) as f:
        f.write(struct.pack("<Q", len(model.cameras)))
        for cam in model.cameras:
            f.write(struct.pack("<IiQQ", cam.camera_id, MODEL_IDS[cam.model], cam.width, cam.height))
            f.write(struct.pack(f"<{len(cam.params)}d", *cam.params))
    with atomic_write(paths[1]) as f:
        f.write(struct.pack("<Q", scene.num_views))
        for k in range(scene.num_views):
            f.write(struct.pack("<I7dI", k + 1, *model.quats[k], *model.trans[k], model.camera_of_view[k]))
            f.write(model.names[k].encode("utf-8") + b"\0")
            idx = model.order[k]
            records = np.empty(len(idx), dtype=_POINT2D)
            records["x"], records["y"] = scene.point_uv[idx, 0], scene.point_uv[idx, 1]
            records["point3d_id"] = idx + 1
            f.write(struct.pack("<Q", len(idx)))
            f.write(records.tobytes())
    with atomic_write(paths[2]) as f:
        f.write(struct.pack("<Q", scene.num_points))
        for tracked, dtype in ((True, _POINT3D_TRACKED), (False, _POINT3D_UNTRACKED)):
            ids = np.flatnonzero(model.observed == tracked)
            records = np.empty(len(ids), dtype=dtype)
            records["id"] = ids + 1
            records["xyz"] = scene.points[ids]
            records["rgb"] = scene.colors[ids]
            records["error"] = model.errors[ids]
            records["track_len"] = 1 if tracked else 0
            if tracked:
                records["image_id"] = scene.point_view[ids] + 1
                records["point2d_idx"] = model.point2d_idx[ids]
            f.write(records.tobytes())
    return paths
