"""Video files through PyAV (FFmpeg): probing and decoding the chosen frames.

Frames are numbered from 1 in presentation order (frame 1 is the first picture, as Blender's Movie Clip
Editor counts). Decoding is sequential from the start of the file: seeking in long-GOP codecs lands on key
frames only, and a frame-accurate camera needs every frame's number to be right. Frames that are not wanted
are decoded but never converted to RGB (the conversion is the costly part after decoding).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np

from ...progress import check_cancel
from .av_support import import_av, rgb8_from_frame
from .errors import FootageError
from .info import FootageInfo

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".mxf", ".webm", ".mpg", ".mpeg", ".ts"})
_CONVERT_HINT = "convert it to H.264, H.265 or ProRes (.mp4/.mov/.mkv) or to a PNG/EXR image sequence"


def _open(path: Path):
    av = import_av()
    if not path.is_file():
        raise FootageError(f"video not found: {path}")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise FootageError(
            f"{path.name} cannot be opened as a video ({_reason(exc)}): the file is damaged, truncated or not "
            f"a video; {_CONVERT_HINT}"
        ) from exc
    if not container.streams.video:
        container.close()
        raise FootageError(f"{path.name} has no video stream")
    return container


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().rstrip(".")


def _codec_name(stream) -> str:
    ctx = stream.codec_context
    return ctx.name if ctx is not None and ctx.codec is not None else "unknown"


def _check_decodable(path: Path, stream) -> None:
    av = import_av()
    name = _codec_name(stream)
    try:
        supported = name != "unknown" and av.codec.Codec(name, "r") is not None
    except (av.error.FFmpegError, ValueError):
        supported = False
    if not supported:
        what = "an unknown video codec" if name == "unknown" else f"the video codec {name!r}"
        raise FootageError(
            f"{path.name} uses {what}, which the bundled FFmpeg cannot decode; {_CONVERT_HINT}"
        )


def probe_video(path: str | Path) -> FootageInfo:
    """Frame count, frame rate, size and codec of a video file, without decoding it.

    The frame count comes from the container (exact for MP4/MOV); where the container does not store it
    (Matroska, some AVI) it is estimated from the duration and ``frame_count_exact`` is False.

    Raises:
        FootageError: missing file, not a video, no video stream, a codec FFmpeg cannot decode.
        DependencyError: PyAV is not installed.
    """
    path = Path(path).expanduser().resolve()
    with _open(path) as container:
        stream = container.streams.video[0]
        _check_decodable(path, stream)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise FootageError(f"{path.name}: the video does not say its frame rate")
        count, exact = int(stream.frames or 0), True
        if count <= 0:
            seconds = _duration_seconds(stream, container)
            count, exact = max(int(round(seconds * float(rate))), 0), False
        ctx = stream.codec_context
        width, height = int(ctx.width), int(ctx.height)
        sar = stream.sample_aspect_ratio
        return FootageInfo(
            path=str(path),
            kind="video",
            frame_count=count,
            first_frame=1,
            last_frame=count,
            fps=float(rate),
            fps_rational=(int(rate.numerator), int(rate.denominator)),
            width=width,
            height=height,
            codec=_codec_name(stream),
            pixel_aspect=float(sar) if sar else 1.0,
            frame_count_exact=exact,
        )


def _duration_seconds(stream, container) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000.0  # AV_TIME_BASE
    return 0.0


def _upright(frame, rgb: np.ndarray) -> np.ndarray:
    """Apply the stream's display rotation (phones store portrait video as rotated landscape)."""
    rotation = int(getattr(frame, "rotation", 0) or 0)
    quarter = int(round(rotation / 90.0)) % 4
    return np.ascontiguousarray(np.rot90(rgb, k=quarter)) if quarter else rgb


def decode_video(
    path: str | Path,
    wanted: Collection[int],
    info: FootageInfo | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame number, (H, W, 3) uint8 sRGB)`` for the ``wanted`` frame numbers, in order.

    Raises:
        FootageError: the file ends before the last wanted frame (truncated) or a frame cannot be decoded.
        Cancelled: ``cancel`` was set (checked before every frame).
    """
    path = Path(path).expanduser().resolve()
    wanted = set(int(f) for f in wanted)
    if not wanted:
        return
    last_wanted = max(wanted)
    av = import_av()
    number = 0
    with _open(path) as container:
        stream = container.streams.video[0]
        _check_decodable(path, stream)
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                check_cancel(cancel)
                number += 1
                if number in wanted:
                    yield number, _upright(frame, rgb8_from_frame(frame))
                if number >= last_wanted:
                    return
        except av.error.FFmpegError as exc:
            raise FootageError(
                f"{path.name}: frame {number + 1} cannot be decoded ({_reason(exc)}): the file is damaged or "
                f"truncated; {_CONVERT_HINT}"
            ) from exc
    expected = f" of the {info.frame_count} its header announces" if info and info.frame_count_exact else ""
    raise FootageError(
        f"{path.name} ends after frame {number}{expected}, before frame {last_wanted}: the file is truncated "
        "or damaged; re-export it, or choose an end frame it has"
    )
