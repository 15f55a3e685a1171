"""The add-on's settings: one PropertyGroup behind ``scene.dust3r``.

:func:`settings_properties` defines the reconstruction settings once; the scene's PropertyGroup and the
``dust3r.reconstruct`` operator both get them (through two small mixins), so the sidebar and scripts share
one definition and the operator takes its defaults from the scene (see ``operators/reconstruct.py``).
Never imports the core.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

IMAGE_SIZE_ITEMS = (
    ("512", "512", "Long side to 512 pixels (the official 512 checkpoints)"),
    ("224", "224", "Short side to 224 pixels, square crop (the 224 checkpoint)"),
)
SCENE_GRAPH_ITEMS = (
    ("complete", "Complete", "Every pair of photos: best quality, N*(N-1) pairs"),
    ("swin", "Sliding Window", "Each photo with its K neighbours in file order (videos, turntables)"),
    ("logwin", "Log Window", "Neighbours at distances 1, 2, 4, ... up to 2^(K-1) in file order"),
    ("oneref", "One Reference", "Every photo paired with one reference photo"),
)
FOCAL_PRIOR_ITEMS = (
    ("none", "Estimate", "Estimate each photo's focal length"),
    ("exif", "From EXIF", "Use the 35 mm-equivalent focal length stored in the photos where present"),
    ("mm", "Fixed", "Use one known 35 mm-equivalent focal length for all photos"),
)
ALIGN_METHOD_ITEMS = (
    ("fast", "Fast", "Our fast global alignment"),
    ("paper", "Paper", "The paper's Adam optimisation (slower; the reference)"),
)
DEVICE_ITEMS = (
    ("auto", "Automatic", "CUDA, then Apple Metal, then CPU"),
    ("cpu", "CPU", "Run on the CPU"),
    ("cuda", "CUDA", "Run on an NVIDIA GPU"),
    ("mps", "Apple Metal", "Run on an Apple GPU"),
)


def settings_properties(options: set[str]) -> dict[str, object]:
    """The reconstruction settings as Blender property definitions, each with ``options``."""
    return {
        "image_size": EnumProperty(name="Image Size", items=IMAGE_SIZE_ITEMS, default="512", options=options),
        "scene_graph": EnumProperty(
            name="Pairs", items=SCENE_GRAPH_ITEMS, default="complete", options=options
        ),
        "graph_window": IntProperty(
            name="Window",
            description="K of the sliding/log window, R of one-reference",
            default=3,
            min=0,
            options=options,
        ),
        "focal_prior": EnumProperty(
            name="Focal Length", items=FOCAL_PRIOR_ITEMS, default="none", options=options
        ),
        "focal_mm": FloatProperty(
            name="Focal (35 mm)",
            description="35 mm-equivalent focal length",
            default=35.0,
            min=1.0,
            max=2000.0,
            options=options,
        ),
        "shared_focal": BoolProperty(
            name="Same Camera",
            description="All photos were taken with one camera and zoom",
            default=False,
            options=options,
        ),
        "align_method": EnumProperty(
            name="Alignment", items=ALIGN_METHOD_ITEMS, default="fast", options=options
        ),
        "niter": IntProperty(
            name="Iterations",
            description="Iterations of the paper's alignment",
            default=300,
            min=0,
            max=10000,
            options=options,
        ),
        "min_conf": FloatProperty(
            name="Min Confidence",
            description="Pixels at or below this confidence are ignored by the alignment",
            default=3.0,
            min=0.0,
            options=options,
        ),
        "clean_depth": BoolProperty(
            name="Clean Up",
            description="Drop points that other views see as occluded",
            default=True,
            options=options,
        ),
        "surfaces": BoolProperty(
            name="Per-View Surfaces",
            description="Also build one mesh per photo, textured with the photo (confident pixels only)",
            default=False,
            options=options,
        ),
        "conf_threshold": FloatProperty(
            name="Confidence Threshold",
            description="Initial threshold of the point cloud (editable later on its modifier)",
            default=3.0,
            min=0.0,
            options=options,
        ),
        "point_radius": FloatProperty(
            name="Point Radius",
            description="Initial radius of the rendered points",
            default=0.005,
            min=0.0,
            options=options,
        ),
    }


# The settings that the operator copies from scene.dust3r when a caller does not pass them.
SETTING_NAMES = tuple(settings_properties(set()))


class ReconstructSettings:
    """Mixin: the reconstruction settings of ``scene.dust3r``."""

    __annotations__ = settings_properties(set())


class ReconstructOperatorSettings:
    """Mixin: the same settings on the operator, never remembered between calls (``SKIP_SAVE``), so that
    a value the caller did not pass is taken from ``scene.dust3r`` rather than from the previous call."""

    __annotations__ = settings_properties({"SKIP_SAVE"})


def _photo_folder_changed(settings, context) -> None:
    """Count the photos of the new folder once, so that the sidebar's draw() only reads the result."""
    from ..operators.photos import count_photos

    folder = bpy.path.abspath(settings.photo_folder) if settings.photo_folder else ""
    settings.photo_count, settings.photo_skipped = count_photos(folder) if folder else (0, 0)


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


def register() -> None:
    bpy.utils.register_class(DUST3R_PG_settings)
    bpy.types.Scene.dust3r = bpy.props.PointerProperty(type=DUST3R_PG_settings)


def unregister() -> None:
    del bpy.types.Scene.dust3r
    bpy.utils.unregister_class(DUST3R_PG_settings)
