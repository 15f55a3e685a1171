"""Decoded frames -> network images, and the frames that must not be reconstructed (blank, duplicated).

A frame becomes a network image exactly as a photo does (:func:`core.inference.images.plan_crop`: resize,
centre crop, normalise), so :class:`~core.geometry.photo.PhotoCrop` maps it back to the plate.

Checks on the network-size image (cheap, and compression noise is averaged by the downscale):

* blank: almost no contrast (1st to 99th percentile of the luminance within ``BLANK_RANGE`` levels of 255),
  or almost black (99th percentile below ``BLACK_LEVEL``): a black frame, a flash frame, a slate;
* duplicate: mean absolute difference to the previous usable frame below ``DUPLICATE_LEVEL`` levels (a
  frame repeated by a frame-rate conversion or a render glitch; a still camera on a still scene also
  matches, and its pose is indeed the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..inference.images import LoadedImage, normalize_rgb8, plan_crop

BLACK_LEVEL = 10.0
BLANK_RANGE = 6.0
DUPLICATE_LEVEL = 0.5
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def prepare_frame(rgb: np.ndarray, size: int, label: str | Path) -> LoadedImage:
    """A decoded ``(H, W, 3)`` uint8 frame as the network image of ``size`` (512 or 224).

    ``label`` becomes the image's ``path`` (the video file, or the frame's file). ``exif_focal_35mm`` is None.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 frame, got {rgb.dtype} {rgb.shape}")
    plan = plan_crop((rgb.shape[1], rgb.shape[0]), size)
    resized = Image.fromarray(rgb).resize(plan.crop.resized_size, plan.resample)
    net = np.asarray(resized.crop(plan.box), dtype=np.uint8).copy()
    return LoadedImage(
        path=Path(label), tensor=normalize_rgb8(net), rgb=net, crop=plan.crop, exif_focal_35mm=None
    )


@dataclass(frozen=True)
class FrameCheck:
    """Why a frame is kept out of the reconstruction: ``reason`` is ``"blank"`` or ``"duplicate"``.

    ``duplicate_of`` is the index (into the checked frames) of the frame it repeats.
    """

    reason: str
    note: str
    duplicate_of: int | None = None


def blank_note(rgb: np.ndarray) -> str | None:
    """A note when the ``(H, W, 3)`` uint8 frame is black or of one colour, else None."""
    luma = rgb.astype(np.float32) @ _LUMA
    lo, hi = np.percentile(luma, [1, 99])
    if hi < BLACK_LEVEL:
        return "black frame"
    if hi - lo < BLANK_RANGE:
        return f"blank frame (one colour, level {np.mean(luma):.0f}/255)"
    return None


def check_frames(rgbs: list[np.ndarray], frame_numbers: list[int]) -> dict[int, FrameCheck]:
    """``{index: FrameCheck}`` for the frames of ``rgbs`` (same size, uint8) that must not be reconstructed.

    Duplicates are found against the previous usable frame, so a run of repeats points at its original.
    """
    flagged: dict[int, FrameCheck] = {}
    previous: int | None = None
    for k, rgb in enumerate(rgbs):
        note = blank_note(rgb)
        if note is not None:
            flagged[k] = FrameCheck("blank", note)
            continue
        if previous is not None and rgbs[previous].shape == rgb.shape:
            diff = float(np.mean(np.abs(rgb.astype(np.int16) - rgbs[previous].astype(np.int16))))
            if diff < DUPLICATE_LEVEL:
                note = f"duplicate of frame {frame_numbers[previous]} (mean difference {diff:.2f}/255)"
                flagged[k] = FrameCheck("duplicate", note, duplicate_of=previous)
                continue
        previous = k
    return flagged
