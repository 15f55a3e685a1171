"""Solid view that shows the point colours: the one viewport change the add-on makes, and how it is undone.

Blender's default Solid shading colours objects by their material's viewport colour (one colour per
material), so a coloured point cloud looks grey. Showing its colours needs the shading's Color set to
"Attribute" (``color_type = 'VERTEX'``), and Flat lighting so that the colours are the photo's, not shaded.
After a build the add-on makes that change in every 3D Viewport (and says so in its report), and records
each viewport's previous settings on its screen (``screen["dust3r_solid_shading"]``, saved with the file),
so that :func:`restore_solid_shading` (the sidebar's "Restore Solid Shading") puts them back exactly.
"""

from __future__ import annotations

import bpy

COLOR_TYPE = "VERTEX"  # the UI's "Attribute"
LIGHT = "FLAT"
RECORD_KEY = "dust3r_solid_shading"
SHOWN_MESSAGE = (
    "Solid view now shows the point colours: Viewport Shading > Color 'Attribute', Lighting 'Flat'. "
    "'Restore Solid Shading' in the DUSt3R panel puts your settings back."
)


def _view3d_shadings(screen: bpy.types.Screen):
    """``(area index, View3DShading)`` of every 3D Viewport of ``screen``."""
    for index, area in enumerate(screen.areas):
        for space in area.spaces:
            if space.type == "VIEW_3D":
                yield index, space.shading


def show_point_colors(screens=None) -> int:
    """Set Solid view to show the colour attribute, flat, in every 3D Viewport of ``screens`` (default: all
    screens of the file); returns how many viewports changed. A viewport's first settings are kept."""
    changed = 0
    for screen in bpy.data.screens if screens is None else screens:
        record = dict(screen.get(RECORD_KEY, {}))
        for index, shading in _view3d_shadings(screen):
            if (shading.color_type, shading.light) == (COLOR_TYPE, LIGHT):
                continue
            record.setdefault(str(index), [shading.color_type, shading.light])
            shading.color_type = COLOR_TYPE
            shading.light = LIGHT
            changed += 1
        if record:
            screen[RECORD_KEY] = record
    return changed


def restore_solid_shading(screens=None) -> int:
    """Put back what :func:`show_point_colors` changed; returns how many viewports were restored."""
    restored = 0
    for screen in bpy.data.screens if screens is None else screens:
        record = screen.get(RECORD_KEY)
        if record is None:
            continue
        for index, shading in _view3d_shadings(screen):
            previous = record.get(str(index))
            if previous is not None:
                shading.color_type, shading.light = (str(v) for v in previous)
                restored += 1
        del screen[RECORD_KEY]
    return restored


def point_colors_shown(screen: bpy.types.Screen | None) -> bool:
    """Whether ``screen``'s 3D Viewports show the point colours in Solid view (all of them, and at least one)."""
    if screen is None:
        return False
    states = [(s.color_type, s.light) == (COLOR_TYPE, LIGHT) for _index, s in _view3d_shadings(screen)]
    return bool(states) and all(states)


def after_build() -> list[tuple[str, str]]:
    """What a build operator does last: show the colours in Solid view; the report line when it changed
    something (nothing to say when the viewports already show them)."""
    return [("INFO", SHOWN_MESSAGE)] if show_point_colors() else []
