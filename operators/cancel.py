"""``dust3r.cancel``: stop the running reconstruction (nothing is added to the scene)."""

from __future__ import annotations

import bpy

from ..jobs import tasks


class DUST3R_OT_cancel(bpy.types.Operator):
    """Stop the running DUSt3R reconstruction (nothing is added to the scene)"""

    bl_idname = "dust3r.cancel"
    bl_label = "Cancel Reconstruction"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return tasks.is_running(tasks.RECONSTRUCT)

    def execute(self, context: bpy.types.Context) -> set[str]:
        tasks.cancel(tasks.RECONSTRUCT)
        return {"FINISHED"}
