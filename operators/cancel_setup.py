"""``dust3r.cancel_setup``: stop the running PyTorch installation or checkpoint download."""

from __future__ import annotations

import bpy

from ..jobs import tasks


class DUST3R_OT_cancel_setup(bpy.types.Operator):
    """Stop the running PyTorch installation or checkpoint download (a download resumes next time)"""

    bl_idname = "dust3r.cancel_setup"
    bl_label = "Cancel"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return tasks.is_running(tasks.SETUP)

    def execute(self, context: bpy.types.Context) -> set[str]:
        tasks.cancel(tasks.SETUP)
        return {"FINISHED"}
