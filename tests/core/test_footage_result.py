"""THE reader of a footage RESULT.npz's arrays (``core.footage.result.read_footage_result``): what the
Blender import and any script get from another tool's or a damaged file."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.footage.result import (
    FLAGGED,
    RECONSTRUCTED,
    UNKNOWN,
    footage_of_reconstruction,
    read_footage_result,
)
from core.geometry.photo import PhotoCrop
from core.result import ResultFileError, read_result, reconstruction_from_depth


def _shot(n: int = 3, empty: tuple[int, ...] = ()):
    """A footage reconstruction of ``n`` frames numbered from 1001 at 24 fps; frames in ``empty`` have no
    points (NaN depth), as localised or interpolated frames have."""
    h, w = 4, 6
    crop = PhotoCrop(photo_size=(w * 4, h * 4), resized_size=(w, h), crop_offset=(0, 0), net_size=(w, h))
    K_net = np.array([[5.0, 0, 3.0], [0, 5.0, 2.0], [0, 0, 1]])
    world_from_cam = np.repeat(np.eye(4)[None], n, axis=0)
    world_from_cam[:, 0, 3] = np.arange(n) * 0.1
    depth = [np.full((h, w), np.nan if k in empty else 2.0) for k in range(n)]
    recon = reconstruction_from_depth(
        ["/plates/shot.mov"] * n,
        world_from_cam,
        np.repeat(K_net[None], n, axis=0),
        [crop] * n,
        depth,
        [np.ones((h, w))] * n,
        [np.zeros((h, w, 3))] * n,
    )
    return dataclasses.replace(recon, frame_numbers=np.arange(1001, 1001 + n), fps=24.0)


def test_a_reconstruction_alone_says_what_it_knows() -> None:
    footage = footage_of_reconstruction(_shot(3, empty=(1,)))
    assert footage.status == (RECONSTRUCTED, UNKNOWN, RECONSTRUCTED)
    assert footage.info.kind == "video" and footage.info.path == "/plates/shot.mov"
    assert (footage.info.first_frame, footage.info.last_frame, footage.info.fps) == (1001, 1003, 24.0)
    assert footage.info.fps_rational is None and (footage.info.width, footage.info.height) == (24, 16)
    assert footage.sensor_width_assumed and np.isnan(footage.focal_mm)


def test_the_arrays_written_are_the_arrays_read(tmp_path) -> None:
    recon = _shot(3)
    written = dataclasses.replace(
        footage_of_reconstruction(recon),
        status=(RECONSTRUCTED, FLAGGED, RECONSTRUCTED),
        notes=("", "black frame: pose interpolated", ""),
        sensor_width_mm=23.76,
        sensor_width_assumed=False,
        focal_mm=31.5,
    )
    written = dataclasses.replace(written, info=dataclasses.replace(written.info, fps_rational=(24000, 1001)))
    path = tmp_path / "shot.npz"
    written.save_npz(path)
    read = read_footage_result(path, read_result(path))
    assert (read.status, read.notes) == (written.status, written.notes)
    assert (read.sensor_width_mm, read.sensor_width_assumed, read.focal_mm) == (23.76, False, 31.5)
    assert (read.info.path, read.info.kind, read.info.fps_rational) == (
        "/plates/shot.mov",
        "video",
        (24000, 1001),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("frame_status", np.array(["reconstructed", "teleported", "flagged"])),  # a status we do not know
        ("fps_rational", np.array([24, 0])),  # no rate
        ("sensor_width_mm", np.float64(-3.0)),  # not a film back
    ],
)
def test_odd_footage_arrays_fall_back_to_what_the_reconstruction_says(tmp_path, name, value) -> None:
    recon = _shot(3)
    path = tmp_path / "odd.npz"
    recon.save_npz(path, extra={name: value})
    read = read_footage_result(path, read_result(path))
    base = footage_of_reconstruction(recon)
    if name == "frame_status":
        assert read.status == (RECONSTRUCTED, UNKNOWN, FLAGGED)
    else:
        assert read.status == base.status and read.notes == base.notes
    assert read.info.fps_rational is None
    assert read.sensor_width_mm == base.sensor_width_mm


@pytest.mark.parametrize("name", ["frame_status", "frame_notes"])
def test_per_frame_arrays_of_the_wrong_length_are_refused_by_the_checked_reader(tmp_path, name) -> None:
    path = tmp_path / "short.npz"
    _shot(3).save_npz(path, extra={name: np.array(["flagged"])})
    with pytest.raises(ResultFileError, match=f"{name} must have shape"):
        read_result(path)
