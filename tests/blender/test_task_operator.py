"""The modal driver of the task operators, driven by hand (there is no event loop headless).

``modal()`` delegates every decision to ``task_operator.modal_step``; these tests feed it the events a user
would cause (ESC, mouse moves, timer ticks) around a real worker thread.
"""

from __future__ import annotations

import threading

import bpy
import pytest


@pytest.fixture
def gated(addon):
    """A running task whose work waits for ``release`` (then returns ``result``) or for a cancel."""
    task_operator = addon.submodule("jobs.task_operator")
    tasks = addon.submodule("jobs.tasks")
    errors = addon.submodule("core.errors")
    release = threading.Event()
    built = []

    class Request(task_operator.TaskRequest):
        label = "test"

        def work(self, progress, cancel, log_line):
            progress("Waiting", 0.5)
            while not release.wait(0.01):
                if cancel.is_set():
                    raise errors.Cancelled()
            return "the result"

        def finish(self, context, status):
            built.append(status.result)
            return task_operator.PollOutcome(done=True, finished_ok=True, messages=[("INFO", "built")])

    task = task_operator.start_task(Request())
    yield task, release, built
    release.set()
    tasks.cancel_all(join=True)


def test_events_while_running_pass_through_and_timer_ticks_keep_it_modal(addon, gated) -> None:
    task_operator = addon.submodule("jobs.task_operator")
    task, _release, built = gated
    for event in ("MOUSEMOVE", "LEFTMOUSE", "A"):
        assert task_operator.modal_step(bpy.context, task, event, "PRESS").result == {"PASS_THROUGH"}
    step = task_operator.modal_step(bpy.context, task, "TIMER", "NOTHING")
    assert step.result == {"RUNNING_MODAL"} and not step.stop_timer and not built


def test_timer_after_the_end_builds_once_and_finishes(addon, gated) -> None:
    task_operator = addon.submodule("jobs.task_operator")
    tasks = addon.submodule("jobs.tasks")
    task, release, built = gated
    release.set()
    assert task.join(10)
    step = task_operator.modal_step(bpy.context, task, "TIMER", "NOTHING")
    assert step.result == {"FINISHED"} and step.stop_timer
    assert built == ["the result"] and step.outcome.messages == [("INFO", "built")]
    assert tasks.current(tasks.RECONSTRUCT) is None


def test_escape_cancels_and_the_next_tick_reports_it(addon, gated) -> None:
    task_operator = addon.submodule("jobs.task_operator")
    task, _release, built = gated
    assert task_operator.modal_step(bpy.context, task, "ESC", "PRESS").result == {"RUNNING_MODAL"}
    assert task.cancel_event.is_set() and task.join(10)
    step = task_operator.modal_step(bpy.context, task, "TIMER", "NOTHING")
    assert step.result == {"CANCELLED"} and step.stop_timer and not built
    assert step.outcome.messages == [("WARNING", task_operator.CANCELLED_MESSAGE)]


def test_a_task_collected_elsewhere_ends_the_modal_handler(addon, gated) -> None:
    """Opening a file or disabling the add-on collects the task: the handler stops without building."""
    task_operator = addon.submodule("jobs.task_operator")
    tasks = addon.submodule("jobs.tasks")
    task, _release, built = gated
    tasks.cancel(tasks.RECONSTRUCT, join=True, discard=True)
    step = task_operator.modal_step(bpy.context, task, "TIMER", "NOTHING")
    assert step.result == {"CANCELLED"} and step.stop_timer and step.outcome is None and not built


def test_a_second_start_is_refused(addon, gated) -> None:
    tasks = addon.submodule("jobs.tasks")
    task_operator = addon.submodule("jobs.task_operator")
    task, _release, _built = gated
    with pytest.raises(tasks.Busy, match="already running"):
        task_operator.start_task(task.request)
    with pytest.raises(RuntimeError, match="already running"):
        bpy.ops.dust3r.reconstruct(directory="/nonexistent")
