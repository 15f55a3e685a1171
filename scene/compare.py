"""Looking through a DUSt3R camera: which camera, its neighbours in view order, its photo drawn in front."""

from __future__ import annotations

import bpy

from ..addon import Role, role_of
from .objects import camera_objects, find_root

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
