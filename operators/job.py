"""The reconstruction job: one worker thread, a message queue, a cancel event. No bpy in here.

The worker thread runs the core pipeline and only talks to the main thread through a queue of
:class:`JobMessage`; the main thread drains the queue (:meth:`ReconstructJob.poll`) from a modal timer, or
after joining the thread when the operator runs synchronously (scripts, background mode). Only the main
thread ever touches bpy.

The module keeps exactly one piece of global state: the registry of the (at most one) running job, so that
the panel can show its progress, a second start is refused, and file loading / add-on unregistering can
cancel it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# Message kinds sent by the worker thread.
PROGRESS = "progress"
RESULT = "result"
ERROR = "error"  # an expected, user-facing failure (a Dust3rError): the message says what to do
BUG = "bug"  # an unexpected exception: the message carries the traceback

JOIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class JobMessage:
    kind: str
    stage: str = ""
    fraction: float = 0.0
    payload: Any = None


@dataclass
class JobStatus:
    """What the UI shows about a job; updated on the main thread by :meth:`ReconstructJob.poll`."""

    stage: str = "Starting"
    fraction: float = 0.0
    started_at: float = field(default_factory=time.monotonic)
    finished: bool = False
    cancelled: bool = False
    error: str | None = None
    is_bug: bool = False
    result: Any = None

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started_at


class ReconstructJob:
    """Runs ``work(progress, cancel)`` on a worker thread.

    ``work`` returns the result (a ``Reconstruction``) or raises; ``expected_errors`` are the exception types
    whose message is shown to the user as is (the core's ``Dust3rError``); anything else is a bug, logged
    with its traceback. ``discarded`` is set when the result must not be used any more (the file was closed);
    ``request`` is what the caller asked for (kept for the main thread, never read by the worker).
    """

    def __init__(
        self,
        work: Callable[[Callable[[str, float], None], threading.Event], Any],
        expected_errors: tuple[type[BaseException], ...],
        cancelled_error: type[BaseException],
        request: Any = None,
    ) -> None:
        self._work = work
        self._expected = expected_errors
        self._cancelled_error = cancelled_error
        self._queue: queue.Queue[JobMessage] = queue.Queue()
        self.cancel_event = threading.Event()
        self.status = JobStatus()
        self.request = request
        self.discarded = False
        self._thread = threading.Thread(target=self._run, name="dust3r-reconstruct", daemon=True)

    # ---------------------------------------------------------------- worker thread
    def _progress(self, stage: str, fraction: float) -> None:
        self._queue.put(JobMessage(PROGRESS, stage=stage, fraction=float(fraction)))

    def _run(self) -> None:
        try:
            result = self._work(self._progress, self.cancel_event)
        except self._cancelled_error as exc:
            self._queue.put(JobMessage(ERROR, stage="Cancelled", payload=str(exc) or "Cancelled."))
        except self._expected as exc:
            self._queue.put(JobMessage(ERROR, stage="Failed", payload=str(exc)))
        except Exception as exc:  # a bug: logged with its traceback, reported as one
            log.error("DUSt3R reconstruction failed unexpectedly", exc_info=exc)
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self._queue.put(JobMessage(BUG, stage="Failed", payload=text))
        else:
            self._queue.put(JobMessage(RESULT, stage="Done", fraction=1.0, payload=result))

    # ---------------------------------------------------------------- main thread
    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True if it has ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def cancel(self) -> None:
        self.cancel_event.set()

    def poll(self) -> JobStatus:
        """Drain the queue into :attr:`status` (cheap; call from the main thread). Returns the status."""
        st = self.status
        while True:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                break
            st.stage = msg.stage
            if msg.kind == PROGRESS:
                st.fraction = min(max(msg.fraction, 0.0), 1.0)
            elif msg.kind == RESULT:
                st.fraction, st.result, st.finished = 1.0, msg.payload, True
            else:
                st.finished, st.error, st.is_bug = True, str(msg.payload), msg.kind == BUG
                st.cancelled = self.cancel_event.is_set() and msg.kind == ERROR and msg.stage == "Cancelled"
        return st


# ------------------------------------------------------------------------- the single job registry
_registry: dict[str, ReconstructJob] = {}
_KEY = "current"


def current_job() -> ReconstructJob | None:
    """The job that was started and not yet collected, if any."""
    return _registry.get(_KEY)


def is_running() -> bool:
    return _KEY in _registry


def register_job(job: ReconstructJob) -> None:
    """Make ``job`` the current one; raises RuntimeError if another one is still there."""
    if _KEY in _registry:
        raise RuntimeError("a reconstruction job is already running")
    _registry[_KEY] = job


def release_job(job: ReconstructJob) -> None:
    """Forget ``job`` once its result has been collected (or dropped)."""
    if _registry.get(_KEY) is job:
        del _registry[_KEY]


def cancel_current(join: bool = False, discard: bool = False) -> None:
    """Ask the current job to stop; with ``join``, wait for its thread and forget it."""
    job = _registry.get(_KEY)
    if job is None:
        return
    job.cancel()
    if discard:
        job.discarded = True
    if join:
        if not job.join(JOIN_TIMEOUT_S):
            log.warning("the DUSt3R worker did not stop within %.0f s; leaving it behind", JOIN_TIMEOUT_S)
        release_job(job)


def status_snapshot() -> JobStatus | None:
    """The current job's status for drawing (never mutates anything)."""
    job = _registry.get(_KEY)
    return None if job is None else job.status
