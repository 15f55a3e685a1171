"""``dust3r.solid_point_colors``: show the point colours in Solid view, or put the artist's shading back."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty

from ..scene import viewport


class DUST3R_OT_solid_point_colors(bpy.types.Operator):
    """Solid view: show the point colours (Color 'Attribute', Lighting 'Flat'), or restore your shading"""

    bl_idname = "dust3r.solid_point_colors"
    bl_label = "Point Colours in Solid View"
    bl_options = {"REGISTER"}  # viewport shading is not part of the file's undo history

    show: BoolProperty(
        name="Show",
        description="Show the point colours (on) or restore the shading they replaced (off)",
        default=True,
        options={"SKIP_SAVE"},
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self.show:
            changed = viewport.show_point_colors()
            self.report({"INFO"}, viewport.SHOWN_MESSAGE if changed else "Solid view already shows them.")
        else:
            restored = viewport.restore_solid_shading()
            self.report({"INFO"}, f"Solid shading restored in {restored} 3D Viewports.")
        return {"FINISHED"}
