"""``dust3r.reconstruct``: photos -> cameras and a point cloud, and ``dust3r.cancel``.

Thin operator: properties -> frozen config -> a background task (:mod:`.task_operator`) -> scene builder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import bpy
from bpy.props import CollectionProperty, EnumProperty, StringProperty

from ..addon import preferences
from . import tasks, viewport
from .build_options import BuildOptions
from .photos import resolve_photos
from .scene_builder import build_reconstruction
from .settings import (
    DEVICE_ITEMS,
    PRECISION_ITEMS,
    SETTING_NAMES,
    ReconstructOperatorSettings,
    build_options,
    make_config,
)
from .task_operator import PollOutcome, TaskOperator, TaskRequest, poll_task, start_task

log = logging.getLogger(__name__)

OUT_OF_MEMORY = (
    "Out of memory. Use fewer photos, 'Similar Photos' or 'Sliding Window' pairs with a smaller window, "
    "image size 224, or the CPU device (Preferences > Add-ons > DUSt3R)."
)
MISSING_TORCH = (
    "PyTorch is missing. Open Preferences > Add-ons > DUSt3R and press 'Install PyTorch', then try again."
)
MISSING_PACKAGE = "The Python package '{name}' is missing: reinstall the DUSt3R extension, then try again."


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocator's out-of-memory error (CUDA, MPS or torch's CPU allocator)."""
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text


def run_pipeline(fn, *args, **kwargs):
    """Call a core entry point on the worker thread, turning a missing package and out-of-memory into the
    core's typed errors (so the UI explains them instead of reporting a bug)."""
    from ..core.errors import DependencyError, DeviceError

    try:
        return fn(*args, **kwargs)
    except MemoryError as exc:
        raise DeviceError(OUT_OF_MEMORY) from exc
    except RuntimeError as exc:  # torch's out-of-memory errors are RuntimeErrors
        if not is_out_of_memory(exc):
            raise
        raise DeviceError(OUT_OF_MEMORY) from exc
    except ImportError as exc:
        top = (exc.name or "").split(".")[0]
        text = MISSING_TORCH if top == "torch" else MISSING_PACKAGE.format(name=exc.name or exc)
        raise DependencyError(text) from exc


def checkpoint_path(explicit: str, prefs) -> str:
    """The checkpoint a run uses (absolute): ``explicit`` (the operator's), else the add-on preference.

    Raises:
        CheckpointError: none set, or the file does not exist.
    """
    from ..core.errors import CheckpointError

    checkpoint = explicit or (prefs.checkpoint if prefs is not None else "")
    if not checkpoint:
        raise CheckpointError(
            "No checkpoint set. Choose the DUSt3R model file in Preferences > Add-ons > DUSt3R "
            "(or download it there), or pass checkpoint=... to the operator."
        )
    checkpoint = bpy.path.abspath(checkpoint)
    if not Path(checkpoint).exists():
        raise CheckpointError(f"Checkpoint not found: {checkpoint}. Choose an existing model file.")
    return checkpoint


@dataclass(frozen=True)
class JobRequest(TaskRequest):
    """A reconstruction from photos: everything resolved on the main thread before it starts."""

    image_paths: tuple[str, ...]
    checkpoint: str
    config: object  # core.config.ReconstructConfig
    build: BuildOptions
    scene_name: str
    warnings: tuple[str, ...] = ()

    label = "reconstruct"

    def work(self, progress, cancel, _log_line):
        def reconstruct(*args, **kwargs):
            from ..core import pipeline  # imports torch lazily: an ImportError is explained

            return pipeline.reconstruct(*args, **kwargs)

        return run_pipeline(
            reconstruct,
            list(self.image_paths),
            self.checkpoint,
            self.config,
            progress=progress,
            cancel=cancel,
        )

    def finish(self, context: bpy.types.Context, status: tasks.TaskStatus) -> PollOutcome:
        scene = bpy.data.scenes.get(self.scene_name) or context.scene
        report = build_reconstruction(scene, status.result, self.build)
        recon = status.result
        messages = [("WARNING", w) for w in (*self.warnings, *recon.warnings, *report.warnings)]
        messages += viewport.after_build()  # Solid view shows the colours (reported, reversible)
        solve = recon.solve_error_rms_px
        scene.dust3r.last_summary = (
            f"{len(report.camera_objects)} photos, {report.num_points:,} points, {status.elapsed_s:.1f} s"
            + ("" if solve is None else f", solve error {solve:.2f} px")
        )
        if any(
            recon.refine_status
        ):  # "solve error 0.21 px, worst camera 'img7' ±0.6 px (two-view tracks only)"
            from ..core.refine.summary import refine_summary

            names = [Path(p).stem for p in recon.image_paths]
            summary = refine_summary(recon.solve_error_total_px, recon.solve_error_px, recon.uncertainty_px,
                                     recon.refine_status, names)  # fmt: skip
            messages.append(("INFO", f"DUSt3R: {summary}"))
        messages.append(
            (
                "INFO",
                f"DUSt3R: {len(report.camera_objects)} cameras and {report.num_points:,} points in "
                f"'{report.collection.name}' ({status.elapsed_s:.1f} s)",
            )
        )
        return PollOutcome(done=True, finished_ok=True, messages=messages, report=report)


