"""Progress reporting and cancellation, shared by every long-running entry point of the core.

Long operations take two optional keyword arguments:

``progress(stage: str, fraction: float) -> None``
    ``stage`` is a short human-readable label that may carry counters (``"Encoding 3/12"``,
    ``"Pairs 40/132"``, ``"Aligning 120/300"``); ``fraction`` is the completed fraction of the WHOLE
    operation the callee was asked to do, in ``[0, 1]``. Callers that nest operations rescale it with
    :func:`sub_progress`. The callback runs on the worker thread: it must be cheap and thread-safe
    (the Blender side only puts the values in a queue).

``cancel: threading.Event | None``
    Checked between batches and iterations with :func:`check_cancel`, which raises
    :class:`~core.errors.Cancelled`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from .errors import Cancelled

ProgressFn = Callable[[str, float], None]


def no_progress(stage: str, fraction: float) -> None:
    """A progress callback that ignores everything."""


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise :class:`Cancelled` if ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def sub_progress(progress: ProgressFn | None, start: float, end: float) -> ProgressFn:
    """Map a nested operation's ``[0, 1]`` fraction onto ``[start, end]`` of the caller's."""
    if progress is None:
        return no_progress
    span = end - start

    def report(stage: str, fraction: float) -> None:
        progress(stage, start + span * min(max(fraction, 0.0), 1.0))

    return report


class ProgressClock:
    """Elapsed and remaining time of one operation, from its ``progress(stage, fraction)`` reports.

    The remaining time is ``elapsed * (1 - f) / f``: the rate so far, extrapolated. It is unknown (None)
    until a little of the work is done (``fraction`` of at least ``min_fraction`` after ``min_seconds``),
    because the first stages (loading a model) say little about the rest.

    Args:
        clock: a monotonic time source in seconds (``time.monotonic``; tests pass their own).
    """

    def __init__(
        self, clock: Callable[[], float] | None = None, min_fraction: float = 0.02, min_seconds: float = 1.0
    ) -> None:
        import time

        self._clock = clock or time.monotonic
        self.start = self._clock()
        self.min_fraction, self.min_seconds = min_fraction, min_seconds

    def elapsed(self) -> float:
        """Seconds since the operation started."""
        return self._clock() - self.start

    def remaining(self, fraction: float) -> float | None:
        """Estimated seconds left at ``fraction`` done, or None while unknown."""
        elapsed = self.elapsed()
        if fraction >= 1.0:
            return 0.0
        if fraction < self.min_fraction or elapsed < self.min_seconds:
            return None
        return elapsed * (1.0 - fraction) / fraction


def format_duration(seconds: float | None) -> str:
    """``seconds`` as ``m:ss`` (``h:mm:ss`` from an hour on); ``--:--`` when unknown (None)."""
    if seconds is None:
        return "--:--"
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
