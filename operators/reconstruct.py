"""``dust3r.reconstruct``: photos -> cameras and a point cloud, and ``dust3r.cancel``.

Thin operator: properties -> frozen config -> job (worker thread) -> scene builder.

- From the UI (``invoke`` with a window): the job runs on a worker thread; a modal timer drains its queue,
  redraws the sidebar's progress bar, and builds the scene when the result is complete. ESC or the panel's
  Cancel button stops it. Returning FINISHED from ``modal`` makes Blender push the one undo step
  (``bl_options`` has UNDO), exactly as for the synchronous path, so no explicit ``ed.undo_push`` is needed.
- From scripts and in background mode (``execute``): the same job, joined, then built; returns FINISHED
  with the scene built, or reports an error (a RuntimeError in Python) with the scene untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import bpy
from bpy.props import CollectionProperty, EnumProperty, StringProperty

from ..addon import preferences, tag_redraw
from . import tasks
from .build_options import BuildOptions
from .photos import resolve_photos
from .scene_builder import BuildReport, build_reconstruction
from .settings import DEVICE_ITEMS, SETTING_NAMES, ReconstructOperatorSettings, build_options, make_config

log = logging.getLogger(__name__)

TIMER_INTERVAL_S = 0.1
OUT_OF_MEMORY = (
    "Out of memory. Use fewer photos, 'Sliding Window' pairs, image size 224, or the CPU device "
    "(Preferences > Add-ons > DUSt3R)."
)
BUSY_MESSAGE = "A DUSt3R reconstruction is already running: wait for it or press Cancel in the DUSt3R panel."


@dataclass(frozen=True)
class JobRequest:
    """Everything a job needs, resolved on the main thread before it starts."""

    image_paths: tuple[str, ...]
    checkpoint: str
    config: object  # core.config.ReconstructConfig
    build: BuildOptions
    scene_name: str
    warnings: tuple[str, ...] = ()


@dataclass
class PollOutcome:
    """What one poll found. ``done`` is False while the job runs."""

    done: bool
    finished_ok: bool = False
    messages: list[tuple[str, str]] = field(default_factory=list)  # (report level, text)
    report: BuildReport | None = None


def _expected_errors():
    from ..core import errors

    return errors.Dust3rError, errors.Cancelled


def _make_work(request: JobRequest) -> tasks.Work:
    """The worker function: imports the pipeline (torch) lazily and runs it."""

    def work(progress, cancel, _log_line):
        from ..core.errors import DependencyError, DeviceError

        try:
            from ..core import pipeline
        except ImportError as exc:
            raise DependencyError(
                f"The Python package '{exc.name}' is missing. Open Preferences > Add-ons > DUSt3R and install "
                "PyTorch, then try again."
            ) from exc
        try:
            return pipeline.reconstruct(
                list(request.image_paths),
                request.checkpoint,
                request.config,
                progress=progress,
                cancel=cancel,
            )
        except MemoryError as exc:
            raise DeviceError(OUT_OF_MEMORY) from exc
        except RuntimeError as exc:  # torch's out-of-memory errors are RuntimeErrors (safety net)
            if not is_out_of_memory(exc):
                raise
            raise DeviceError(OUT_OF_MEMORY) from exc

    return work


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocator's out-of-memory error (CUDA, MPS or torch's CPU allocator)."""
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text


def start_job(request: JobRequest) -> tasks.Task:
    """Start a reconstruction task (refused with :class:`.tasks.Busy` if one is running)."""
    dust3r_error, cancelled = _expected_errors()
    task = tasks.Task("reconstruct", _make_work(request), (dust3r_error,), cancelled, request=request)
    return tasks.start(tasks.RECONSTRUCT, task)


def poll_job(context: bpy.types.Context) -> PollOutcome:
    """Drain the running task's messages; when it has ended, build the scene (main thread only).

    The modal timer calls this; tests call it by hand after joining the worker thread.
    """
    job = tasks.current(tasks.RECONSTRUCT)
    if job is None:
        return PollOutcome(done=True, messages=[("WARNING", "The reconstruction was stopped.")])
    status = job.poll()
    if not status.finished:
        return PollOutcome(done=False)
    tasks.release(tasks.RECONSTRUCT, job)
    request: JobRequest = job.request
    if job.discarded:
        return PollOutcome(done=True, messages=[("WARNING", "Reconstruction dropped: the file was closed.")])
    if status.error is not None:
        if status.is_bug:
            text = f"DUSt3R internal error (please report it with the console log): {status.error}"
            return PollOutcome(done=True, messages=[("ERROR", text)])
        return PollOutcome(done=True, messages=[("ERROR", status.error)])
    scene = bpy.data.scenes.get(request.scene_name) or context.scene
    try:
        report = build_reconstruction(scene, status.result, request.build)
    except Exception as exc:  # a bug in the builder: logged with its traceback, reported as one
        log.exception("building the DUSt3R scene failed")
        text = f"DUSt3R internal error while building the scene (please report it): {exc}"
        return PollOutcome(done=True, messages=[("ERROR", text)])
    messages = [("WARNING", w) for w in (*request.warnings, *report.warnings)]
    scene.dust3r.last_summary = (
        f"{len(report.camera_objects)} photos, {report.num_points:,} points, {status.elapsed_s:.1f} s"
    )
    messages.append(
        (
            "INFO",
            f"DUSt3R: {len(report.camera_objects)} cameras and {report.num_points:,} points in "
            f"'{report.collection.name}' ({status.elapsed_s:.1f} s)",
        )
    )
    return PollOutcome(done=True, finished_ok=True, messages=messages, report=report)


