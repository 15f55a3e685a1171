"""``dust3r.activate_camera``: make a DUSt3R camera the scene camera with its own photo's resolution."""

from __future__ import annotations

import bpy

from ..addon import Role, role_of
from ..scene.cameras import apply_camera_render_settings


class DUST3R_OT_activate_camera(bpy.types.Operator):
    """Make the active DUSt3R camera the scene camera and use its photo's resolution and pixel aspect"""

    bl_idname = "dust3r.activate_camera"
    bl_label = "Set DUSt3R Camera Active"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return role_of(context.active_object) == Role.CAMERA

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not apply_camera_render_settings(context.scene, context.active_object):
            self.report({"ERROR"}, "The active object is not a DUSt3R camera.")
            return {"CANCELLED"}
        return {"FINISHED"}
