"""Footage sources: a video file, a numbered image sequence, or frames the caller already decoded.

``read_footage_info(path)`` is the cheap, pure probe the UI calls when the artist picks a file or folder.
``open_footage(source)`` gives a :class:`FootageSource` whose ``read(numbers, progress, cancel)`` yields the
decoded frames, with ``"Decoding k/N"`` progress and cancel between frames.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from ...progress import ProgressFn, check_cancel, no_progress
from .errors import FootageError
from .image_files import read_frame_file
from .info import FootageInfo
from .sequence import (
    SEQUENCE_SUFFIXES,
    ImageSequence,
    parse_numbered,
    sequence_from_files,
    sequence_in_folder,
    sequence_of_file,
)
from .video import decode_video, probe_video

DEFAULT_SEQUENCE_FPS = 24.0
_FILE_TYPES = {".jpg": "jpeg", ".jpe": "jpeg", ".tif": "tiff"}


class FootageSource:
    """Base class: ``info`` and ``read``; subclasses implement ``_frames``."""

    info: FootageInfo

    def read(
        self,
        numbers: Sequence[int],
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame number, (H, W, 3) uint8 sRGB)`` for ``numbers`` (sorted), reporting
        ``"Decoding k/N"`` after each frame (fraction k/N) and checking ``cancel`` before each one.

        Raises:
            FootageError: a frame is missing or unreadable, the video is truncated; Cancelled.
        """
        numbers = sorted(int(n) for n in numbers)
        progress = progress or no_progress
        total = len(numbers)
        progress(f"Decoding 0/{total}", 0.0)
        done = 0
        for number, rgb in self._frames(numbers, cancel):
            check_cancel(cancel)
            done += 1
            progress(f"Decoding {done}/{total}", done / max(total, 1))
            yield number, rgb

    def frame_path(self, number: int) -> str:
        """What the result's ``image_paths`` holds for frame ``number`` (a video: the video file)."""
        return self.info.path

    def _frames(self, numbers: list[int], cancel) -> Iterator[tuple[int, np.ndarray]]:
        raise NotImplementedError


class VideoSource(FootageSource):
    """A video file (PyAV); frames numbered from 1."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()
        self.info = probe_video(self.path)

    def _frames(self, numbers, cancel):
        return decode_video(self.path, numbers, self.info, cancel)


class SequenceSource(FootageSource):
    """A numbered image sequence; frames numbered as their files."""

    def __init__(self, sequence: ImageSequence, fps: float | None = None) -> None:
        self.sequence = sequence
        first = sequence.frames[sequence.first]
        self.fps_known = fps is not None
        self.info = FootageInfo(
            path=str(sequence.folder / sequence.pattern),
            kind="sequence",
            frame_count=len(sequence.frames),
            first_frame=sequence.first,
            last_frame=sequence.last,
            fps=float(fps if fps is not None else DEFAULT_SEQUENCE_FPS),
            fps_rational=None,
            codec=_FILE_TYPES.get(sequence.suffix, sequence.suffix.lstrip(".")),
            missing_frames=tuple(sequence.missing()),
            **_image_size(first),
        )

    def frame_path(self, number: int) -> str:
        path = self.sequence.frames.get(int(number))
        return str(path) if path is not None else self.info.path

    def _frames(self, numbers, cancel):
        for number in numbers:
            path = self.sequence.frames.get(number)
            if path is None:
                raise FootageError(f"{self.info.path}: frame {number} is missing")
            yield number, read_frame_file(path)


class ArraySource(FootageSource):
    """Frames already decoded by the caller (e.g. Blender's image loader on the main thread).

    Args:
        frames: ``{frame number: (H, W, 3) uint8 sRGB}`` (or float RGB in ``[0, 1]``, display-referred).
        fps: frames per second of the footage.
        name: what the messages and ``image_paths`` call it (the clip's file path, say).
    """

    def __init__(self, frames: Mapping[int, np.ndarray], fps: float, name: str = "frames") -> None:
        if not frames:
            raise FootageError("no frames given")
        if not fps > 0:
            raise FootageError(f"the frame rate must be positive, got {fps}")
        self.frames = {int(k): _as_rgb8(v, k) for k, v in sorted(frames.items())}
        first = next(iter(self.frames.values()))
        numbers = list(self.frames)
        present = set(numbers)
        self.info = FootageInfo(
            path=str(name),
            kind="frames",
            frame_count=len(numbers),
            first_frame=numbers[0],
            last_frame=numbers[-1],
            fps=float(fps),
            fps_rational=None,
            width=int(first.shape[1]),
            height=int(first.shape[0]),
            codec="decoded",
            missing_frames=tuple(f for f in range(numbers[0], numbers[-1] + 1) if f not in present),
        )

    def _frames(self, numbers, cancel):
        for number in numbers:
            if number not in self.frames:
                raise FootageError(f"{self.info.path}: frame {number} was not given")
            yield number, self.frames[number]


def _as_rgb8(frame: np.ndarray, number: int) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise FootageError(f"frame {number}: expected an (H, W, 3) image, got shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        arr = (np.clip(np.nan_to_num(arr.astype(np.float32)), 0, 1) * 255 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _image_size(path: Path) -> dict[str, int]:
    rgb = read_frame_file(path)
    return {"width": int(rgb.shape[1]), "height": int(rgb.shape[0])}


def _is_sequence_file(path: Path) -> bool:
    return path.suffix.lower() in SEQUENCE_SUFFIXES and parse_numbered(path.name) is not None


def open_footage(
    source: str | Path | Sequence[str | Path] | FootageSource, fps: float | None = None
) -> FootageSource:
    """A :class:`FootageSource` for ``source``.

    Args:
        source: a video file; a folder holding one numbered image sequence; one numbered image, alone or
            as a list of one (its whole sequence); a list of numbered images (exactly those frames); or a
            ready :class:`FootageSource`.
        fps: frame rate of an image sequence (files carry none; default 24, and the info says so). Ignored
            for videos, which know theirs.

    Raises:
        FootageError: nothing readable there (the message says why); DependencyError: PyAV is missing.
    """
    if isinstance(source, FootageSource):
        return source
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if path.is_dir():
            return SequenceSource(sequence_in_folder(path), fps)
        if not path.exists():
            raise FootageError(f"footage not found: {path}")
        if _is_sequence_file(path):
            return SequenceSource(sequence_of_file(path), fps)
        return VideoSource(path)
    paths = [Path(p) for p in source]
    if len(paths) == 1:  # one frame stands for its whole sequence
        return open_footage(paths[0], fps)
    return SequenceSource(sequence_from_files(paths), fps)


def read_footage_info(path: str | Path, fps: float | None = None) -> FootageInfo:
    """Probe footage without decoding it (one frame of a sequence is read for its size).

    See :func:`open_footage` for what ``path`` may be. Raises the same errors.
    """
    return open_footage(path, fps).info
