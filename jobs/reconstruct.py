"""The photo reconstruction job: checkpoint choice, the worker-thread call into the core (its errors
explained), and the scene build when it ends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy

from ..properties.build_options import BuildOptions
from ..scene import viewport
from ..scene.build import build_reconstruction
from . import tasks
from .task_operator import PollOutcome, TaskRequest, poll_task, start_task

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
            from ..core.jobs import photos  # imports torch lazily: an ImportError is explained

            return photos.reconstruct(*args, **kwargs)

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
        # "solve error 0.21 px, worst camera 'img7' ±0.6 px (two-view tracks only)"
        if any(recon.refine_status):
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
