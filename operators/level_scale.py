"""``dust3r.level``, ``dust3r.set_scale`` and ``dust3r.pick_scale_point``: stand a reconstruction upright and
give it real size, by transforming its parent empty only (so every camera keeps seeing its own points where
its photo shows them). All undoable; the math is in :mod:`.orientation`.
"""

from __future__ import annotations

import bpy
import numpy as np
from bpy.props import EnumProperty, FloatProperty, StringProperty
from mathutils import Matrix

from ..addon import Role, role_of
from . import geonodes, orientation, points
from .reconstruction_objects import camera_objects, context_root, find_root, points_object

SCALE_POINTS_KEY = "dust3r_scale_points"  # on the root: {"A": [x, y, z], "B": [...]} in the root's frame
NO_ROOT = "Select an object of a DUSt3R reconstruction (built by this version: it has a parent empty)."


def _matrix(m) -> np.ndarray:
    return np.array([list(row) for row in m], dtype=np.float64)


def root_from_world(root: bpy.types.Object) -> np.ndarray:
    return np.linalg.inv(_matrix(root.matrix_world))


def confident_points_in_root(root: bpy.types.Object) -> np.ndarray:
    """``(M, 3)`` the points at or above the live confidence threshold, in the root's frame."""
    obj = points_object(root)
    if obj is None:
        return np.zeros((0, 3))
    cloud = points.read_points(obj.data)
    threshold, _radius = geonodes.points_filter(obj) if geonodes.MODIFIER_NAME in obj.modifiers else (0.0, 0)
    keep = cloud.confidence >= threshold
    M = root_from_world(root) @ _matrix(obj.matrix_world)
    return cloud.positions[keep].astype(np.float64) @ M[:3, :3].T + M[:3, 3]


