"""What the artist and the UI need to know about footage before reconstructing it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FootageInfo:
    """A video file or an image sequence, as probed (nothing decoded).

    Attributes:
        path: the video file, or the image sequence as ``folder/plate.####.exr``.
        kind: ``"video"`` or ``"sequence"``.
        frame_count: number of frames (a sequence: files present; a video: see ``frame_count_exact``).
        first_frame, last_frame: source frame numbers (a video counts from 1; a sequence has its file
            numbers, e.g. 1001).
        fps: frames per second (float); for a sequence the rate given by the caller (files carry none).
        fps_rational: ``(numerator, denominator)`` of the video's rate, e.g. ``(24000, 1001)``; None for
            sequences (Blender's ``fps``/``fps_base`` need it exactly).
        width, height: frame size in pixels (after nothing: the stored size; a video's display rotation is
            applied when frames are decoded).
        codec: FFmpeg's codec name (``h264``, ``hevc``, ``prores``, ...) or the sequence's file type
            (``png``, ``exr``, ...).
        pixel_aspect: the sample aspect ratio (1.0 for square pixels; anamorphic footage differs).
        frame_count_exact: False when the container does not store the count and it was estimated from
            the duration.
        missing_frames: frame numbers absent inside a sequence's range (gaps); empty for videos.
    """

    path: str
    kind: str
    frame_count: int
    first_frame: int
    last_frame: int
    fps: float
    fps_rational: tuple[int, int] | None
    width: int
    height: int
    codec: str
    pixel_aspect: float = 1.0
    frame_count_exact: bool = True
    missing_frames: tuple[int, ...] = ()

    @property
    def frame_numbers(self) -> list[int]:
        """All source frame numbers present (a sequence's gaps left out)."""
        missing = set(self.missing_frames)
        return [f for f in range(self.first_frame, self.last_frame + 1) if f not in missing]

    def summary(self) -> str:
        """One line for the UI: ``"plate.####.exr: 48 frames (1001-1048), 1920x1080, exr, 24 fps"``."""
        name = self.path.replace("\\", "/").rsplit("/", 1)[-1]
        fps = f"{self.fps:.3f}".rstrip("0").rstrip(".")
        count = f"{self.frame_count}" if self.frame_count_exact else f"about {self.frame_count}"
        gaps = f", {len(self.missing_frames)} missing" if self.missing_frames else ""
        return (
            f"{name}: {count} frames ({self.first_frame}-{self.last_frame}{gaps}), "
            f"{self.width}x{self.height}, {self.codec}, {fps} fps"
        )
