"""Finding the parts of one built reconstruction from any of its objects (roles of INTERFACES.md section 3)."""

from __future__ import annotations

import bpy

from ..addon import Role, role_of


def find_root(obj: bpy.types.Object | None) -> bpy.types.Object | None:
    """The parent empty (role ``root``) of the reconstruction ``obj`` belongs to, or None."""
    while obj is not None:
        if role_of(obj) == Role.ROOT:
            return obj
        obj = obj.parent
    return None


def context_root(context: bpy.types.Context) -> bpy.types.Object | None:
    """The reconstruction the artist works on: the active object's, else the scene camera's."""
    return find_root(context.active_object) or find_root(context.scene.camera)


def children_with_role(root: bpy.types.Object, role: str) -> list[bpy.types.Object]:
    """``root``'s descendants with ``role``, cameras and surfaces in view order."""
    found = [obj for obj in root.children_recursive if role_of(obj) == role]
    return sorted(found, key=lambda obj: (int(obj.get("dust3r_index", 0)), obj.name))


def points_object(root: bpy.types.Object) -> bpy.types.Object | None:
    found = children_with_role(root, Role.POINTS)
    return found[0] if found else None


def camera_objects(root: bpy.types.Object) -> list[bpy.types.Object]:
    return children_with_role(root, Role.CAMERA)
