"""Operators that run one background task and build the scene from its result (photos, footage).

:class:`TaskOperator` is the shared driver. A subclass says what to run (:meth:`TaskOperator.make_request`
returns a :class:`TaskRequest`); the driver does the rest, the same way for every such operator:

- From the UI (``invoke`` with a window): the task runs on a worker thread; a modal timer drains its queue
  (:func:`modal_step`), redraws the sidebar's progress bar, and builds the scene when the result is there.
  ESC or the panel's Cancel button stops it. Returning FINISHED from ``modal`` makes Blender push one undo
  step (``bl_options`` has UNDO), exactly as for the synchronous path.
- From scripts and in background mode (``execute``): the same task, joined, then built; returns FINISHED
  with the scene built, or reports an error (a RuntimeError in Python) with the scene untouched.

Everything that decides something is a plain function (:func:`poll_task`, :func:`modal_step`), so the
tests drive it by hand: there is no event loop headless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import bpy

from ..addon import tag_redraw
from . import tasks

log = logging.getLogger(__name__)

TIMER_INTERVAL_S = 0.1
BUSY_MESSAGE = "A DUSt3R reconstruction is already running: wait for it or press Cancel in the DUSt3R panel."
CANCELLED_MESSAGE = "DUSt3R reconstruction cancelled."


@dataclass
class PollOutcome:
    """What one poll found. ``done`` is False while the task runs; ``report`` is the builder's report."""

    done: bool
    finished_ok: bool = False
    messages: list[tuple[str, str]] = field(default_factory=list)  # (report level, text)
    report: Any = None


class TaskRequest:
    """What a task needs, resolved on the main thread before it starts, and what to do with its result.

    Subclasses (frozen dataclasses) implement :meth:`work` (runs on the worker thread: no bpy) and
    :meth:`finish` (runs on the main thread: builds the scene from the result).
    """

    label = "task"

    def work(self, progress, cancel, log_line) -> Any:
        raise NotImplementedError

    def finish(self, context: bpy.types.Context, status: tasks.TaskStatus) -> PollOutcome:
        raise NotImplementedError


def start_task(request: TaskRequest) -> tasks.Task:
    """Start ``request`` in the reconstruction slot (refused with :class:`.tasks.Busy` if one runs)."""
    from ..core.errors import Cancelled, Dust3rError

    task = tasks.Task(request.label, request.work, (Dust3rError,), Cancelled, request=request)
    return tasks.start(tasks.RECONSTRUCT, task)


def poll_task(context: bpy.types.Context) -> PollOutcome:
    """Drain the running task's messages; when it has ended, let its request build (main thread only)."""
    task = tasks.current(tasks.RECONSTRUCT)
    if task is None:
        return PollOutcome(done=True, messages=[("WARNING", "The reconstruction was stopped.")])
    status = task.poll()
    if not status.finished:
        return PollOutcome(done=False)
    tasks.release(tasks.RECONSTRUCT, task)
    if task.discarded:
        return PollOutcome(done=True, messages=[("WARNING", "Reconstruction dropped: the file was closed.")])
    if status.is_bug:
        text = f"DUSt3R internal error (please report it with the console log): {status.error}"
        return PollOutcome(done=True, messages=[("ERROR", text)])
    if status.cancelled:
        return PollOutcome(done=True, messages=[("WARNING", CANCELLED_MESSAGE)])
    if status.error is not None:
        return PollOutcome(done=True, messages=[("ERROR", status.error)])
    try:
        return task.request.finish(context, status)
    except Exception as exc:  # a bug in a builder: logged with its traceback, reported as one
        log.exception("building the DUSt3R scene failed")
        text = f"DUSt3R internal error while building the scene (please report it): {exc}"
        return PollOutcome(done=True, messages=[("ERROR", text)])


@dataclass(frozen=True)
class ModalStep:
    """What the modal handler does with one event: return ``result``; ``stop_timer`` once it ends."""

    result: set[str]
    stop_timer: bool = False
    outcome: PollOutcome | None = None


def modal_step(
    context: bpy.types.Context, task: tasks.Task | None, event_type: str, event_value: str
) -> ModalStep:
    """One modal event for the operator that started ``task``.

    ESC cancels (the worker stops at its next check; the task then ends as cancelled); a timer tick polls
    and, once the task has ended, builds; any other event passes through so Blender stays usable.
    """
    ours = task is not None and tasks.current(tasks.RECONSTRUCT) is task
    if event_type == "ESC" and event_value == "PRESS" and ours:
        task.cancel()
        return ModalStep({"RUNNING_MODAL"})
    if event_type != "TIMER":  # any timer tick will do: polling is cheap
        return ModalStep({"PASS_THROUGH"})
    if not ours:  # collected elsewhere (file closed, add-on disabled)
        return ModalStep({"CANCELLED"}, stop_timer=True)
    outcome = poll_task(context)
    tag_redraw(context)
    if not outcome.done:
        return ModalStep({"RUNNING_MODAL"})
    return ModalStep({"FINISHED"} if outcome.finished_ok else {"CANCELLED"}, True, outcome)


class TaskOperator:
    """Mixin for a ``bpy.types.Operator`` that runs one :class:`TaskRequest` (see the module docstring).

    Subclasses implement ``make_request(context) -> TaskRequest``, raising the core's ``Dust3rError`` for a
    user mistake (reported as is, nothing started).
    """

    _timer = None
    _task: tasks.Task | None = None

    def make_request(self, context: bpy.types.Context) -> TaskRequest:
        raise NotImplementedError

    def _start(self, context: bpy.types.Context) -> bool:
        from ..core.errors import Dust3rError

        if tasks.is_running(tasks.RECONSTRUCT):
            self.report({"ERROR"}, BUSY_MESSAGE)
            return False
        try:
            request = self.make_request(context)
        except Dust3rError as exc:
            self.report({"ERROR"}, str(exc))
            return False
        self._task = start_task(request)
        return True

    def _report(self, outcome: PollOutcome) -> set[str]:
        for level, text in outcome.messages:
            self.report({level}, text)
        return {"FINISHED"} if outcome.finished_ok else {"CANCELLED"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self._start(context):
            return {"CANCELLED"}
        self._task.join()
        return self._report(poll_task(context))

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        if not self._start(context):
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_INTERVAL_S, window=context.window)
        wm.modal_handler_add(self)
        tag_redraw(context)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        step = modal_step(context, self._task, event.type, event.value)
        if step.stop_timer and self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        return self._report(step.outcome) if step.outcome is not None else step.result
