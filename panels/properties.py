"""The add-on's scene settings: one PropertyGroup behind ``scene.dust3r``.

The reconstruction settings themselves are defined once in ``properties.settings`` (the operator takes the
same definitions); this group adds what only the sidebar needs (the photo folder and what was found in it,
the summary of the last run). Update callbacks go through ``operators``; nothing here imports the core.
"""

from __future__ import annotations

import bpy
from bpy.props import FloatProperty, IntProperty, PointerProperty, StringProperty

from ..jobs.estimate import refresh_estimate, show_estimate
from ..jobs.photos import folder_photos
from ..properties.settings import settings_properties
from .footage_properties import DUST3R_PG_footage


def _photo_folder_changed(settings, context) -> None:
    """Count the photos of the new folder once, and estimate the run, so that the sidebar's draw() only
    reads the results."""
    folder = bpy.path.abspath(settings.photo_folder) if settings.photo_folder else ""
    photos, settings.photo_skipped = folder_photos(folder) if folder else ([], 0)
    settings.photo_count = -1 if photos is None else len(photos)  # -1: Pillow is missing
    show_estimate(settings, context, photos)


class ReconstructSettings:
    """Mixin: the reconstruction settings (``properties.settings``); those that change the run's size
    re-estimate it.

    The definitions are attached only while the group registers (:func:`register`): a class that keeps
    property definitions holding Python callbacks crashes bpy 4.2 when the interpreter exits (the
    ``update=`` of the estimate settings; class-body annotations are strings here and are not kept).
    """

    __annotations__: dict = {}


class DUST3R_PG_settings(ReconstructSettings, bpy.types.PropertyGroup):
    """``scene.dust3r``: what the sidebar shows."""

    photo_folder: StringProperty(
        name="Photos",
        description="Folder of photos to reconstruct",
        subtype="DIR_PATH",
        default="",
        update=_photo_folder_changed,
    )
    # Read-only state for the sidebar: written by the folder's update callback and by a finished run.
    photo_count: IntProperty(name="Photos Found", default=0, options={"HIDDEN"})
    photo_skipped: IntProperty(name="Files Skipped", default=0, options={"HIDDEN"})
    last_summary: StringProperty(name="Last Run", default="", options={"HIDDEN"})
    estimate_text: StringProperty(name="Estimate", default="", options={"HIDDEN"})
    estimate_problem: StringProperty(name="Estimate Problem", default="", options={"HIDDEN"})
    known_distance: FloatProperty(
        name="Known Distance",
        description="The real distance between two cameras or two picked points, for 'Set Scale'",
        default=1.0,
        min=0.0,
        subtype="DISTANCE",
        unit="LENGTH",
    )
    footage: PointerProperty(type=DUST3R_PG_footage)


def register() -> None:
    bpy.utils.register_class(DUST3R_PG_footage)
    ReconstructSettings.__annotations__ = settings_properties(set(), estimate_changed=refresh_estimate)
    try:
        bpy.utils.register_class(DUST3R_PG_settings)
    finally:
        ReconstructSettings.__annotations__ = {}
    bpy.types.Scene.dust3r = bpy.props.PointerProperty(type=DUST3R_PG_settings)


def unregister() -> None:
    del bpy.types.Scene.dust3r
    bpy.utils.unregister_class(DUST3R_PG_settings)
    bpy.utils.unregister_class(DUST3R_PG_footage)
