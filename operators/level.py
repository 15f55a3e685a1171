"""``dust3r.level``: stand a reconstruction upright, ground at Z = 0, by transforming its parent empty only
(so every camera keeps seeing its own points where its photo shows them). Undoable; the maths is in
:mod:`~..scene.orientation`.
"""

from __future__ import annotations

import bpy
from mathutils import Matrix

from ..scene import orientation
from ..scene.level_scale import NO_ROOT, camera_frames, confident_points_in_root, uniform_scale
from ..scene.objects import context_root


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
        up, forward, centres = camera_frames(root)
        pts = confident_points_in_root(root)
        if len(up) == 0 or len(pts) == 0:
            self.report({"ERROR"}, f"'{root.name}' needs its cameras and some confident points to level.")
            return {"CANCELLED"}
        level = orientation.find_level(pts, up, centres)
        M = orientation.level_transform(level, pts, forward[0], uniform_scale(root))
        root.matrix_world = Matrix(M.tolist())
        how = "the ground plane" if level.from_plane else "the cameras' average up (no ground plane found)"
        self.report({"INFO"}, f"Levelled '{root.name}' from {how}: ground at Z = 0.")
        return {"FINISHED"}
