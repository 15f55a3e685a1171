"""One frame of an image sequence -> ``(H, W, 3)`` uint8 sRGB.

PNG, JPEG, TIFF, WebP, BMP (8 or 16 bit) are read by Pillow exactly as photos are
(:func:`core.inference.images.open_photo`: EXIF orientation, 16-bit scaled to 8). OpenEXR is read by FFmpeg's
EXR decoder through PyAV (the library that reads the videos, so no second dependency): half or float,
scanline or tiled, the usual compressions (none, RLE, ZIP, PIZ, PXR24, B44, DWA); the RGB (or Y) channels of
the default layer. Its scene-linear values are shown as a viewer shows them: clipped to ``[0, 1]`` and
encoded with the sRGB transfer function (:mod:`.av_support`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import ImageError
from ...inference.images import open_photo
from .av_support import import_av, rgb8_from_frame
from .errors import FootageError
from .sequence import EXR_SUFFIXES


def read_exr(path: str | Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 sRGB of an OpenEXR file (see the module docstring).

    Raises:
        FootageError: the file is missing, damaged or uses an EXR feature FFmpeg does not read.
        DependencyError: PyAV is not installed.
    """
    av = import_av()
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
            return rgb8_from_frame(frame)
    except (av.error.FFmpegError, StopIteration, IndexError) as exc:
        raise FootageError(
            f"{path}: cannot read this EXR file ({exc or 'no image in it'}); damaged, or a multi-part/deep EXR: "
            "re-export the frame as a single-part scanline EXR, or as PNG/TIFF"
        ) from exc


def read_frame_file(path: str | Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 sRGB of one sequence frame (any supported type).

    Raises:
        FootageError: the frame is missing, unreadable or of an unsupported type (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise FootageError(f"frame not found: {path}")
    if path.suffix.lower() in EXR_SUFFIXES:
        return read_exr(path)
    try:
        image, _ = open_photo(path)
    except ImageError as exc:
        raise FootageError(f"unreadable frame: {exc}") from exc
    return np.asarray(image, dtype=np.uint8).copy()
