"""``dust3r.reconstruct_footage``: footage in, one animated camera out (INTERFACES.md section 3).

The source is a video file (``filepath=``), a folder holding an image sequence (``directory=``), or a
MovieClip already in the file (``clip="<name>"``); when none is passed, the sidebar's Footage section says
which. Thin operator, the shape of ``dust3r.reconstruct``: properties -> the core's frozen
``FootageConfig`` -> ``core.jobs.footage.reconstruct_footage`` in a background task (:mod:`~..jobs.footage`:
staged progress "Decoding 12/48", cancel, one undo step, synchronous in scripts and background mode) ->
the footage camera builder (:mod:`~..scene.footage_camera`). The footage is probed on the main thread before the
task starts, so a missing file, a bad range or an unreadable container is reported at once, with nothing
started and the scene untouched.

Image sequences carry no frame rate: they are reconstructed at the scene's rate, which the build keeps.
"""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from ..addon import preferences
from ..jobs.footage import FootageJobRequest, resolve_source
from ..jobs.reconstruct import checkpoint_path
from ..jobs.task_operator import TaskOperator
from ..properties.footage_settings import (
    FOOTAGE_SETTING_NAMES,
    PHOTO_ONLY,
    SENSOR_CUSTOM,
    footage_properties,
    make_footage_config,
)
from ..properties.settings import (
    DEVICE_ITEMS,
    PRECISION_ITEMS,
    SETTING_NAMES,
    build_options,
    make_config,
    settings_properties,
)

# The photo settings the footage operator takes too (network, alignment, clean-up, points).
NETWORK_SETTING_NAMES = tuple(name for name in SETTING_NAMES if name not in PHOTO_ONLY)


class _PhotoSettings:
    """The settings ``settings.make_config`` reads: the operator's, and the scene's for photo-only ones."""

    def __init__(self, operator, scene_settings) -> None:
        self._operator, self._scene = operator, scene_settings

    def __getattr__(self, name: str):
        return getattr(self._scene if name in PHOTO_ONLY else self._operator, name)


_OPERATOR_SETTINGS = {
    name: prop for name, prop in settings_properties({"SKIP_SAVE"}).items() if name not in PHOTO_ONLY
}


class DUST3R_OT_reconstruct_footage(TaskOperator, bpy.types.Operator):
    """Reconstruct one animated camera, its lens and a point cloud from a video, an image sequence or a clip"""

    bl_idname = "dust3r.reconstruct_footage"
    bl_label = "Reconstruct from Footage"
    bl_options = {"REGISTER", "UNDO"}

    __annotations__ = {
        **_OPERATOR_SETTINGS,
        **footage_properties({"SKIP_SAVE"}),
        "filepath": StringProperty(name="Video", subtype="FILE_PATH", options={"SKIP_SAVE"}),
        "directory": StringProperty(name="Image Sequence", subtype="DIR_PATH", options={"SKIP_SAVE"}),
        "clip": StringProperty(
            name="Movie Clip", description="A MovieClip of this file", options={"SKIP_SAVE"}
        ),
        "checkpoint": StringProperty(
            name="Checkpoint",
            description="Overrides the add-on preference",
            subtype="FILE_PATH",
            options={"SKIP_SAVE"},
        ),
        "device": EnumProperty(
            name="Device",
            description="Overrides the add-on preference",
            items=DEVICE_ITEMS,
            default="auto",
            options={"SKIP_SAVE"},
        ),
        "precision": EnumProperty(
            name="Precision",
            description="Overrides the add-on preference",
            items=PRECISION_ITEMS,
            default="auto",
            options={"SKIP_SAVE"},
        ),
    }

    def _take_scene_settings(self, settings, passed: set[str]) -> None:
        """Copy what the caller did not pass from ``scene.dust3r`` (and its ``footage``); a value that
        only makes sense with a switch (a focal, a sensor width, a range) turns that switch on."""
        implied = {"use_focal": "focal_mm" in passed, "use_range": bool({"start", "end"} & passed)}
        for name in NETWORK_SETTING_NAMES:
            if name not in passed:
                setattr(self, name, getattr(settings, name))
        for name in FOOTAGE_SETTING_NAMES:
            if name in passed:
                continue
            if name == "sensor" and "sensor_width" in passed:
                self.sensor = SENSOR_CUSTOM
            elif implied.get(name):
                setattr(self, name, True)
            else:
                setattr(self, name, getattr(settings.footage, name))

    def make_request(self, context: bpy.types.Context) -> FootageJobRequest:
        """Resolve the footage, settings and checkpoint; raises the core's Dust3rError on user mistakes."""
        settings = context.scene.dust3r
        names = (*NETWORK_SETTING_NAMES, *FOOTAGE_SETTING_NAMES)
        passed = {name for name in names if self.properties.is_property_set(name)}
        self._take_scene_settings(settings, passed)
        prefs = preferences(context)
        for name in ("device", "precision"):
            if not self.properties.is_property_set(name) and prefs is not None:
                setattr(self, name, getattr(prefs, name))
        checkpoint = checkpoint_path(self.checkpoint, prefs)
        source = resolve_source(self.filepath, self.directory, self.clip, settings.footage)
        if (
            passed & {"start", "end"} and "use_range" not in passed
        ):  # one bound given: the other is the shot's
            self.start = self.start if "start" in passed else source.first_frame
            self.end = self.end if "end" in passed else source.last_frame
        render = context.scene.render
        scene_fps = render.fps / render.fps_base
        base = make_config(_PhotoSettings(self, settings), self.device, self.precision)
        config = make_footage_config(self, base, fps=None if source.kind == "video" else scene_fps)
        return FootageJobRequest(
            source=source,
            checkpoint=checkpoint,
            config=config,
            build=build_options(_PhotoSettings(self, settings)),
            scene_name=context.scene.name,
        )

    def draw(self, context: bpy.types.Context) -> None:
        # As for photos: "Adjust Last Operation" would re-run the whole reconstruction for any tweak.
        self.layout.label(text="Change settings in the sidebar's DUSt3R tab and run again.", icon="INFO")
