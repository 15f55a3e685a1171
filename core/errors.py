"""Typed errors of the core.

Every error a user can cause (a bad photo, a wrong checkpoint, an impossible option) or the environment can
cause (no torch, no GPU memory) is a :class:`Dust3rError` subclass whose message is written for the user:
it says what is wrong and what to do next. The Blender operators and the command line show exactly that
message; anything that is not a ``Dust3rError`` is a bug and is reported with its traceback.
"""

from __future__ import annotations

import errno


class Dust3rError(Exception):
    """Base class of all expected, user-facing failures."""


class ConfigError(Dust3rError, ValueError):
    """An option has an invalid value (unknown scene graph, negative focal, ...)."""


class ImageError(Dust3rError):
    """A photo is missing, unreadable, of an unsupported format, or there are no photos at all."""


class CheckpointError(Dust3rError):
    """A checkpoint is missing, truncated, unsafe, not a checkpoint, or of an unexpected architecture."""


class DependencyError(Dust3rError):
    """A required package (torch, safetensors, pillow-heif for HEIC) is not installed."""


class DeviceError(Dust3rError):
    """The requested device is not available, or it ran out of memory."""


class ResourceError(DeviceError):
    """The run needs more memory (RAM, or GPU memory) than the machine has left.

    Raised before any work by the memory guard (the message gives the estimate and what to change: fewer
    photos or pairs, a smaller graph, another precision or device) and in place of an out-of-memory failure
    during the run. ``estimate`` is the :class:`core.resources.memory.RunEstimate` when one was made.
    """

    def __init__(self, message: str, estimate: object | None = None) -> None:
        super().__init__(message)
        self.estimate = estimate


class AlignmentError(Dust3rError):
    """Global alignment cannot run on these predictions (disconnected graph, no confident pixel, NaNs)."""


class Cancelled(Dust3rError):
    """The caller asked to stop (the cancel event was set)."""

    def __init__(self, message: str = "Cancelled by the user.") -> None:
        super().__init__(message)


class ClusterError(Dust3rError):
    """A Ray cluster cannot be reached, refuses the token, or its job failed (the message says which)."""


# OS errors that are the user's situation, not a bug: a full disk or quota, a file too large for the file
# system, a name too long, a symbolic-link loop, a read-only file system, no permission. The command line
# turns them into one line and exit 2 (:func:`user_os_error`); any other OSError keeps its traceback.
USER_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EFBIG", "ENAMETOOLONG", "ELOOP", "EROFS", "EACCES", "EPERM")
    if hasattr(errno, name)
)


def user_os_error(exc: BaseException) -> str | None:
    """One line for an :class:`OSError` in :data:`USER_ERRNOS` (``No space left on device: /x/RESULT.npz``),
    None for anything else."""
    if not isinstance(exc, OSError) or exc.errno not in USER_ERRNOS:
        return None
    where = exc.filename if exc.filename is not None else ""
    text = exc.strerror or str(exc)
    return f"{text}: {where}" if where else text
