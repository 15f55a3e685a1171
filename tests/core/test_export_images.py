"""The image files of an export: photos copied or linked as they are, EXIF-rotated photos written upright,
names without collisions, footage named by frame number, the frames of a video written with PyAV."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys

import numpy as np
import pytest
from PIL import Image, ImageOps

from core.errors import DependencyError
from core.export import ExportError, export_reconstruction
from core.geometry.photo import PhotoCrop
from tests.core.test_export_scenes import CROPS, make_result

FRAME_CROP = PhotoCrop(photo_size=(64, 48), resized_size=(32, 24), crop_offset=(0, 0), net_size=(32, 24))


def test_photos_are_copied_byte_for_byte_or_linked(tmp_path) -> None:
    rec = make_result(tmp_path / "photos", suffix=".jpg")
    export_reconstruction(rec, "colmap", tmp_path / "copy")
    export_reconstruction(rec, "colmap-bin", tmp_path / "link", link_photos=True)
    for k, path in enumerate(rec.image_paths):
        name = f"photo_{k}.jpg"
        assert (tmp_path / "copy" / "images" / name).read_bytes() == open(path, "rb").read()
        assert os.stat(tmp_path / "link" / "images" / name).st_ino == os.stat(path).st_ino
        assert os.stat(tmp_path / "copy" / "images" / name).st_ino != os.stat(path).st_ino


def test_exif_rotated_photo_is_written_upright(tmp_path) -> None:
    rec = make_result(tmp_path / "photos", suffix=".jpg")
    # view 1 is a 90x130 portrait; store it as a 130x90 landscape JPEG with "rotate 90 CW" (orientation 6)
    stored = Image.fromarray(np.random.default_rng(5).integers(0, 256, (90, 130, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(rec.image_paths[1], exif=exif, quality=95)
    export_reconstruction(rec, "nerfstudio", tmp_path / "ns")
    meta = json.loads((tmp_path / "ns" / "transforms.json").read_text())
    assert [f["file_path"] for f in meta["frames"]] == [
        "images/photo_0.jpg",
        "images/photo_1.png",
        "images/photo_2.jpg",
    ]
    with (
        Image.open(tmp_path / "ns" / "images" / "photo_1.png") as written,
        Image.open(rec.image_paths[1]) as src,
    ):
        assert written.size == (90, 130)
        np.testing.assert_array_equal(np.asarray(written), np.asarray(ImageOps.exif_transpose(src)))


def test_a_photo_of_another_size_is_refused(tmp_path) -> None:
    rec = make_result(tmp_path / "photos")
    Image.new("RGB", (60, 45)).save(rec.image_paths[0])
    with pytest.raises(ExportError, match="60x45 pixels .* 120x90 photo"):
        export_reconstruction(rec, "colmap", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_photos_with_the_same_name_get_their_view_index(tmp_path) -> None:
    rec = make_result(tmp_path / "a", crops=(CROPS[0],) * 3)
    other = tmp_path / "b" / "Photo 0.png"  # the same name as view 0's on a case-insensitive file system
    other.parent.mkdir()
    shutil.copy(rec.image_paths[1], other)
    rec = dataclasses.replace(rec, image_paths=(rec.image_paths[0], str(other), rec.image_paths[2]))
    export_reconstruction(rec, "nerfstudio", tmp_path / "ns", min_conf=100.0)
    names = sorted(os.listdir(tmp_path / "ns" / "images"))
    assert names == ["0000_photo_0.png", "0001_Photo_0.png", "0002_photo_2.png"]


def test_image_sequence_frames_are_named_by_frame_number(tmp_path) -> None:
    rec = make_result(tmp_path / "plate", crops=(FRAME_CROP,) * 3)
    rec = dataclasses.replace(rec, frame_numbers=np.array([1001, 1003, 1005]), fps=24.0)
    export_reconstruction(rec, "nerfstudio", tmp_path / "ns", min_conf=100.0)
    meta = json.loads((tmp_path / "ns" / "transforms.json").read_text())
    assert [f["file_path"] for f in meta["frames"]] == [f"images/frame_00{n}.png" for n in (1001, 1003, 1005)]


def _write_video(path, levels, size) -> None:
    import av

    w, h = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=24)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv444p"
        for level in levels:
            frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), level, dtype=np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_video_frames_are_written_as_images(tmp_path) -> None:
    levels = [10, 40, 70, 100, 130, 160]
    video = tmp_path / "plate.mkv"
    _write_video(video, levels, FRAME_CROP.photo_size)
    rec = make_result(tmp_path / "unused", crops=(FRAME_CROP,) * 3)
    rec = dataclasses.replace(rec, image_paths=(str(video),) * 3, frame_numbers=np.array([1, 3, 4]), fps=24.0)
    report = export_reconstruction(rec, "colmap", tmp_path / "out")
    assert report.num_images == 3
    for number in (1, 3, 4):
        with Image.open(tmp_path / "out" / "images" / f"frame_{number:06d}.png") as image:
            assert image.size == FRAME_CROP.photo_size
            # videos count their frames from 1, as the reconstruction (and Blender's clip editor) does
            assert abs(float(np.asarray(image).mean()) - levels[number - 1]) < 2.0
    too_far = dataclasses.replace(rec, frame_numbers=np.array([1, 3, 9]))
    with pytest.raises(ExportError, match="frame 9"):
        export_reconstruction(too_far, "colmap", tmp_path / "far")


def test_video_without_pyav_is_a_dependency_error(tmp_path, monkeypatch) -> None:
    video = tmp_path / "plate.mp4"
    video.write_bytes(b"not decoded")
    rec = make_result(tmp_path / "unused", crops=(FRAME_CROP,) * 2)
    rec = dataclasses.replace(rec, image_paths=(str(video),) * 2, frame_numbers=np.array([0, 1]), fps=24.0)
    monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError
    with pytest.raises(DependencyError, match="PyAV"):
        export_reconstruction(rec, "nerfstudio", tmp_path / "out")
