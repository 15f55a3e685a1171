"""``dust3r.reconstruct_footage``: footage in, one animated camera out (INTERFACES.md section 3).

The source is a video file (``filepath=``), a folder holding an image sequence (``directory=``), or a
MovieClip already in the file (``clip="<name>"``); when none is passed, the sidebar's Footage section says
which. Thin operator, the shape of ``dust3r.reconstruct``: properties -> the core's frozen
``FootageConfig`` -> ``core.footage.reconstruct_footage`` in a background task (:mod:`.task_operator`:
staged progress "Decoding 12/48", cancel, one undo step, synchronous in scripts and background mode) ->
the footage camera builder (:mod:`.footage_camera`). The footage is probed on the main thread before the
task starts, so a missing file, a bad range or an unreadable container is reported at once, with nothing
started and the scene untouched.

Image sequences carry no frame rate: they are reconstructed at the scene's rate, which the build keeps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

from ..addon import preferences
from . import tasks, viewport
from .build_options import BuildOptions
from .footage_build import FootageBuild, status_lines
from .footage_settings import (
    FOOTAGE_SETTING_NAMES,
    PHOTO_ONLY,
    SENSOR_CUSTOM,
    footage_properties,
    make_footage_config,
)
from .reconstruct import checkpoint_path, run_pipeline
from .scene_builder import build_reconstruction
from .settings import (
    DEVICE_ITEMS,
    PRECISION_ITEMS,
    SETTING_NAMES,
    build_options,
    make_config,
    settings_properties,
)
from .task_operator import PollOutcome, TaskOperator, TaskRequest

log = logging.getLogger(__name__)

# The photo settings the footage operator takes too (network, alignment, clean-up, points).
NETWORK_SETTING_NAMES = tuple(name for name in SETTING_NAMES if name not in PHOTO_ONLY)
SENSOR_NOTE_PREFIX = "film back unknown"  # the core's note, replaced by the Blender one below
SENSOR_ASSUMED = (
    "Sensor width unknown: 36 mm assumed, so the focal in mm is on a 36 mm film back. Choose the camera in "
    "DUSt3R > Footage > Sensor (or type its width) and run again for the real lens."
)


@dataclass(frozen=True)
class FootageSource:
    """What the core reads (``path``) and how the build shows it (``clip_name``: the artist's clip)."""

    path: str
    kind: str  # video | sequence
    first_frame: int
    last_frame: int
    clip_name: str | None = None


@dataclass(frozen=True)
class FootageJobRequest(TaskRequest):
    """A footage reconstruction: everything resolved on the main thread before it starts."""

    source: FootageSource
    checkpoint: str
    config: object  # core.config.FootageConfig
    build: BuildOptions
    scene_name: str

    label = "reconstruct_footage"

    def work(self, progress, cancel, _log_line):
        def reconstruct(*args, **kwargs):
            from ..core import footage  # imports torch lazily: an ImportError is explained

            return footage.reconstruct_footage(*args, **kwargs)

        return run_pipeline(
            reconstruct, self.source.path, self.checkpoint, self.config, progress=progress, cancel=cancel
        )

    def finish(self, context: bpy.types.Context, status: tasks.TaskStatus) -> PollOutcome:
        scene = bpy.data.scenes.get(self.scene_name) or context.scene
        result = status.result
        footage = FootageBuild.from_result(
            result, clip_name=self.source.clip_name, keep_scene_rate=self.source.kind != "video"
        )
        recon = result.reconstruction
        report = build_reconstruction(scene, recon, self.build, footage)
        notes = [m for m in (*recon.warnings, *footage.messages) if not m.startswith(SENSOR_NOTE_PREFIX)]
        if footage.sensor_width_assumed:
            notes.insert(0, SENSOR_ASSUMED)
        messages = [("WARNING", text) for text in (*notes, *report.warnings)]
        messages += [("INFO", text) for text in status_lines(footage, recon.frame_numbers, recon)]
        messages += viewport.after_build()
        scene.dust3r.last_summary = (
            f"{recon.num_views} frames, {report.num_points:,} points, {status.elapsed_s:.1f} s"
        )
        messages.append(
            (
                "INFO",
                f"DUSt3R: an animated camera on {recon.num_views} frames ({result.summary()}), lens "
                f"{footage.focal_mm:.1f} mm on {footage.sensor_width_mm:g} mm, {report.num_points:,} points "
                f"in '{report.collection.name}' ({status.elapsed_s:.1f} s)",
            )
        )
        return PollOutcome(done=True, finished_ok=True, messages=messages, report=report)


def resolve_source(filepath: str, directory: str, clip: str, footage_settings) -> FootageSource:
    """The footage of one run: the one of ``filepath`` / ``directory`` / ``clip`` given, else the sidebar's.

    Probes it (no decoding) so that a user mistake is reported before anything starts.

    Raises:
        ConfigError: more than one source, or none; FootageError / DependencyError from the probe.
    """
    from ..core.errors import ConfigError
    from ..core.footage import read_footage_info

    given = [
        name for name, value in (("filepath", filepath), ("directory", directory), ("clip", clip)) if value
    ]
    if len(given) > 1:
        raise ConfigError(f"Give one footage source, not {' and '.join(given)}.")
    if not given:
        kind = footage_settings.source
        filepath = footage_settings.filepath if kind == "FILE" else ""
        directory = footage_settings.directory if kind == "FOLDER" else ""
        clip = footage_settings.clip if kind == "CLIP" else ""
    clip_name = None
    if clip:
        movie = bpy.data.movieclips.get(clip)
        if movie is None:
            raise ConfigError(f"There is no movie clip named '{clip}' in this file. Choose a loaded clip.")
        path, clip_name = bpy.path.abspath(movie.filepath, library=movie.library), movie.name
        if not Path(path).exists():
            raise ConfigError(f"The file of movie clip '{clip}' is not found: {path}. Relocate the clip.")
    elif directory or filepath:
        path = bpy.path.abspath(directory or filepath)
    else:
        raise ConfigError(
            "Choose the footage first: a video file, an image-sequence folder or a movie clip "
            "(DUSt3R > Footage), or pass filepath=, directory= or clip= to the operator."
        )
    info = read_footage_info(path)
    return FootageSource(path, info.kind, info.first_frame, info.last_frame, clip_name)


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
