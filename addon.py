"""What every part of the Blender side shares, in one leaf module.

The add-on's package name, its preferences, its user folder, Blender's online-access rule, and the roles
that tag what it builds (``obj["dust3r_role"]``, INTERFACES.md section 3). It imports bpy and nothing of
ours, so ``panels`` and ``operators`` can both use it without depending on each other: the Blender side
runs one way, ``panels -> operators -> core``, with this leaf beside them (``tests/core/test_layout.py``).
"""

from __future__ import annotations

import bpy

# The add-on's root package: "bl_ext.<repository>.dust3r" when installed as an extension.
ADDON_PACKAGE = __package__

ROLE_KEY = "dust3r_role"
# Options of every StringProperty holding a file or folder path (resolved with bpy.path.abspath): Blender 4.5+
# is told that it takes the blend-file-relative "//" prefix (5.0 warns about such a value otherwise); 4.2
# does not know the flag.
PATH_OPTIONS = frozenset({"PATH_SUPPORTS_BLEND_RELATIVE"} if bpy.app.version >= (4, 5, 0) else ())


class Role:
    """Values of ``obj[ROLE_KEY]`` (and of collections) that scripts use to find what the add-on built."""

    RECONSTRUCTION = "reconstruction"  # the collection of one run
    ROOT = "root"  # the empty that parents everything of one run
    POINTS = "points"
    CAMERA = "camera"
    FOOTAGE_CAMERA = "footage_camera"
    SURFACE = "surface"


def role_of(datablock) -> str | None:
    """The DUSt3R role of an object or collection, or None (also for None)."""
    return None if datablock is None else datablock.get(ROLE_KEY)


def preferences(context: bpy.types.Context | None = None):
    """The add-on's ``AddonPreferences``, or None when it was registered without its package entry."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_PACKAGE)
    return None if addon is None else addon.preferences


def user_dir(subdir: str) -> str:
    """The extension's user folder ``subdir`` (created).

    Raises:
        ValueError: the add-on was not loaded as an extension (Blender then has no user folder for it).
    """
    path = bpy.utils.extension_path_user(ADDON_PACKAGE, path=subdir, create=True)
    if not path:
        raise ValueError(f"cannot create the extension's user folder {subdir!r}")
    return path


def online_access_refusal() -> str | None:
    """A user-facing reason when Blender forbids network access, else None."""
    if getattr(bpy.app, "online_access", True):
        return None
    return (
        "Online access is disabled. Enable it in Preferences > System > Network > Allow Online Access "
        "(or start Blender without --offline-mode), then try again."
    )


def tag_redraw(context: bpy.types.Context | None = None, area_types=("VIEW_3D", "PREFERENCES")) -> None:
    """Redraw the areas that show the add-on's state (sidebar, preferences) in every window."""
    wm = (context or bpy.context).window_manager
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in area_types:
                area.tag_redraw()
