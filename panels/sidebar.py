"""The 3D Viewport sidebar tab "DUSt3R". ``draw`` only reads state; it never changes anything."""

from __future__ import annotations

import textwrap

import bpy

from ..addon import Role, preferences, role_of
from ..jobs import tasks
from ..properties.settings import GRAPHS_WITHOUT_WINDOW
from ..scene import viewport
from ..scene.compare import target_camera
from ..scene.geonodes import MODIFIER_NAME
from ..scene.level_scale import picked_points
from ..scene.objects import context_root

ESTIMATE_WRAP = 48  # characters per line of the memory guard's message in the sidebar


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
            layout.operator("dust3r.import_result", text="Import Result (.npz)...", icon="IMPORT")
            if settings.last_summary:
                layout.label(text=settings.last_summary, icon="CHECKMARK")

        col = layout.column(heading="Network")
        col.prop(settings, "image_size")
        col.prop(settings, "scene_graph")
        if settings.scene_graph not in GRAPHS_WITHOUT_WINDOW:
            col.prop(settings, "graph_window")
        col = layout.column(heading="Cameras")
        col.prop(settings, "focal_prior")
        if settings.focal_prior == "mm":
            col.prop(settings, "focal_mm")
        col.prop(settings, "shared_focal")
        col.prop(settings, "refine")
        if settings.refine:
            col.prop(settings, "distortion")
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
        if settings.estimate_problem:
            column = layout.column(align=True)
            column.alert = True
            for k, line in enumerate(textwrap.wrap(settings.estimate_problem, ESTIMATE_WRAP)):
                column.label(text=line, icon="ERROR" if k == 0 else "BLANK1")
        elif settings.estimate_text:
            layout.label(text=settings.estimate_text, icon="MEMORY")

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


def draw_photo_comparison(layout: bpy.types.UILayout, cam_obj: bpy.types.Object, with_steps: bool) -> None:
    """The compare button (with previous/next camera) and the photo's opacity and depth."""
    row = layout.row(align=True)
    if with_steps:
        row.operator("dust3r.compare_photo", text="", icon="TRIA_LEFT").step = -1
    op = row.operator("dust3r.compare_photo", text="Compare with Photo", icon="IMAGE_REFERENCE")
    op.camera = cam_obj.name
    if with_steps:
        row.operator("dust3r.compare_photo", text="", icon="TRIA_RIGHT").step = 1
    photos = [bg for bg in cam_obj.data.background_images if bg.image is not None]
    if not photos:
        layout.label(text="No background photo", icon="ERROR")
        return
    layout.prop(photos[0], "alpha", text="Photo Opacity", slider=True)
    layout.row().prop(photos[0], "display_depth", expand=True)


class DUST3R_PT_view(bpy.types.Panel):
    """How the reconstruction is shown: colours in Solid view, the photo over the points."""

    bl_label = "View"
    bl_idname = "DUST3R_PT_view"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "DUSt3R"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        if viewport.point_colors_shown(context.screen):
            op = layout.operator("dust3r.solid_point_colors", text="Restore Solid Shading", icon="LOOP_BACK")
            op.show = False
        else:
            op = layout.operator(
                "dust3r.solid_point_colors", text="Point Colours in Solid View", icon="COLOR"
            )
            op.show = True
        cam_obj = target_camera(context)
        if cam_obj is None:
            layout.label(text="Select a DUSt3R camera to compare", icon="INFO")
            return
        box = layout.box()
        box.label(text=cam_obj.name, icon="OUTLINER_OB_CAMERA")
        draw_photo_comparison(box, cam_obj, with_steps=True)


class DUST3R_PT_orientation(bpy.types.Panel):
    """Stand the selected reconstruction upright, give it its real size, and export it as it stands."""

    bl_label = "Level, Scale and Export"
    bl_idname = "DUST3R_PT_orientation"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "DUSt3R"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        root = context_root(context)
        if root is None:
            layout.label(text="Select an object of a reconstruction", icon="INFO")
            return
        layout.label(text=root.name, icon="EMPTY_AXIS")
        layout.operator("dust3r.level", icon="ORIENTATION_GLOBAL")
        settings = context.scene.dust3r
        layout.prop(settings, "known_distance")
        op = layout.operator("dust3r.set_scale", text="Scale: Two Selected Cameras", icon="CON_DISTLIMIT")
        op.mode, op.distance = "CAMERAS", settings.known_distance
        picked = picked_points(root)
        row = layout.row(align=True)
        for which in ("A", "B"):
            icon = "CHECKMARK" if which in picked else "CURSOR"
            row.operator("dust3r.pick_scale_point", text=f"Pick {which}", icon=icon).which = which
        col = layout.column()
        col.enabled = picked >= {"A", "B"}
        op = col.operator("dust3r.set_scale", text="Scale: Points A and B", icon="CON_DISTLIMIT")
        op.mode, op.distance = "POINTS", settings.known_distance
        layout.separator()
        layout.operator(
            "dust3r.export_reconstruction", text="Export (COLMAP, nerfstudio, PLY)...", icon="EXPORT"
        )


class DUST3R_PT_camera_photo(bpy.types.Panel):
    """In the camera's properties: compare its photo with the points."""

    bl_label = "DUSt3R Photo"
    bl_idname = "DUST3R_PT_camera_photo"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "data"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return role_of(context.object) == Role.CAMERA

    def draw(self, context: bpy.types.Context) -> None:
        draw_photo_comparison(self.layout, context.object, with_steps=False)


CLASSES = (DUST3R_PT_reconstruct, DUST3R_PT_view, DUST3R_PT_orientation, DUST3R_PT_camera_photo)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
