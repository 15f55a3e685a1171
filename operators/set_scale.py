"""``dust3r.set_scale``: give a reconstruction real size (scales its parent empty only)."""

from __future__ import annotations

import bpy
import numpy as np
from bpy.props import EnumProperty, FloatProperty, StringProperty
from mathutils import Matrix

from ..addon import Role, role_of
from ..scene import orientation
from ..scene.level_scale import NO_ROOT, SCALE_POINTS_KEY, matrix_array, selected_cameras
from ..scene.objects import camera_objects, context_root, find_root


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
            M = matrix_array(root.matrix_world)
            a, b = (M[:3, :3] @ np.asarray(picked[k], dtype=np.float64) + M[:3, 3] for k in ("A", "B"))
            return a, b, "points A and B"
        if self.camera_a or self.camera_b:
            cams = [bpy.data.objects.get(n) for n in (self.camera_a, self.camera_b)]
            if any(role_of(c) != Role.CAMERA or find_root(c) != root for c in cams):
                raise ValueError(f"camera_a and camera_b must be cameras of '{root.name}'.")
        else:
            cams = selected_cameras(context, root)
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
            orientation.scaled_about_origin(matrix_array(root.matrix_world), factor).tolist()
        )
        for cam in camera_objects(root):  # clipping distances are in world units: keep what they showed
            cam.data.clip_start *= factor
            cam.data.clip_end *= factor
        self.report(
            {"INFO"}, f"Scaled '{root.name}' by {factor:.4g}: {what} are now {self.distance:g} apart."
        )
        return {"FINISHED"}
