"""``dust3r.pick_scale_point``: remember a point of the reconstruction as scale point A or B."""

from __future__ import annotations

import bpy
import numpy as np
from bpy.props import EnumProperty

from ..scene.level_scale import NO_ROOT, SCALE_POINTS_KEY, root_from_world
from ..scene.objects import context_root


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
