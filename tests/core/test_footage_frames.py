"""Frames as network images, and the frames kept out of a reconstruction (black, blank, duplicated)."""

from __future__ import annotations

import numpy as np
import pytest

from core.footage.frames import blank_note, check_frames, prepare_frame
from core.inference.images import load_image
from tests.footage_support import shot_frames, write_sequence


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return shot_frames(n=6, size=(96, 64))


def test_a_frame_becomes_the_same_network_image_as_the_photo_would(tmp_path, frames) -> None:
    (path,) = write_sequence(tmp_path, frames[:1], first=1)
    for size in (512, 224):
        photo = load_image(path, size)
        frame = prepare_frame(frames[0], size, "clip.mov")
        np.testing.assert_array_equal(frame.rgb, photo.rgb)
        assert frame.crop == photo.crop and str(frame.path) == "clip.mov"
        assert frame.tensor.shape == photo.tensor.shape and frame.exif_focal_35mm is None


def test_black_blank_and_duplicated_frames_are_flagged(frames) -> None:
    rgbs = [f.copy() for f in frames]
    rgbs[1] = np.full_like(rgbs[1], 3)  # black (a little noise floor)
    rgbs[1][0, 0] = 9
    rgbs[3] = rgbs[2].copy()  # a repeated frame
    rgbs[4] = rgbs[2].copy()  # and again
    rgbs[4][10:12, 10:12] += 1  # a tiny change below the threshold
    rgbs[5] = np.full_like(rgbs[5], 200)  # a white flash frame
    numbers = [11, 12, 13, 14, 15, 16]
    flagged = check_frames(rgbs, numbers)
    assert sorted(flagged) == [1, 3, 4, 5]
    assert flagged[1].reason == "blank" and flagged[1].note == "black frame"
    assert flagged[3].reason == "duplicate" and flagged[3].duplicate_of == 2 and "frame 13" in flagged[3].note
    assert flagged[4].duplicate_of == 2  # a run of repeats points at its original
    assert flagged[5].reason == "blank" and "one colour" in flagged[5].note


def test_ordinary_frames_are_not_flagged(frames) -> None:
    assert check_frames(list(frames), list(range(len(frames)))) == {}
    assert blank_note(frames[0]) is None
    noisy = np.clip(frames[0].astype(int) + np.random.default_rng(0).integers(-2, 3, frames[0].shape), 0, 255)
    assert check_frames([frames[0], noisy.astype(np.uint8)], [1, 2]) == {}  # a still camera with sensor noise
