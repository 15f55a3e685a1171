"""nerfstudio's ``transforms.json`` (the nerfstudio data format, close to Instant-NGP's).

Intrinsics ``fl_x, fl_y, cx, cy`` in pixels of the photo, ``w, h``; pixel centres at ``+0.5`` (nerfstudio
shoots pixel (0, 0)'s ray through its centre), i.e. our continuous coordinates. Each key is written at the
top level when every photo has the same value, else in every frame (nerfstudio reads each key either way).
Distortion ``k1, k2`` (OpenCV's radial model, ``camera_model: OPENCV``) only when the result has some.
``transform_matrix`` is camera-to-world with nerfstudio's OpenGL camera axes (x right, y up, z back), so it
is ``world_from_cam @ diag(1, -1, -1, 1)``; the world frame is the reconstruction's (nerfstudio's data parser
orients and centres it itself). ``ply_file_path`` names the point cloud beside the json.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .scene import ExportScene

OPENCV_CAMERA_FROM_OPENGL_CAMERA = np.diag([1.0, -1.0, -1.0, 1.0])
_INTRINSIC_KEYS = ("fl_x", "fl_y", "cx", "cy", "w", "h")


def transforms_json(scene: ExportScene, file_paths: Sequence[str], ply_file_path: str | None) -> dict:
    """The ``transforms.json`` content for ``scene``.

    Args:
        scene: cameras (and the points only for their count).
        file_paths: N image paths relative to the json (posix separators), in view order.
        ply_file_path: the point cloud relative to the json, or None (no points: nerfstudio then starts
            from random points).
    """
    per_view = [
        {
            "fl_x": float(scene.K_photo[k, 0, 0]),
            "fl_y": float(scene.K_photo[k, 1, 1]),
            "cx": float(scene.K_photo[k, 0, 2]),
            "cy": float(scene.K_photo[k, 1, 2]),
            "w": int(scene.photo_size[k, 0]),
            "h": int(scene.photo_size[k, 1]),
        }
        for k in range(scene.num_views)
    ]
    shared = [key for key in _INTRINSIC_KEYS if len({v[key] for v in per_view}) == 1]
    meta: dict = {"camera_model": "OPENCV"} | {key: per_view[0][key] for key in shared}
    has_dist = bool(np.any(scene.dist != 0))
    dist_shared = has_dist and bool(np.all(scene.dist == scene.dist[0]))
    if dist_shared:
        meta |= {"k1": float(scene.dist[0, 0]), "k2": float(scene.dist[0, 1])}
    world_from_gl_cam = scene.world_from_cam @ OPENCV_CAMERA_FROM_OPENGL_CAMERA
    frames = []
    for k in range(scene.num_views):
        frame: dict = {"file_path": file_paths[k], "transform_matrix": world_from_gl_cam[k].tolist()}
        frame |= {key: value for key, value in per_view[k].items() if key not in shared}
        if has_dist and not dist_shared:
            frame |= {"k1": float(scene.dist[k, 0]), "k2": float(scene.dist[k, 1])}
        frames.append(frame)
    meta["frames"] = frames
    if ply_file_path is not None:
        meta["ply_file_path"] = ply_file_path
    return meta
