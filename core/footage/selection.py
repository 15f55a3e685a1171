"""Which source frames to use: a start/end range, every K-th frame, at most N frames (pure, no I/O).

Frame numbers are the source's own: the number in an image sequence's file names (``plate.1001.exr`` is frame
1001), or the position of a frame in a video counted from 1 (as Blender's Movie Clip Editor counts them).
The options are validated by :class:`core.config.FootageConfig`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ConfigError


def frames_in_range(available: Sequence[int], start: int | None, end: int | None) -> list[int]:
    """The frames of ``available`` inside ``[start, end]`` (None: open end), sorted.

    Raises:
        ConfigError: the range holds no frame of the footage (the message gives the footage's range).
    """
    frames = sorted(int(f) for f in available)
    if not frames:
        raise ConfigError("the footage has no frames")
    lo = frames[0] if start is None else int(start)
    hi = frames[-1] if end is None else int(end)
    chosen = [f for f in frames if lo <= f <= hi]
    if not chosen:
        raise ConfigError(
            f"no frame between {lo} and {hi}: the footage has frames {frames[0]} to {frames[-1]}"
        )
    return chosen


def select_frames(
    available: Sequence[int],
    start: int | None = None,
    end: int | None = None,
    every: int = 1,
    max_frames: int | None = None,
) -> list[int]:
    """The frames to reconstruct: of the range, every ``every``-th counted from its first frame (by frame
    number, so a gap does not shift the pattern), then at most ``max_frames`` spread evenly (:func:`spread`)."""
    in_range = frames_in_range(available, start, end)
    first = in_range[0]
    chosen = [f for f in in_range if (f - first) % every == 0]
    if max_frames is not None and len(chosen) > max_frames:
        chosen = spread(chosen, max_frames)
    return chosen


def spread(frames: Sequence[int], count: int) -> list[int]:
    """``count`` of ``frames`` spread evenly, the first and the last included (all of them if fewer)."""
    frames = list(frames)
    if count >= len(frames):
        return frames
    if count == 1:
        return [frames[0]]
    step = (len(frames) - 1) / (count - 1)
    return [frames[int(round(k * step))] for k in range(count)]