def _camera_frames(root: bpy.types.Object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cameras' up vectors, viewing directions and centres ``(N, 3)`` in the root's frame."""
    inv = root_from_world(root)
    frames = [inv @ _matrix(cam.matrix_world) for cam in camera_objects(root)]
    up = np.array([f[:3, 1] for f in frames])
    forward = np.array([-f[:3, 2] for f in frames])  # a Blender camera looks down its local -Z
    centres = np.array([f[:3, 3] for f in frames])
    return up, forward, centres


def _uniform_scale(root: bpy.types.Object) -> float:
    return float(np.cbrt(abs(np.linalg.det(_matrix(root.matrix_world)[:3, :3]))))


class DUST3R_OT_level(bpy.types.Operator):
    """Stand the reconstruction upright, ground at Z = 0, centred on the origin (moves its parent empty)"""

    bl_idname = "dust3r.level"
    bl_label = "Level"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context_root(context) is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        root = context_root(context)
        if root is None:
            self.report({"ERROR"}, NO_ROOT)
            return {"CANCELLED"}
        up, forward, centres = _camera_frames(root)
        pts = confident_points_in_root(root)
        if len(up) == 0 or len(pts) == 0:
            self.report({"ERROR"}, f"'{root.name}' needs its cameras and some confident points to level.")
            return {"CANCELLED"}
        level = orientation.find_level(pts, up, centres)
        M = orientation.level_transform(level, pts, forward[0], _uniform_scale(root))
        root.matrix_world = Matrix(M.tolist())
        how = "the ground plane" if level.from_plane else "the cameras' average up (no ground plane found)"
        self.report({"INFO"}, f"Levelled '{root.name}' from {how}: ground at Z = 0.")
        return {"FINISHED"}


def _selected_cameras(context: bpy.types.Context, root: bpy.types.Object) -> list[bpy.types.Object]:
    return [o for o in context.selected_objects if role_of(o) == Role.CAMERA and find_root(o) == root]


class DUST3R_OT_set_scale(bpy.types.Operator):
    """Scale the reconstruction so that two cameras, or two picked points, are a known distance apart"""

    bl_idname = "dust3r.set_scale"
    bl_label = "Set Scale"
    bl_options = {"REGISTER", "UNDO"}

    distance: FloatProperty(
        name="Distance",
        description="The real distance between the two, in the scene's length unit",
        default=1.0,
        min=0.0,
        subtype="DISTANCE",
        unit="LENGTH",
    )
    mode: EnumProperty(
        name="Between",
        items=(
            ("CAMERAS", "Two Cameras", "The two selected cameras (or camera_a and camera_b)"),
            ("POINTS", "Two Points", "Points A and B picked with the 3D cursor"),
        ),
        default="CAMERAS",
    )
    camera_a: StringProperty(name="Camera A", options={"SKIP_SAVE"})
    camera_b: StringProperty(name="Camera B", options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context_root(context) is not None

    def _ends(self, context: bpy.types.Context, root: bpy.types.Object) -> tuple[np.ndarray, np.ndarray, str]:
        """The two world positions and what they are; raises ValueError with the user's message."""
        if self.mode == "POINTS":
            picked = root.get(SCALE_POINTS_KEY, {})
            if "A" not in picked or "B" not in picked:
                raise ValueError(
                    "Pick points A and B first (3D cursor on a point, then 'Pick A' / 'Pick B')."
                )
            M = _matrix(root.matrix_world)
            a, b = (M[:3, :3] @ np.asarray(picked[k], dtype=np.float64) + M[:3, 3] for k in ("A", "B"))
            return a, b, "points A and B"
        if self.camera_a or self.camera_b:
            cams = [bpy.data.objects.get(n) for n in (self.camera_a, self.camera_b)]
            if any(role_of(c) != Role.CAMERA or find_root(c) != root for c in cams):
                raise ValueError(f"camera_a and camera_b must be cameras of '{root.name}'.")
        else:
            cams = _selected_cameras(context, root)
            if len(cams) != 2:
                raise ValueError(f"Select exactly two cameras of '{root.name}' ({len(cams)} selected).")
        a, b = (np.array(c.matrix_world.translation, dtype=np.float64) for c in cams)
        return a, b, f"'{cams[0].name}' and '{cams[1].name}'"

    def execute(self, context: bpy.types.Context) -> set[str]:
        root = context_root(context)
        if root is None:
            self.report({"ERROR"}, NO_ROOT)
            return {"CANCELLED"}
        try:
            a, b, what = self._ends(context, root)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        measured = float(np.linalg.norm(b - a))
        if not (self.distance > 0 and measured > 0):
            self.report({"ERROR"}, f"Both the distance and the distance between {what} must be above zero.")
            return {"CANCELLED"}
        factor = self.distance / measured
        root.matrix_world = Matrix(
            orientation.scaled_about_origin(_matrix(root.matrix_world), factor).tolist()
        )
        for cam in camera_objects(root):  # clipping distances are in world units: keep what they showed
            cam.data.clip_start *= factor
            cam.data.clip_end *= factor
        self.report(
            {"INFO"}, f"Scaled '{root.name}' by {factor:.4g}: {what} are now {self.distance:g} apart."
        )
        return {"FINISHED"}


class DUST3R_OT_pick_scale_point(bpy.types.Operator):
    """Remember the 3D cursor as one end of the known distance (snap the cursor to a point first)"""

    bl_idname = "dust3r.pick_scale_point"
    bl_label = "Pick Point"
    bl_options = {"REGISTER", "UNDO"}

    which: EnumProperty(name="Point", items=(("A", "A", "First point"), ("B", "B", "Second point")))

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context_root(context) is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        root = context_root(context)
        if root is None:
            self.report({"ERROR"}, NO_ROOT)
            return {"CANCELLED"}
        cursor = np.array(context.scene.cursor.location, dtype=np.float64)
        inv = root_from_world(root)
        picked = dict(root.get(SCALE_POINTS_KEY, {}))
        picked[self.which] = (inv[:3, :3] @ cursor + inv[:3, 3]).tolist()
        root[SCALE_POINTS_KEY] = picked
        self.report({"INFO"}, f"Point {self.which} of '{root.name}' set at the 3D cursor.")
        return {"FINISHED"}


def picked_points(root: bpy.types.Object | None) -> set[str]:
    """Which of the scale points A, B are set on ``root`` (for the sidebar)."""
    return set(root.get(SCALE_POINTS_KEY, {}).keys()) if root is not None else set()
