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
