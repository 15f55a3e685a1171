"""``scene.dust3r.footage``: the sidebar's Footage section (a PropertyGroup nested in ``scene.dust3r``).

The frame selection and lens settings are defined once in ``properties.footage_settings`` (the
``dust3r.reconstruct_footage`` operator takes the same definitions); this group adds the source (a file, a
folder, a movie clip) and what was found there, probed once by an update callback so that ``draw()`` only
reads it. Nothing here imports the core.
"""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, IntProperty, StringProperty

from ..properties.footage_settings import (
    SOURCE_ITEMS,
    chosen_footage_path,
    describe_footage,
    footage_property,
)


def _source_changed(settings, context) -> None:
    """Probe the chosen footage (no decoding) and keep the summary; an unset range follows the shot."""
    render = context.scene.render if context and context.scene else None
    fps = render.fps / render.fps_base if render is not None else None
    found = describe_footage(chosen_footage_path(settings), fps)
    settings.info_summary, settings.info_error = found.text, found.error
    settings.info_first, settings.info_last = found.first_frame, found.last_frame
    if found.text and not settings.use_range:
        settings.start, settings.end = found.first_frame, found.last_frame


class DUST3R_PG_footage(bpy.types.PropertyGroup):
    """``scene.dust3r.footage``: the footage to reconstruct and how."""

    # The footage settings of properties.footage_settings. Written in the class body on purpose: with
    # postponed annotations Blender evaluates them when it registers the class, so the class keeps no
    # property definition of its own; a class that keeps one whose callback (update=, enum items=) Blender
    # has registered crashes Blender when Python exits (bpy 4.2).
    every: footage_property("every")
    max_frames: footage_property("max_frames")
    use_range: footage_property("use_range")
    start: footage_property("start")
    end: footage_property("end")
    fill: footage_property("fill")
    use_focal: footage_property("use_focal")
    focal_mm: footage_property("focal_mm")
    sensor: footage_property("sensor")
    sensor_width: footage_property("sensor_width")

    source: EnumProperty(name="Source", items=SOURCE_ITEMS, default="FILE", update=_source_changed)
    filepath: StringProperty(
        name="Video",
        description="A video file, or one frame of an image sequence",
        subtype="FILE_PATH",
        update=_source_changed,
    )
    directory: StringProperty(
        name="Sequence",
        description="A folder holding one numbered image sequence",
        subtype="DIR_PATH",
        update=_source_changed,
    )
    clip: StringProperty(name="Clip", description="A movie clip of this file", update=_source_changed)
    # Read-only state for the sidebar, written by _source_changed.
    info_summary: StringProperty(name="Footage", default="", options={"HIDDEN"})
    info_error: StringProperty(name="Footage Problem", default="", options={"HIDDEN"})
    info_first: IntProperty(name="First Frame", default=0, options={"HIDDEN"})
    info_last: IntProperty(name="Last Frame", default=0, options={"HIDDEN"})
