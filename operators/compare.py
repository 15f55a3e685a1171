"""``dust3r.compare_photo``: look through a DUSt3R camera with its photo over the points, to judge the match.

One click: the camera becomes the scene camera with its photo's render resolution and pixel aspect, every
3D Viewport of the window looks through it, and its background photo is drawn IN FRONT of the points at
half opacity (the opacity is the background image's own ``alpha``, a slider in the sidebar and the camera's
properties; "Behind" puts the photo back behind the points). ``step=1`` / ``step=-1`` moves to the next or
previous camera of the same reconstruction. Viewport overlays are not rendered: F12 renders the points only.
"""

from __future__ import annotations

import bpy
from bpy.props import FloatProperty, IntProperty, StringProperty

from ..scene.cameras import apply_camera_render_settings
from ..scene.compare import DEFAULT_OPACITY, look_through, neighbour_camera, photo_in_front, target_camera


class DUST3R_OT_compare_photo(bpy.types.Operator):
    """Look through a DUSt3R camera (its photo's resolution) with the photo half transparent over the points"""

    bl_idname = "dust3r.compare_photo"
    bl_label = "Compare with Photo"
    bl_options = {"REGISTER", "UNDO"}

    camera: StringProperty(
        name="Camera",
        description="The DUSt3R camera to look through (default: the active object, else the scene camera)",
        options={"SKIP_SAVE"},
    )
    step: IntProperty(
        name="Step",
        description="Look through the camera this many places further in the reconstruction (-1: previous)",
        default=0,
        options={"SKIP_SAVE"},
    )
    opacity: FloatProperty(
        name="Photo Opacity",
        description="Opacity of the photo drawn over the points",
        default=DEFAULT_OPACITY,
        min=0.0,
        max=1.0,
        subtype="FACTOR",
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return target_camera(context) is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        cam_obj = target_camera(context, self.camera)
        if cam_obj is None:
            self.report({"ERROR"}, f"'{self.camera}' is not a DUSt3R camera.")
            return {"CANCELLED"}
        if self.step:
            cam_obj = neighbour_camera(cam_obj, self.step)
        apply_camera_render_settings(context.scene, cam_obj)
        for obj in context.selected_objects:
            obj.select_set(False)
        cam_obj.select_set(True)
        context.view_layer.objects.active = cam_obj
        has_photo = photo_in_front(cam_obj, self.opacity)
        look_through(context, cam_obj)
        if has_photo:
            self.report(
                {"INFO"},
                f"Looking through '{cam_obj.name}': its photo at {self.opacity:.0%} over the points "
                "(opacity in the DUSt3R panel).",
            )
        else:
            self.report({"WARNING"}, f"'{cam_obj.name}' has no background photo to compare with.")
        return {"FINISHED"}