class DUST3R_OT_reconstruct(ReconstructOperatorSettings, bpy.types.Operator):
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
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto", options={"SKIP_SAVE"})

    _timer = None
    _job = None

    # ------------------------------------------------------------------ shared preparation
    def _request(self, context: bpy.types.Context) -> JobRequest:
        """Resolve settings, photos and checkpoint; raises the core's Dust3rError on user mistakes."""
        from ..core.errors import CheckpointError

        settings = context.scene.dust3r
        for name in SETTING_NAMES:
            if not self.properties.is_property_set(name):
                setattr(self, name, getattr(settings, name))
        prefs = preferences(context)
        if not self.properties.is_property_set("device") and prefs is not None:
            self.device = prefs.device
        checkpoint = self.checkpoint or (prefs.checkpoint if prefs is not None else "")
        if not checkpoint:
            raise CheckpointError(
                "No checkpoint set. Choose the DUSt3R model file in Preferences > Add-ons > DUSt3R "
                "(or download it there), or pass checkpoint=... to the operator."
            )
        checkpoint = bpy.path.abspath(checkpoint)
        if not Path(checkpoint).exists():
            raise CheckpointError(f"Checkpoint not found: {checkpoint}. Choose an existing model file.")
        directory = self.directory or settings.photo_folder
        paths, warnings = resolve_photos(
            bpy.path.abspath(directory) if directory else "", [f.name for f in self.files]
        )
        return JobRequest(
            image_paths=tuple(paths),
            checkpoint=checkpoint,
            config=make_config(self, self.device),
            build=build_options(self),
            scene_name=context.scene.name,
            warnings=tuple(warnings),
        )

    def _prepare_and_start(self, context: bpy.types.Context) -> bool:
        if tasks.is_running(tasks.RECONSTRUCT):
            self.report({"ERROR"}, BUSY_MESSAGE)
            return False
        dust3r_error, _ = _expected_errors()
        try:
            request = self._request(context)
        except dust3r_error as exc:
            self.report({"ERROR"}, str(exc))
            return False
        self._job = start_job(request)
        return True

    def _report_outcome(self, outcome: PollOutcome) -> set[str]:
        for level, text in outcome.messages:
            self.report({level}, text)
        return {"FINISHED"} if outcome.finished_ok else {"CANCELLED"}

    def draw(self, context: bpy.types.Context) -> None:
        # The "Adjust Last Operation" panel would re-run the whole reconstruction synchronously for any
        # tweak; point the user to the sidebar (and the live filter on the points' modifier) instead.
        self.layout.label(text="Change settings in the sidebar's DUSt3R tab and run again.", icon="INFO")

    # ------------------------------------------------------------------ scripts, background mode
    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self._prepare_and_start(context):
            return {"CANCELLED"}
        self._job.join()
        return self._report_outcome(poll_job(context))

    # ------------------------------------------------------------------ interactive
    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        if not self._prepare_and_start(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_INTERVAL_S, window=context.window)
        wm.modal_handler_add(self)
        tag_redraw(context)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type == "ESC" and event.value == "PRESS" and tasks.current(tasks.RECONSTRUCT) is self._job:
            self._job.cancel()
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":  # any timer tick will do: polling is cheap
            return {"PASS_THROUGH"}
        if tasks.current(tasks.RECONSTRUCT) is not self._job:  # collected elsewhere (file closed, add-on off)
            self._finish(context)
            return {"CANCELLED"}
        outcome = poll_job(context)
        tag_redraw(context)
        if not outcome.done:
            return {"RUNNING_MODAL"}
        self._finish(context)
        if self._job.cancel_event.is_set() and not outcome.finished_ok:
            outcome.messages = [("WARNING", "DUSt3R reconstruction cancelled.")]
        return self._report_outcome(outcome)

    def _finish(self, context: bpy.types.Context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None


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
