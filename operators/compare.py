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

from ..addon import Role, role_of
from .cameras import apply_camera_render_settings
from .reconstruction_objects import camera_objects, find_root

DEFAULT_OPACITY = 0.5


def target_camera(context: bpy.types.Context, name: str = "") -> bpy.types.Object | None:
    """The DUSt3R camera named ``name``, else the active object if it is one, else the scene camera."""
    if name:
        obj = bpy.data.objects.get(name)
        return obj if role_of(obj) == Role.CAMERA else None
    for obj in (context.active_object, context.scene.camera):
        if role_of(obj) == Role.CAMERA:
            return obj
    return None


def neighbour_camera(cam_obj: bpy.types.Object, step: int) -> bpy.types.Object:
    """The camera ``step`` places after ``cam_obj`` in its reconstruction's view order (wrapping around)."""
    root = find_root(cam_obj)
    siblings = camera_objects(root) if root is not None else [cam_obj]
    if cam_obj not in siblings:
        return cam_obj
    return siblings[(siblings.index(cam_obj) + step) % len(siblings)]


def photo_in_front(cam_obj: bpy.types.Object, opacity: float) -> bool:
    """Draw the camera's photo in front of the scene at ``opacity``; False when it has no photo."""
    cam = cam_obj.data
    images = [bg for bg in cam.background_images if bg.image is not None]
    for bg in images:
        bg.display_depth = "FRONT"
        bg.alpha = opacity
        bg.show_background_image = True
    cam.show_background_images = bool(images) or cam.show_background_images
    return bool(images)


def look_through(context: bpy.types.Context, cam_obj: bpy.types.Object) -> int:
    """Every 3D Viewport of the window's screen looks through the scene camera; returns how many."""
    screen = context.screen or (context.window.screen if context.window else None)
    count = 0
    for area in screen.areas if screen is not None else ():
        for space in area.spaces:
            if space.type == "VIEW_3D" and space.region_3d is not None:
                space.use_local_camera = False
                space.region_3d.view_perspective = "CAMERA"
                count += 1
        if area.type == "VIEW_3D":
            area.tag_redraw()
    return count


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