def start_job(request: JobRequest) -> tasks.Task:
    """Start a reconstruction task (refused with :class:`.tasks.Busy` if one is running)."""
    return start_task(request)


def poll_job(context: bpy.types.Context) -> PollOutcome:
    """Drain the running task; when it has ended, build the scene (what the modal timer calls)."""
    return poll_task(context)


class DUST3R_OT_reconstruct(TaskOperator, ReconstructOperatorSettings, bpy.types.Operator):
    """Reconstruct cameras and a coloured point cloud from a folder of photos"""

    bl_idname = "dust3r.reconstruct"
    bl_label = "Reconstruct from Photos"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(name="Folder", subtype="DIR_PATH", options={"SKIP_SAVE"})
    files: CollectionProperty(type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"})
    checkpoint: StringProperty(
        name="Checkpoint",
        description="Overrides the add-on preference",
        subtype="FILE_PATH",
        options={"SKIP_SAVE"},
    )
    device: EnumProperty(
        name="Device", description="Overrides the add-on preference", items=DEVICE_ITEMS, default="auto",
        options={"SKIP_SAVE"},
    )  # fmt: skip
    precision: EnumProperty(
        name="Precision", description="Overrides the add-on preference", items=PRECISION_ITEMS,
        default="auto", options={"SKIP_SAVE"},
    )  # fmt: skip

    def make_request(self, context: bpy.types.Context) -> JobRequest:
        """Resolve settings, photos and checkpoint; raises the core's Dust3rError on user mistakes."""
        settings = context.scene.dust3r
        for name in SETTING_NAMES:
            if not self.properties.is_property_set(name):
                setattr(self, name, getattr(settings, name))
        prefs = preferences(context)
        for name in ("device", "precision"):
            if not self.properties.is_property_set(name) and prefs is not None:
                setattr(self, name, getattr(prefs, name))
        checkpoint = checkpoint_path(self.checkpoint, prefs)
        directory = self.directory or settings.photo_folder
        paths, warnings = resolve_photos(
            bpy.path.abspath(directory) if directory else "", [f.name for f in self.files]
        )
        return JobRequest(
            image_paths=tuple(paths),
            checkpoint=checkpoint,
            config=make_config(self, self.device, self.precision),
            build=build_options(self),
            scene_name=context.scene.name,
            warnings=tuple(warnings),
        )

    def draw(self, context: bpy.types.Context) -> None:
        # The "Adjust Last Operation" panel would re-run the whole reconstruction synchronously for any
        # tweak; point the user to the sidebar (and the live filter on the points' modifier) instead.
        self.layout.label(text="Change settings in the sidebar's DUSt3R tab and run again.", icon="INFO")


class DUST3R_OT_cancel(bpy.types.Operator):
    """Stop the running DUSt3R reconstruction (nothing is added to the scene)"""

    bl_idname = "dust3r.cancel"
    bl_label = "Cancel Reconstruction"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return tasks.is_running(tasks.RECONSTRUCT)

    def execute(self, context: bpy.types.Context) -> set[str]:
        tasks.cancel(tasks.RECONSTRUCT)
        return {"FINISHED"}
