"""A built reconstruction, as it is in the Blender scene, -> the core's ``ExportScene`` (main thread).

The cameras and points are read where the artist left them (after Level, Set Scale or a move of the
reconstruction's parent empty) and mapped back to the OpenCV world of the core through the one conversion
module (``core.geometry.blender_camera``): with the parent untouched, the export equals the export of the
``RESULT.npz`` the scene was built from; after a similarity of the parent it differs by that similarity.
A footage camera (one animated camera) exports one view per keyed frame, evaluated at that frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np

from ..addon import Role
from ..core.color import srgb_from_linear
from ..core.geometry.blender_camera import (
    OPENCV_WORLD_FROM_BLENDER_WORLD,
    BlenderCameraParams,
    opencv_from_blender_camera,
)
from ..core.geometry.distortion import project_distorted
from ..core.geometry.transforms import invert_rigid
from . import geonodes, points
from .cameras import DISTORTION_KEY
from .objects import camera_objects, children_with_role, points_object


class NothingToExport(ValueError):
    """The selection is not a reconstruction this version can export (the message says what to do)."""


def _matrix(m) -> np.ndarray:
    return np.array([list(row) for row in m], dtype=np.float64)


def rigid_matrix_world(obj: bpy.types.Object) -> np.ndarray:
    """``obj.matrix_world`` without its scale (a parent's Set Scale scales the camera objects too; Blender
    projects through the normalised matrix, as ``world_to_camera_view`` does)."""
    M = _matrix(obj.matrix_world)
    scale = np.linalg.norm(M[:3, :3], axis=0)
    M[:3, :3] /= scale
    return M


def camera_params(cam_obj: bpy.types.Object) -> BlenderCameraParams:
    """What the core's conversion needs of a DUSt3R camera object, as the scene has it now."""
    cam = cam_obj.data
    return BlenderCameraParams(
        matrix_world=rigid_matrix_world(cam_obj),
        lens=cam.lens,
        sensor_fit=cam.sensor_fit,
        sensor_width=cam.sensor_width,
        sensor_height=cam.sensor_height,
        shift_x=cam.shift_x,
        shift_y=cam.shift_y,
        resolution=tuple(int(v) for v in cam_obj["dust3r_resolution"]),
        pixel_aspect=tuple(float(v) for v in cam_obj["dust3r_pixel_aspect"]),
    )


@dataclass(frozen=True)
class _Views:
    """The exported views of one reconstruction (``ExportScene``'s per-view fields) and, for each point's
    ``view`` attribute (the view index of the build), its export view."""

    image_paths: tuple[str, ...]
    frame_numbers: np.ndarray
    is_footage: bool
    world_from_cam: np.ndarray
    K_photo: np.ndarray
    photo_size: np.ndarray
    dist: np.ndarray
    view_of_index: dict[int, int]


def _opencv_cameras(params: list[BlenderCameraParams]) -> tuple[np.ndarray, np.ndarray]:
    """``(K_photo (N,3,3), world_from_cam (N,4,4))`` of Blender cameras, through the one conversion."""
    K_photo, world_from_cam = [], []
    for p in params:
        K, cam_from_world = opencv_from_blender_camera(p)
        K_photo.append(K)
        world_from_cam.append(invert_rigid(cam_from_world))
    return np.stack(K_photo), np.stack(world_from_cam)


def _photo_views(cams: list[bpy.types.Object]) -> _Views:
    K_photo, world_from_cam = _opencv_cameras([camera_params(c) for c in cams])
    return _Views(
        image_paths=tuple(str(Path(c["dust3r_image"])) for c in cams),
        frame_numbers=np.array([int(c.get("dust3r_frame", c["dust3r_index"])) for c in cams]),
        is_footage=False,
        world_from_cam=world_from_cam,
        K_photo=K_photo,
        photo_size=np.array([[int(v) for v in c["dust3r_resolution"]] for c in cams]),
        dist=np.array([list(c.data.get(DISTORTION_KEY, (0.0, 0.0))) for c in cams], dtype=np.float64),
        view_of_index={int(c["dust3r_index"]): v for v, c in enumerate(cams)},
    )


