"""The footage reconstruction job: the source resolved on the main thread, the worker-thread call into the
core, the camera build when it ends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy

from ..properties.build_options import BuildOptions
from ..scene import viewport
from ..scene.build import build_reconstruction
from ..scene.plate import Plate, status_lines
from . import tasks
from .reconstruct import run_pipeline
from .task_operator import PollOutcome, TaskRequest

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
            from ..core.jobs import footage  # imports torch lazily: an ImportError is explained

            return footage.reconstruct_footage(*args, **kwargs)

        return run_pipeline(
            reconstruct, self.source.path, self.checkpoint, self.config, progress=progress, cancel=cancel
        )

    def finish(self, context: bpy.types.Context, status: tasks.TaskStatus) -> PollOutcome:
        scene = bpy.data.scenes.get(self.scene_name) or context.scene
        result = status.result
        plate = Plate.of(result, clip_name=self.source.clip_name, keep_scene_rate=self.source.kind != "video")
        recon = result.reconstruction
        report = build_reconstruction(scene, result, self.build, plate)
        notes = [m for m in (*recon.warnings, *result.messages) if not m.startswith(SENSOR_NOTE_PREFIX)]
        if result.sensor_width_assumed:
            notes.insert(0, SENSOR_ASSUMED)
        messages = [("WARNING", text) for text in (*notes, *report.warnings)]
        messages += [("INFO", text) for text in status_lines(result)]
        messages += viewport.after_build()
        scene.dust3r.last_summary = (
            f"{recon.num_views} frames, {report.num_points:,} points, {status.elapsed_s:.1f} s"
        )
        messages.append(
            (
                "INFO",
                f"DUSt3R: an animated camera on {recon.num_views} frames ({result.summary()}), lens "
                f"{result.focal_mm:.1f} mm on {result.sensor_width_mm:g} mm, {report.num_points:,} points "
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
