"""Footage: a video file or an image sequence in, one camera per frame with one lens out (issue 8).

* Reading (no torch, no bpy): :func:`read_footage_info` (frame count, fps, size, codec, gaps) and
  :func:`open_footage` (:mod:`.source`): videos through PyAV/FFmpeg (:mod:`.video`), numbered image sequences
  (:mod:`.sequence`, EXR through FFmpeg with an sRGB view transform, :mod:`.image_files`), or frames the
  caller decoded (:class:`~.source.ArraySource`).
* The job: :func:`~.pipeline.reconstruct_footage` -> :class:`~.result.FootageResult` (a
  :class:`~core.result.Reconstruction` with ``frame_numbers`` and ``fps``, plus each frame's status:
  reconstructed, localised, interpolated or flagged).

The pipeline imports torch lazily: ``import core.footage`` stays cheap.
"""

from .info import FootageInfo
from .result import (
    FLAGGED,
    INTERPOLATED,
    LOCALISED,
    RECONSTRUCTED,
    STATUSES,
    FootageResult,
    read_frame_status,
)
from .source import ArraySource, FootageSource, open_footage, read_footage_info


def reconstruct_footage(*args, **kwargs):
    """See :func:`core.footage.pipeline.reconstruct_footage` (imported on first call)."""
    from .pipeline import reconstruct_footage as run

    return run(*args, **kwargs)


__all__ = [
    "FLAGGED",
    "INTERPOLATED",
    "LOCALISED",
    "RECONSTRUCTED",
    "STATUSES",
    "ArraySource",
    "FootageInfo",
    "FootageResult",
    "FootageSource",
    "open_footage",
    "read_footage_info",
    "read_frame_status",
    "reconstruct_footage",
]