def _footage_views(scene: bpy.types.Scene, cam_obj: bpy.types.Object) -> _Views:
    """One view per keyed frame of the footage camera, evaluated at that frame (pose, lens and shift as the
    animation has them); the scene is put back on its frame afterwards."""
    frames = [int(f) for f in cam_obj["dust3r_frame_numbers"]]
    current, subframe = scene.frame_current, scene.frame_subframe
    try:
        params = []
        for frame in frames:
            scene.frame_set(frame)
            params.append(camera_params(cam_obj))
    finally:
        scene.frame_set(current, subframe=subframe)
    K_photo, world_from_cam = _opencv_cameras(params)
    n = len(frames)
    paths = cam_obj.get("dust3r_frame_paths")  # a sequence: each frame's file; a video: the video
    return _Views(
        image_paths=tuple(str(p) for p in paths) if paths else (str(Path(cam_obj["dust3r_image"])),) * n,
        frame_numbers=np.array(frames),
        is_footage=True,
        world_from_cam=world_from_cam,
        K_photo=K_photo,
        photo_size=np.array([[int(v) for v in cam_obj["dust3r_resolution"]]] * n),
        dist=np.tile(np.array(list(cam_obj.data.get(DISTORTION_KEY, (0.0, 0.0))), dtype=np.float64), (n, 1)),
        view_of_index={k: k for k in range(n)},
    )


def export_scene_from_blender(
    root: bpy.types.Object, min_conf: float | None = None, scene: bpy.types.Scene | None = None
):
    """The cameras and confident points of the reconstruction under ``root``, in the core's OpenCV world.

    Args:
        root: the reconstruction's parent empty.
        min_conf: keep points whose confidence is above this (as ``python -m core export --min-conf``);
            None: the points the viewport shows (confidence at or above the live display threshold).
        scene: the scene whose frames a footage camera is evaluated at (default: the context's).

    Returns:
        ``core.export.ExportScene``; each point's photo pixel is its projection through the camera of
        the view it came from, through its lens distortion (the points lie on their camera's rays, so that
        is where the photo saw them).
        A footage camera gives one view per keyed frame (``is_footage``, its frame numbers).

    Raises:
        NothingToExport: no camera.
    """
    from ..core.export import ExportScene

    footage = children_with_role(root, Role.FOOTAGE_CAMERA)
    cams = camera_objects(root)
    if footage:
        views = _footage_views(scene or bpy.context.scene, footage[0])
    elif cams:
        views = _photo_views(cams)
    else:
        raise NothingToExport(f"'{root.name}' has no DUSt3R camera to export.")
    pts, colors, conf, view = _confident_points(root, min_conf, views.view_of_index)
    uv = np.full((len(pts), 2), np.nan)
    for v in range(len(views.image_paths)):
        mine = view == v
        cam_from_world = invert_rigid(views.world_from_cam[v])
        pts_cam = pts[mine] @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
        uv[mine] = project_distorted(views.K_photo[v], pts_cam, views.dist[v])
    return ExportScene(
        image_paths=views.image_paths,
        frame_numbers=views.frame_numbers,
        is_footage=views.is_footage,
        world_from_cam=views.world_from_cam,
        K_photo=views.K_photo,
        photo_size=views.photo_size,
        dist=views.dist,
        points=pts,
        colors=colors,
        confidence=conf,
        point_view=view,
        point_uv=uv,
    )


def _confident_points(root, min_conf: float | None, view_of_index: dict[int, int]):
    """``(P, 3)`` OpenCV-world points above the threshold, sRGB colours, confidences and export views."""
    obj = points_object(root)
    if obj is None:
        return np.zeros((0, 3)), np.zeros((0, 3), np.uint8), np.zeros(0, np.float32), np.zeros(0, np.int64)
    cloud = points.read_points(obj.data)
    if min_conf is not None:
        keep = cloud.confidence > min_conf
    elif geonodes.MODIFIER_NAME in obj.modifiers:
        keep = cloud.confidence >= geonodes.points_filter(obj)[0]  # what the modifier keeps
    else:
        keep = np.ones(len(cloud), dtype=bool)
    opencv_from_local = OPENCV_WORLD_FROM_BLENDER_WORLD @ _matrix(obj.matrix_world)
    pts = cloud.positions[keep].astype(np.float64) @ opencv_from_local[:3, :3].T + opencv_from_local[:3, 3]
    source_view = cloud.view[keep].astype(np.int64)
    lookup = np.full(max(int(source_view.max(initial=0)), max(view_of_index, default=0)) + 1, -1, np.int64)
    for index, v in view_of_index.items():
        lookup[index] = v
    views = lookup[source_view]  # a point of a view whose camera was deleted: no known pixel
    return (
        pts,
        np.round(srgb_from_linear(cloud.colors[keep, :3]) * 255.0).astype(np.uint8),
        cloud.confidence[keep],
        views,
    )
