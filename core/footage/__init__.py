"""Footage maths: which frames to reconstruct, the shot's lens, localising and filling frames, the result.

* Reading (no torch, no bpy) lives in :mod:`.read`: :func:`read_footage_info` (frame count, fps, size, codec,
  gaps) and :func:`open_footage`: videos through PyAV/FFmpeg, numbered image sequences (EXR through FFmpeg
  with an sRGB view transform), or frames the caller decoded (:class:`~.read.source.ArraySource`).
* The job is :func:`core.jobs.footage.reconstruct_footage` -> :class:`~.result.FootageResult` (a
  :class:`~core.result.Reconstruction` with ``frame_numbers`` and ``fps``, plus each frame's status:
  reconstructed, localised, interpolated or flagged).

``import core.footage`` stays cheap: nothing here imports torch at module level.
"""

from .read.info import FootageInfo
from .read.source import ArraySource, FootageSource, open_footage, read_footage_info
from .result import (
    FLAGGED,
    INTERPOLATED,
    LOCALISED,
    RECONSTRUCTED,
    STATUSES,
    UNKNOWN,
    FootageResult,
    footage_of_reconstruction,
    read_footage_result,
)

__all__ = [
    "FLAGGED",
    "INTERPOLATED",
    "LOCALISED",
    "RECONSTRUCTED",
    "STATUSES",
    "UNKNOWN",
    "ArraySource",
    "FootageInfo",
    "FootageResult",
    "FootageSource",
    "open_footage",
    "read_footage_info",
    "footage_of_reconstruction",
    "read_footage_result",
]
