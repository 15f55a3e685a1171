"""The command line's stderr: a progress display and the log, sharing one stream without garbling it.

* On a terminal, ``progress(stage, fraction)`` (the callback the Blender sidebar also receives) draws one
  bar line, redrawn in place: the stage with its counters, the bar, the percentage, the elapsed and the
  estimated remaining time. A log record clears the bar, is written on its own line, and the bar is drawn
  again below it.
* Elsewhere (a pipe, a file, CI) the same reports become plain lines starting with ``progress:``, one per
  stage and at most one every :data:`LINE_INTERVAL_S` seconds within a stage, so a log stays short.
* ``-q`` shows neither progress nor anything below errors; ``-v`` adds the INFO log (estimates, details).

Every record is written once, by the one :class:`ConsoleHandler` that :func:`console_session` installs on the
root logger for the duration of a command (and removes afterwards, so repeated in-process runs never stack
handlers). The commands print their warnings only through ``logging``.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from ..progress import ProgressClock, format_duration

LINE_INTERVAL_S = 10.0
REDRAW_INTERVAL_S = 0.1
PROGRESS_PREFIX = "progress:"
MODES = ("bar", "lines", "off")
_COUNTERS = re.compile(r"[\d.,/%]+")


def stage_kind(stage: str) -> str:
    """``stage`` without its counters (``"Pairs 40/132"`` -> ``"Pairs"``): what makes it a new stage."""
    return " ".join(_COUNTERS.sub(" ", stage).split())


class Console:
    """Progress display and log lines on one text ``stream`` (thread-safe: workers may report progress).

    Args:
        mode: ``"bar"`` (a terminal), ``"lines"`` (plain lines) or ``"off"``.
        clock: a monotonic time source in seconds (tests pass their own).
        width: the terminal's width in columns (default: asked from the terminal).
    """

    def __init__(
        self,
        stream: TextIO,
        mode: str,
        clock: Callable[[], float] | None = None,
        width: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.stream, self.mode = stream, mode
        self._clock = clock or time.monotonic
        self._width = width
        self._lock = threading.Lock()
        self._timer: ProgressClock | None = None
        self._shown = ""  # the bar line on screen ("" when none)
        self._last = ("", 0.0)  # the latest (stage, fraction)
        self._last_draw = -1e9
        self._last_kind = None
        self._last_line = -1e9

    def progress(self, stage: str, fraction: float) -> None:
        """The ``progress(stage, fraction)`` callback: ``fraction`` of the whole command in ``[0, 1]``."""
        if self.mode == "off":
            return
        fraction = min(max(float(fraction), 0.0), 1.0)
        with self._lock:
            if self._timer is None or fraction < self._last[1] - 1e-9:
                self._timer = ProgressClock(self._clock)  # a new operation (or a new one started from 0)
                self._last_kind = None
            kind_changed = stage_kind(stage) != self._last_kind
            self._last = (stage, fraction)
            now = self._clock()
            if self.mode == "bar":
                if kind_changed or fraction >= 1.0 or now - self._last_draw >= REDRAW_INTERVAL_S:
                    self._draw(now)
                if fraction >= 1.0:
                    self._finish_bar()
            elif kind_changed or fraction >= 1.0 or now - self._last_line >= LINE_INTERVAL_S:
                self._write(f"{PROGRESS_PREFIX} {self._status(stage, fraction)}\n")
                self._last_line = now
                if fraction >= 1.0:
                    self._timer = None
            self._last_kind = stage_kind(stage)

    def write_line(self, text: str) -> None:
        """Write ``text`` on its own line(s), above the bar (which is drawn again below it)."""
        with self._lock:
            had_bar = bool(self._shown)
            if had_bar:
                self._write("\r\x1b[K")
                self._shown = ""
            self._write(text.rstrip("\n") + "\n")
            if had_bar:
                self._draw(self._clock())

    def close(self) -> None:
        """End the bar's line (if one is on screen)."""
        with self._lock:
            self._finish_bar()

    def _status(self, stage: str, fraction: float) -> str:
        timer = self._timer
        elapsed = format_duration(timer.elapsed())
        remaining = timer.remaining(fraction)
        left = "" if fraction >= 1.0 else f", {format_duration(remaining)} left"
        return f"{100 * fraction:3.0f}% {stage} ({elapsed} elapsed{left})"

    def _draw(self, now: float) -> None:
        stage, fraction = self._last
        width = self._width or shutil.get_terminal_size((80, 24)).columns
        timer = self._timer
        times = (
            f"{format_duration(timer.elapsed())} elapsed, {format_duration(timer.remaining(fraction))} left"
        )
        tail = f" {100 * fraction:3.0f}%  {times}"
        label = stage if len(stage) <= 32 else stage[:31] + "…"
        bar_width = max(10, min(40, width - len(label) - len(tail) - 4))
        filled = round(bar_width * fraction)
        line = f"{label} [{'#' * filled}{'-' * (bar_width - filled)}]{tail}"[: max(width - 1, 20)]
        self._write(f"\r{line}\x1b[K")
        self._shown, self._last_draw = line, now

    def _finish_bar(self) -> None:
        if self._shown:
            self._write("\n")
            self._shown = ""
        if self._last[1] >= 1.0:
            self._timer = None

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class ConsoleHandler(logging.Handler):
    """Writes log records through a :class:`Console`: ``warning: ...``, ``error: ...``; INFO as the message;
    DEBUG with the logger's name."""

    def __init__(self, console: Console, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.console = console

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {message}"
        if record.levelno >= logging.INFO:
            return message
        return f"{record.name}: {message}"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.write_line(self.format(record))
        except (OSError, ValueError):  # the stream was closed (a broken pipe): nothing left to tell
            self.handleError(record)


def log_level(verbose: bool, quiet: bool) -> int:
    """The level a command logs at: INFO with ``-v``, ERROR with ``-q``, else WARNING."""
    return logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING


def progress_mode(stream: TextIO, quiet: bool) -> str:
    """``"off"`` with ``-q``, ``"bar"`` when ``stream`` is a terminal, else ``"lines"``."""
    if quiet:
        return "off"
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


@contextmanager
def console_session(verbose: bool, quiet: bool, stream: TextIO | None = None) -> Iterator[Console]:
    """A :class:`Console` on ``stream`` (default: ``sys.stderr``) whose handler is the one log output of
    the command; the root logger's level, its handlers and the ``warnings`` capture are restored after."""
    stream = stream or sys.stderr
    level = log_level(verbose, quiet)
    console = Console(stream, progress_mode(stream, quiet))
    handler = ConsoleHandler(console, level)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(min(previous_level, level))  # never hides what a caller (a test) asked to see
    logging.captureWarnings(True)  # library warnings (warnings.warn) go through the one handler too
    try:
        yield console
    finally:
        console.close()
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(previous_level)
