"""Reading a reconstruction for Level and Set Scale: its confident points, cameras and picked scale points,
in the frame of its parent empty (the operators move that empty only; the maths is in :mod:`.orientation`)."""

from __future__ import annotations

import bpy
import numpy as np

from ..addon import Role, role_of
from . import geonodes, points
from .objects import camera_objects, find_root, points_object

SCALE_POINTS_KEY = "dust3r_scale_points"  # on the root: {"A": [x, y, z], "B": [...]} in the root's frame
NO_ROOT = "Select an object of a DUSt3R reconstruction (built by this version: it has a parent empty)."


def matrix_array(m) -> np.ndarray:
    return np.array([list(row) for row in m], dtype=np.float64)


def root_from_world(root: bpy.types.Object) -> np.ndarray:
    return np.linalg.inv(matrix_array(root.matrix_world))


def confident_points_in_root(root: bpy.types.Object) -> np.ndarray:
    """``(M, 3)`` the points at or above the live confidence threshold, in the root's frame."""
    obj = points_object(root)
    if obj is None:
        return np.zeros((0, 3))
    cloud = points.read_points(obj.data)
    threshold, _radius = geonodes.points_filter(obj) if geonodes.MODIFIER_NAME in obj.modifiers else (0.0, 0)
    keep = cloud.confidence >= threshold
    M = root_from_world(root) @ matrix_array(obj.matrix_world)
    return cloud.positions[keep].astype(np.float64) @ M[:3, :3].T + M[:3, 3]


def camera_frames(root: bpy.types.Object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cameras' up vectors, viewing directions and centres ``(N, 3)`` in the root's frame."""
    inv = root_from_world(root)
    frames = [inv @ matrix_array(cam.matrix_world) for cam in camera_objects(root)]
    up = np.array([f[:3, 1] for f in frames])
    forward = np.array([-f[:3, 2] for f in frames])  # a Blender camera looks down its local -Z
    centres = np.array([f[:3, 3] for f in frames])
    return up, forward, centres


def uniform_scale(root: bpy.types.Object) -> float:
    return float(np.cbrt(abs(np.linalg.det(matrix_array(root.matrix_world)[:3, :3]))))


def selected_cameras(context: bpy.types.Context, root: bpy.types.Object) -> list[bpy.types.Object]:
    return [o for o in context.selected_objects if role_of(o) == Role.CAMERA and find_root(o) == root]


def picked_points(root: bpy.types.Object | None) -> set[str]:
    """Which of the scale points A, B are set on ``root`` (for the sidebar)."""
    return set(root.get(SCALE_POINTS_KEY, {}).keys()) if root is not None else set()
