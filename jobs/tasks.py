"""The one background-task runner of the add-on: a worker thread, a message queue, a cancel event. No bpy.

Reconstruction and set-up tasks (install PyTorch, download a checkpoint) all run as a :class:`Task`:
``work(progress, cancel, log_line)`` runs on a worker thread and only talks to the main thread through a
queue; the main thread drains it with :meth:`Task.poll` (from a modal operator's timer, an app timer, or
after joining the thread when it runs synchronously in scripts and background mode). Only the main thread
touches bpy.

The module keeps one piece of global state: the running task of each *slot* (``"reconstruct"``,
``"setup"``), so that the UI can show progress, a second start is refused, and loading a file or disabling
the add-on can cancel what runs.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

RECONSTRUCT = "reconstruct"
SETUP = "setup"
SLOTS = (RECONSTRUCT, SETUP)

JOIN_TIMEOUT_S = 30.0
LOG_LINES = 8

# Message kinds sent by the worker thread.
_PROGRESS, _LINE, _RESULT, _ERROR, _CANCELLED, _BUG = (
    "progress",
    "line",
    "result",
    "error",
    "cancelled",
    "bug",
)

ProgressFn = Callable[[str, float], None]
LineFn = Callable[[str], None]
Work = Callable[[ProgressFn, threading.Event, LineFn], Any]


class Busy(RuntimeError):
    """A task of that slot is already running."""


@dataclass(frozen=True)
class _Message:
    kind: str
    stage: str = ""
    fraction: float = 0.0
    payload: Any = None


@dataclass
class TaskStatus:
    """What the UI shows about a task; updated on the main thread by :meth:`Task.poll`."""

    stage: str = "Starting"
    fraction: float = 0.0
    started_at: float = field(default_factory=time.monotonic)
    finished: bool = False
    cancelled: bool = False
    error: str | None = None
    is_bug: bool = False
    result: Any = None
    lines: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=LOG_LINES))

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started_at

    @property
    def ok(self) -> bool:
        return self.finished and self.error is None


class Task:
    """Runs ``work(progress, cancel, log_line)`` on a worker thread.

    ``work`` returns the result or raises. ``expected_errors`` are the exception types whose message is
    shown to the user as is (the core's ``Dust3rError``); ``cancelled_error`` is the one raised on cancel;
    anything else is a bug, logged with its traceback. ``request`` is what the caller asked for (kept for
    the main thread, never read by the worker); ``discarded`` is set when the result must not be used any
    more (the file it belonged to was closed).
    """

    def __init__(
        self,
        label: str,
        work: Work,
        expected_errors: tuple[type[BaseException], ...],
        cancelled_error: type[BaseException],
        request: Any = None,
    ) -> None:
        self.label = label
        self.request = request
        self.discarded = False
        self.cancel_event = threading.Event()
        self.status = TaskStatus()
        self._work = work
        self._expected = expected_errors
        self._cancelled_error = cancelled_error
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"dust3r-{label}", daemon=True)

    # ---------------------------------------------------------------- worker thread
    def _progress(self, stage: str, fraction: float) -> None:
        self._queue.put(_Message(_PROGRESS, stage=stage, fraction=float(fraction)))

    def _line(self, text: str) -> None:
        self._queue.put(_Message(_LINE, payload=str(text)))

    def _run(self) -> None:
        try:
            result = self._work(self._progress, self.cancel_event, self._line)
        except self._cancelled_error as exc:
            self._queue.put(_Message(_CANCELLED, stage="Cancelled", payload=str(exc) or "Cancelled."))
        except self._expected as exc:
            self._queue.put(_Message(_ERROR, stage="Failed", payload=str(exc)))
        except Exception as exc:  # a bug: logged with its traceback, reported as one
            log.error("DUSt3R task %r failed unexpectedly", self.label, exc_info=exc)
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self._queue.put(_Message(_BUG, stage="Failed", payload=text))
        else:
            self._queue.put(_Message(_RESULT, stage="Done", fraction=1.0, payload=result))

    # ---------------------------------------------------------------- main thread
    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True if it has ended (or never started)."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def cancel(self) -> None:
        self.cancel_event.set()

    def poll(self) -> TaskStatus:
        """Drain the queue into :attr:`status` (cheap; main thread). Returns the status."""
        st = self.status
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                return st
            if msg.kind == _LINE:
                st.lines.append(msg.payload)
                continue
            st.stage = msg.stage
            if msg.kind == _PROGRESS:
                st.fraction = min(max(msg.fraction, 0.0), 1.0)
            elif msg.kind == _RESULT:
                st.fraction, st.result, st.finished = 1.0, msg.payload, True
            else:
                st.finished, st.error = True, str(msg.payload)
                st.is_bug = msg.kind == _BUG
                st.cancelled = msg.kind == _CANCELLED


# ------------------------------------------------------------------------- the running task of each slot
_running: dict[str, Task] = {}


def _check_slot(slot: str) -> None:
    if slot not in SLOTS:
        raise ValueError(f"unknown task slot {slot!r}; expected one of {SLOTS}")


def start(slot: str, task: Task) -> Task:
    """Make ``task`` the running task of ``slot`` and start its thread.

    Raises:
        Busy: another task of that slot has not been collected yet.
    """
    _check_slot(slot)
    if slot in _running:
        raise Busy(f"a {slot} task is already running")
    _running[slot] = task
    task.start()
    return task


def current(slot: str) -> Task | None:
    """The task of ``slot`` that was started and not yet collected, if any."""
    _check_slot(slot)
    return _running.get(slot)


def is_running(slot: str) -> bool:
    return current(slot) is not None


def release(slot: str, task: Task) -> None:
    """Forget ``task`` once its result has been collected (or dropped)."""
    if _running.get(slot) is task:
        del _running[slot]


def cancel(slot: str, join: bool = False, discard: bool = False) -> None:
    """Ask the task of ``slot`` to stop; with ``join``, wait for its thread and forget it."""
    task = current(slot)
    if task is None:
        return
    task.cancel()
    if discard:
        task.discarded = True
    if join:
        if not task.join(JOIN_TIMEOUT_S):
            log.warning(
                "the DUSt3R %s task did not stop within %.0f s; leaving it behind", slot, JOIN_TIMEOUT_S
            )
        release(slot, task)


def cancel_all(join: bool = False, discard: bool = False) -> None:
    """Cancel every slot (loading a file, disabling the add-on)."""
    for slot in SLOTS:
        cancel(slot, join=join, discard=discard)


def status_snapshot(slot: str) -> TaskStatus | None:
    """The running task's status for drawing (never mutates anything)."""
    task = current(slot)
    return None if task is None else task.status
