"""Background set-up tasks (install PyTorch, download a checkpoint) and the state the preferences draw.

A set-up task runs ``work(progress, cancel, on_line)`` on a worker thread (reusing :class:`.job.ReconstructJob`)
and reports to the main thread through the job's queue plus a bounded, thread-safe buffer of log lines. The
main thread copies both into ``context.window_manager.dust3r_setup`` (:class:`DUST3R_PG_setup_state`) from
a timer, so ``AddonPreferences.draw`` only reads plain properties:

- ``wm.dust3r_setup.running`` (bool), ``task`` (label), ``stage`` (text), ``progress`` (0..1),
- ``wm.dust3r_setup.message`` (the last result or error), ``log`` (the last lines of pip's output, one per
  line), and the operator ``dust3r.cancel_setup`` stops the running task.

From scripts and in background mode (no event loop, timers never fire) tasks run synchronously.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

import bpy
from bpy.props import BoolProperty, FloatProperty, PointerProperty, StringProperty

from ..panels.preferences import ADDON_PACKAGE
from .job import ReconstructJob

log = logging.getLogger(__name__)

LOG_LINES = 8
POLL_INTERVAL_S = 0.25

Work = Callable[[Callable[[str, float], None], threading.Event, Callable[[str], None]], Any]
OnDone = Callable[[Any], str]


class DUST3R_PG_setup_state(bpy.types.PropertyGroup):
    """Transient state of the running set-up task (WindowManager data: never saved in .blend files)."""

    running: BoolProperty(name="Running", default=False)
    task: StringProperty(name="Task", default="")
    stage: StringProperty(name="Stage", default="")
    progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    message: StringProperty(name="Message", default="")
    failed: BoolProperty(name="Failed", default=False)
    log: StringProperty(name="Log", description="The last lines of the task's output", default="")


def register_state() -> None:
    """Add ``wm.dust3r_setup`` (after the classes are registered) and re-activate an earlier PyTorch install.

    Called from ``operators.register()``. Not a ``register`` classmethod of the PropertyGroup: with one,
    bpy 4.2 segfaults at interpreter exit after the add-on was re-enabled (seen in tests/blender).
    """
    from .install_torch import activate_user_site_packages

    bpy.types.WindowManager.dust3r_setup = PointerProperty(type=DUST3R_PG_setup_state)
    activate_user_site_packages()


def unregister_state() -> None:
    """Stop a running set-up task and remove ``wm.dust3r_setup`` (before the classes are unregistered)."""
    cancel_running(join=True)
    if hasattr(bpy.types.WindowManager, "dust3r_setup"):
        del bpy.types.WindowManager.dust3r_setup


class SetupTask:
    """One running set-up task: the worker job, its log buffer and what to do with the result."""

    def __init__(self, label: str, work: Work, on_done: OnDone, expected: tuple, cancelled: type) -> None:
        self.label = label
        self.lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self.on_done = on_done
        self.job = ReconstructJob(
            lambda progress, cancel: work(progress, cancel, self.lines.append), expected, cancelled
        )

    def sync_state(self, state: DUST3R_PG_setup_state) -> bool:
        """Copy progress and log lines into ``state``; on completion finish it. Returns True when done."""
        status = self.job.poll()
        state.stage = status.stage
        state.progress = status.fraction
        state.log = "\n".join(self.lines)
        if not status.finished:
            return False
        state.running = False
        if status.error is not None:
            state.failed = True
            state.message = status.error if not status.is_bug else f"Bug, please report: {status.error}"
        else:
            state.failed = False
            state.message = self.on_done(status.result)
        _torch_summary.clear()  # an install may have changed it
        return True


# The single running task (at most one set-up task runs at a time).
_current: dict[str, SetupTask] = {}


def is_running() -> bool:
    return "task" in _current


def cancel_running(join: bool = False) -> None:
    task = _current.get("task")
    if task is None:
        return
    task.job.cancel()
    if join:
        task.job.join(30.0)
        _current.pop("task", None)


def refused_offline(operator: bpy.types.Operator) -> bool:
    """Report an error on ``operator`` and return True when Blender forbids network access."""
    refusal = online_access_refusal()
    if refusal:
        operator.report({"ERROR"}, refusal)
    return refusal is not None


def online_access_refusal() -> str | None:
    """A user-facing reason when Blender forbids network access, else None."""
    if getattr(bpy.app, "online_access", True):
        return None
    return (
        "Online access is disabled. Enable it in Preferences > System > Network > Allow Online Access "
        "(or start Blender without --offline-mode), then try again."
    )


def user_dir(subdir: str) -> str:
    """The extension's user folder ``subdir`` (created); raises ValueError when not loaded as an extension."""
    path = bpy.utils.extension_path_user(ADDON_PACKAGE, path=subdir, create=True)
    if not path:
        raise ValueError(f"cannot create the extension's user folder {subdir!r}")
    return path


