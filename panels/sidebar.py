"""The 3D Viewport sidebar tab "DUSt3R". ``draw`` only reads state; it never changes anything."""

from __future__ import annotations

import bpy

from ..addon import Role, preferences, role_of
from ..operators import tasks
from ..operators.geonodes import MODIFIER_NAME


class DUST3R_PT_reconstruct(bpy.types.Panel):
    bl_label = "DUSt3R"
    bl_idname = "DUST3R_PT_reconstruct"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "DUSt3R"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.dust3r
        prefs = preferences(context)

        layout.prop(settings, "photo_folder")
        if settings.photo_folder:
            self._draw_photo_count(layout, settings)
        if prefs is not None:
            layout.prop(prefs, "checkpoint")

        status = tasks.status_snapshot(tasks.RECONSTRUCT)
        if status is not None:
            box = layout.box()
            box.progress(
                factor=status.fraction, type="BAR", text=f"{status.stage} ({status.elapsed_s:.0f} s)"
            )
            box.operator("dust3r.cancel", text="Cancel", icon="CANCEL")
        else:
            row = layout.row()
            row.scale_y = 1.6
            row.operator("dust3r.reconstruct", text="Reconstruct from images", icon="PLAY")
            if settings.last_summary:
                layout.label(text=settings.last_summary, icon="CHECKMARK")

        col = layout.column(heading="Network")
        col.prop(settings, "image_size")
        col.prop(settings, "scene_graph")
        if settings.scene_graph != "complete":
            col.prop(settings, "graph_window")
        col = layout.column(heading="Cameras")
        col.prop(settings, "focal_prior")
        if settings.focal_prior == "mm":
            col.prop(settings, "focal_mm")
        col.prop(settings, "shared_focal")
        col = layout.column(heading="Alignment")
        col.prop(settings, "align_method")
        if settings.align_method == "paper":
            col.prop(settings, "niter")
        col.prop(settings, "min_conf")
        col.prop(settings, "clean_depth")
        col = layout.column(heading="Points")
        col.prop(settings, "conf_threshold")
        col.prop(settings, "point_radius")
        col.prop(settings, "surfaces")

        self._draw_active_points(layout, context.active_object)

    @staticmethod
    def _draw_photo_count(layout: bpy.types.UILayout, settings) -> None:
        """How many photos the folder holds (counted when it was chosen), with a warning for other files."""
        if settings.photo_count < 0:
            layout.label(text="Pillow is missing: reinstall the extension", icon="ERROR")
        elif settings.photo_count == 0:
            layout.label(text="No photos in this folder", icon="ERROR")
        else:
            layout.label(text=f"{settings.photo_count} photos", icon="IMAGE_DATA")
        if settings.photo_skipped:
            layout.label(text=f"{settings.photo_skipped} unsupported files will be skipped", icon="ERROR")

    @staticmethod
    def _draw_active_points(layout: bpy.types.UILayout, obj: bpy.types.Object | None) -> None:
        """The active point cloud's live filter (its Geometry Nodes modifier inputs), or camera switching."""
        if role_of(obj) == Role.CAMERA:
            layout.operator("dust3r.activate_camera", icon="OUTLINER_OB_CAMERA")
            return
        if role_of(obj) != Role.POINTS:
            return
        mod = obj.modifiers.get(MODIFIER_NAME)
        if mod is None or mod.node_group is None:
            return
        box = layout.box()
        box.label(text=obj.name, icon="POINTCLOUD_DATA")
        for item in mod.node_group.interface.items_tree:
            if (
                item.item_type == "SOCKET"
                and item.in_out == "INPUT"
                and item.socket_type == "NodeSocketFloat"
            ):
                box.prop(mod, f'["{item.identifier}"]', text=item.name)


CLASSES = (DUST3R_PT_reconstruct,)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
