"""The sidebar's "Footage" section (DUSt3R tab): a plate in, one animated camera out. ``draw`` only reads."""

from __future__ import annotations

import bpy

from ..jobs import tasks
from ..properties.footage_settings import SENSOR_CUSTOM, SENSOR_UNKNOWN

SOURCE_FIELDS = {"FILE": "filepath", "FOLDER": "directory"}


class DUST3R_PT_footage(bpy.types.Panel):
    """The footage to reconstruct (a video, an image sequence or a movie clip), its frames and its lens."""

    bl_label = "Footage"
    bl_idname = "DUST3R_PT_footage"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "DUSt3R"
    bl_parent_id = "DUST3R_PT_reconstruct"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        footage = context.scene.dust3r.footage
        layout.row().prop(footage, "source", expand=True)
        if footage.source in SOURCE_FIELDS:
            layout.prop(footage, SOURCE_FIELDS[footage.source])
        else:
            layout.prop_search(footage, "clip", bpy.data, "movieclips", icon="TRACKER")
        if footage.info_error:
            layout.label(text=footage.info_error, icon="ERROR")
        elif footage.info_summary:
            layout.label(text=footage.info_summary, icon="FILE_MOVIE")

        col = layout.column(heading="Frames")
        col.prop(footage, "every")
        col.prop(footage, "max_frames")
        col.prop(footage, "fill")
        col.prop(footage, "use_range")
        row = col.row(align=True)
        row.enabled = footage.use_range
        row.prop(footage, "start")
        row.prop(footage, "end")

        self._draw_lens(layout, footage)
        if tasks.is_running(tasks.RECONSTRUCT):
            layout.label(text="A reconstruction is running (progress above)", icon="SORTTIME")
            return
        row = layout.row()
        row.scale_y = 1.4
        row.operator("dust3r.reconstruct_footage", text="Reconstruct Footage", icon="PLAY")

    @staticmethod
    def _draw_lens(layout: bpy.types.UILayout, footage) -> None:
        """Sensor (Blender's camera presets), its width, and the focal when it is known."""
        col = layout.column(heading="Lens")
        col.prop(footage, "sensor")
        if footage.sensor == SENSOR_UNKNOWN:
            col.label(text="Film back unknown: 36 mm is assumed", icon="INFO")
        else:
            sub = col.row()
            sub.active = footage.sensor == SENSOR_CUSTOM  # a preset's width: typing it makes it Custom
            sub.prop(footage, "sensor_width")
        col.prop(footage, "use_focal")
        if footage.use_focal:
            col.prop(footage, "focal_mm")


CLASSES = (DUST3R_PT_footage,)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
