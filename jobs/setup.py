"""Set-up tasks (install PyTorch, download a checkpoint): their state, their start and their end.

A set-up task is a :class:`.tasks.Task` in the ``"setup"`` slot. An app timer (or, in scripts and
background mode, a join) copies its progress and log lines into ``context.window_manager.dust3r_setup``
(:class:`DUST3R_PG_setup_state`), so ``AddonPreferences.draw`` only reads plain properties, and the outcome
of the last task stays visible after it ended:

- ``running`` (bool), ``task`` (label), ``stage`` (text), ``progress`` (0..1),
- ``message`` (the last result or error), ``failed``, ``log`` (the last lines of the task's output),
- ``dust3r.cancel_setup`` stops the running task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import bpy
from bpy.props import BoolProperty, FloatProperty, PointerProperty, StringProperty

from ..addon import online_access_refusal, tag_redraw
from . import tasks
from .torch_status import forget_torch_summary

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.25

OnDone = Callable[[Any], str]


class DUST3R_PG_setup_state(bpy.types.PropertyGroup):
    """Transient state of the running (or last) set-up task (WindowManager data: never saved in files)."""

    running: BoolProperty(name="Running", default=False)
    task: StringProperty(name="Task", default="")
    stage: StringProperty(name="Stage", default="")
    progress: FloatProperty(name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    message: StringProperty(name="Message", default="")
    failed: BoolProperty(name="Failed", default=False)
    log: StringProperty(name="Log", description="The last lines of the task's output", default="")


def register_state() -> None:
    """Add ``wm.dust3r_setup`` (after the classes are registered).

    Not a ``register`` classmethod of the PropertyGroup: with one, bpy 4.2 segfaults at interpreter exit
    after the add-on was re-enabled (seen in tests/blender).
    """
    bpy.types.WindowManager.dust3r_setup = PointerProperty(type=DUST3R_PG_setup_state)


def unregister_state() -> None:
    """Stop a running set-up task and remove ``wm.dust3r_setup`` (before the classes are unregistered)."""
    tasks.cancel(tasks.SETUP, join=True)
    if hasattr(bpy.types.WindowManager, "dust3r_setup"):
        del bpy.types.WindowManager.dust3r_setup


def get_state(context: bpy.types.Context) -> DUST3R_PG_setup_state:
    return context.window_manager.dust3r_setup


def refused_offline(operator: bpy.types.Operator) -> bool:
    """Report an error on ``operator`` and return True when Blender forbids network access."""
    refusal = online_access_refusal()
    if refusal:
        operator.report({"ERROR"}, refusal)
    return refusal is not None


def new_task(label: str, work: tasks.Work, on_done: OnDone) -> tasks.Task:
    """A set-up task whose expected errors are the core's. Its ``request`` is ``on_done``: called on the
    main thread with the result, it does what success implies and returns the message to show."""
    from ..core.errors import Cancelled, Dust3rError

    return tasks.Task(label, work, (Dust3rError,), Cancelled, request=on_done)


def sync_state(state: DUST3R_PG_setup_state, task: tasks.Task) -> bool:
    """Copy ``task``'s progress and log into ``state``; on completion record its outcome. True when done."""
    status = task.poll()
    state.stage = status.stage
    state.progress = status.fraction
    state.log = "\n".join(status.lines)
    if not status.finished:
        return False
    state.running = False
    state.failed = status.error is not None
    if status.is_bug:
        state.message = f"Bug, please report: {status.error}"
    elif status.error is not None:
        state.message = status.error
    else:
        state.message = task.request(status.result)
    forget_torch_summary()  # an install may have changed it
    return True


def start(context: bpy.types.Context, task: tasks.Task, background: bool) -> tasks.Task:
    """Start ``task``; with ``background`` and a UI, a timer follows it, else wait for it to finish."""
    state = get_state(context)
    state.running, state.task, state.failed = True, task.label, False
    state.stage, state.progress, state.message, state.log = "Starting", 0.0, "", ""
    tasks.start(tasks.SETUP, task)
    if background and not bpy.app.background:
        bpy.app.timers.register(poll_timer, first_interval=POLL_INTERVAL_S, persistent=True)
        return task
    task.join()
    sync_state(state, task)
    tasks.release(tasks.SETUP, task)
    return task


def poll_timer() -> float | None:
    """App timer: mirror the running task into the window manager; stops once the task is done."""
    task = tasks.current(tasks.SETUP)
    wm = bpy.context.window_manager
    if task is None or wm is None:
        return None
    state = wm.dust3r_setup
    done = sync_state(state, task)
    tag_redraw()
    if not done:
        return POLL_INTERVAL_S
    tasks.release(tasks.SETUP, task)
    if state.failed:
        log.warning("%s failed: %s", task.label, state.message)
    return None


def report_result(operator: bpy.types.Operator, state: DUST3R_PG_setup_state) -> set[str]:
    """After a synchronous run: report the outcome (an error raises RuntimeError in scripts)."""
    if state.failed:
        operator.report({"ERROR"}, state.message)
        return {"CANCELLED"}
    operator.report({"INFO"}, state.message)
    return {"FINISHED"}


class SetupOperator:
    """Mixin of the set-up operators (install PyTorch, download a checkpoint): asked from the UI (``invoke``
    sets ``run_in_background``), the task runs in the background with its state in the preferences; from
    scripts it runs to the end and reports. Blender's "Allow Online Access" is honoured in both."""

    run_in_background: BoolProperty(options={"HIDDEN", "SKIP_SAVE"}, default=False)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return not tasks.is_running(tasks.SETUP)

    def run_setup(
        self, context: bpy.types.Context, label: str, work: tasks.Work, on_done: OnDone
    ) -> set[str]:
        """Start the set-up task; report that it runs in the background, or its outcome when it ran here."""
        start(context, new_task(label, work, on_done), background=self.run_in_background)
        if self.run_in_background and not bpy.app.background:
            self.report({"INFO"}, f"{label} in the background; see the add-on preferences.")
            return {"FINISHED"}
        return report_result(self, get_state(context))

    def user_folder(self, chosen: str, default_subdir: str | Callable[[], str]) -> str | None:
        """``chosen`` (a Blender path) or the extension's user folder; None (reported) when there is none."""
        from ..addon import user_dir

        try:
            if chosen:
                return bpy.path.abspath(chosen)
            return user_dir(default_subdir() if callable(default_subdir) else default_subdir)
        except ValueError as exc:
            self.report({"ERROR"}, f"Install the add-on as an extension first ({exc}).")
            return None
