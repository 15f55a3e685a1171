"""Which frames of the footage are reconstructed, which are filled in, and the decoded frames themselves."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np

from ..config import FootageConfig
from ..geometry.photo import PhotoCrop
from ..progress import ProgressFn
from .frames import FrameCheck, check_frames, prepare_frame
from .read.errors import FootageError
from .read.sequence import format_ranges
from .read.source import FootageSource
from .selection import frames_in_range, select_frames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FramePlan:
    """``keys``: the frames to reconstruct (with a fill, the range's last frame too, so that no filled frame
    lies after the last reconstructed one); ``fills``: the other frames of the range that get a pose
    (``fill`` = localise or interpolate); ``decode``: the frames whose pixels are needed; ``messages``."""

    keys: list[int]
    fills: list[int]
    decode: list[int]
    messages: list[str] = field(default_factory=list)

    @property
    def output(self) -> list[int]:
        return sorted(set(self.keys) | set(self.fills))


def plan_frames(source: FootageSource, config: FootageConfig) -> FramePlan:
    """The frame plan of ``source`` under ``config`` (gaps in the range are an error unless allowed)."""
    info = source.info
    available = info.frame_numbers
    in_range = frames_in_range(available, config.start, config.end)
    messages: list[str] = []
    gaps = [f for f in info.missing_frames if in_range[0] <= f <= in_range[-1]]
    if gaps:
        text = (
            f"{len(gaps)} frame(s) missing between {in_range[0]} and {in_range[-1]} ({format_ranges(gaps)})"
        )
        if not config.allow_gaps:
            raise FootageError(
                f"{info.path}: {text}: add the missing files, choose a range without them (start/end), "
                "or allow gaps to reconstruct without them"
            )
        messages.append(f"{text}: reconstructed without them")
    keys = select_frames(available, config.start, config.end, config.every, config.max_frames)
    if config.fill != "none" and in_range[-1] not in keys:
        keys.append(in_range[-1])  # filled frames lie between two reconstructed ones: never extrapolated
    fills = [] if config.fill == "none" else sorted(set(in_range) - set(keys))
    decode = sorted(set(keys) | (set(fills) if config.fill == "localise" else set()))
    return FramePlan(keys=keys, fills=fills, decode=decode, messages=messages)


@dataclass
class DecodedFrames:
    """Network-size frames by frame number: ``rgb`` ``(H, W, 3)`` uint8 each, one ``crop`` for the shot."""

    rgb: dict[int, np.ndarray]
    crop: PhotoCrop
    checks: dict[int, FrameCheck]


def decode_frames(
    source: FootageSource,
    numbers: list[int],
    size: int,
    check: bool,
    progress: ProgressFn,
    cancel: threading.Event | None,
) -> DecodedFrames:
    """Decode ``numbers``, bring each to the network size right away (memory: network-size frames only),
    and flag the blank and duplicated ones (when ``check``).

    Raises:
        FootageError: a frame cannot be read, or the frames differ in size (a plate has one size).
    """
    rgb: dict[int, np.ndarray] = {}
    crop: PhotoCrop | None = None
    for number, frame in source.read(numbers, progress, cancel):
        image = prepare_frame(frame, size, source.info.path)
        if crop is not None and image.crop.photo_size != crop.photo_size:
            raise FootageError(
                f"{source.info.path}: frame {number} is {image.crop.photo_size[0]}x{image.crop.photo_size[1]}, "
                f"the first frame {crop.photo_size[0]}x{crop.photo_size[1]}: all frames of a shot must share one size"
            )
        crop = image.crop
        rgb[number] = image.rgb
    if crop is None:
        raise FootageError(f"{source.info.path}: no frame to decode")
    order = sorted(rgb)
    checks = {}
    if check:
        found = check_frames([rgb[n] for n in order], order)
        checks = {order[k]: c if c.duplicate_of is None else _renumber(c, order) for k, c in found.items()}
    return DecodedFrames(rgb=rgb, crop=crop, checks=checks)


def _renumber(check: FrameCheck, order: list[int]) -> FrameCheck:
    return FrameCheck(check.reason, check.note, duplicate_of=order[check.duplicate_of])