def get_state(context: bpy.types.Context) -> DUST3R_PG_setup_state:
    return context.window_manager.dust3r_setup


def start(context: bpy.types.Context, task: SetupTask, background: bool) -> SetupTask:
    """Start ``task``. In background mode (``background=False`` or no UI) wait for it to finish."""
    state = get_state(context)
    state.running, state.task, state.failed = True, task.label, False
    state.stage, state.progress, state.message, state.log = "Starting", 0.0, "", ""
    _current["task"] = task
    task.job.start()
    if background and not bpy.app.background:
        bpy.app.timers.register(_poll_timer, first_interval=POLL_INTERVAL_S, persistent=True)
        return task
    task.job.join()
    _finish(state, task)
    return task


def _finish(state: DUST3R_PG_setup_state, task: SetupTask) -> None:
    task.sync_state(state)
    if _current.get("task") is task:
        del _current["task"]


def _poll_timer() -> float | None:
    """Timer: mirror the task's progress into the window manager; stops once the task is done."""
    task = _current.get("task")
    wm = bpy.context.window_manager
    if task is None or wm is None:
        return None
    state = wm.dust3r_setup
    done = task.sync_state(state)
    _redraw_preferences(wm)
    if done:
        _current.pop("task", None)
        if state.failed:
            log.warning("%s failed: %s", task.label, state.message)
        return None
    return POLL_INTERVAL_S


def _redraw_preferences(wm: bpy.types.WindowManager) -> None:
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in {"PREFERENCES", "VIEW_3D"}:
                area.tag_redraw()


class DUST3R_OT_cancel_setup(bpy.types.Operator):
    """Stop the running PyTorch installation or checkpoint download (a download resumes next time)"""

    bl_idname = "dust3r.cancel_setup"
    bl_label = "Cancel"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return is_running()

    def execute(self, context: bpy.types.Context) -> set[str]:
        cancel_running()
        return {"FINISHED"}


def torch_summary() -> str:
    """One line for the preferences: is PyTorch importable, which version (cached; no torch import)."""
    if "torch" not in _torch_summary:
        import importlib.metadata
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            _torch_summary["torch"] = "PyTorch: not installed"
        else:
            try:
                _torch_summary["torch"] = f"PyTorch {importlib.metadata.version('torch')}"
            except importlib.metadata.PackageNotFoundError:
                _torch_summary["torch"] = "PyTorch: installed"
    return _torch_summary["torch"]


_torch_summary: dict[str, str] = {}


def draw_setup_status(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """Draw the PyTorch status and the running (or last) set-up task: for ``AddonPreferences.draw``.

    Reads plain properties only (``wm.dust3r_setup``); never imports the core or torch.
    """
    summary = torch_summary()
    layout.label(text=summary, icon="CHECKMARK" if "not" not in summary else "ERROR")
    state = getattr(context.window_manager, "dust3r_setup", None)
    if state is None:
        return
    if state.running:
        row = layout.row(align=True)
        row.progress(factor=state.progress, type="BAR", text=f"{state.task}: {state.stage}")
        row.operator(DUST3R_OT_cancel_setup.bl_idname, text="", icon="CANCEL")
    elif state.message:
        layout.label(text=state.message, icon="ERROR" if state.failed else "INFO")
    if state.log:
        column = layout.column(align=True)
        column.scale_y = 0.7
        for line in state.log.splitlines()[-LOG_LINES:]:
            column.label(text=line)


def report_result(operator: bpy.types.Operator, state: DUST3R_PG_setup_state) -> set[str]:
    """After a synchronous run: report the outcome (an error raises RuntimeError in scripts)."""
    if state.failed:
        operator.report({"ERROR"}, state.message)
        return {"CANCELLED"}
    operator.report({"INFO"}, state.message)
    return {"FINISHED"}
