"""``export --format depth``: per view an OpenEXR with float32 ``Z`` and ``confidence`` at the photo's size, read
back with OpenEXR and, for the channel list, by parsing the file's header bytes here; values against the RESULT
(Z = the network pixel's depth, looked up through the crop), NaN outside the crop, frame names of footage,
``depth.json``, and the command line's bad inputs."""

from __future__ import annotations

import dataclasses
import json
import struct
import threading

import numpy as np
import OpenEXR
import pytest
from scipy.ndimage import map_coordinates

from core.cli import main
from core.errors import Cancelled, ConfigError
from core.export import export_reconstruction, export_scene, scene_from_reconstruction
from core.export.depth import depth_file_names
from core.geometry.photo import PhotoCrop
from tests.core.test_export_scenes import make_result

# Scale 3 (odd): photo pixel 3 i + 1 is centred on network pixel i. View 1 has a vertical crop of 4 resized rows
# (12 photo rows) at the top and bottom, view 2 a horizontal one of 2 (6 photo columns) each side.
CROPS = (
    PhotoCrop(photo_size=(192, 144), resized_size=(64, 48), crop_offset=(0, 0), net_size=(64, 48)),
    PhotoCrop(photo_size=(192, 168), resized_size=(64, 56), crop_offset=(0, 4), net_size=(64, 48)),
    PhotoCrop(photo_size=(204, 144), resized_size=(68, 48), crop_offset=(2, 0), net_size=(64, 48)),
)
_PIXEL_TYPES = {0: "UINT", 1: "HALF", 2: "FLOAT"}


def exr_channels_from_header(path) -> dict[str, str]:
    """The ``channels`` attribute of an OpenEXR header, parsed from the bytes (OpenEXR file layout: magic,
    version, then ``name\\0 type\\0 size:int32 value`` attributes up to an empty name)."""
    data = path.read_bytes()
    assert struct.unpack("<I", data[:4])[0] == 20000630  # the OpenEXR magic number
    pos, channels = 8, None
    while data[pos] != 0:
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        name, kind = data[pos:name_end].decode(), data[name_end + 1 : type_end].decode()
        (size,) = struct.unpack("<i", data[type_end + 1 : type_end + 5])
        value = data[type_end + 5 : type_end + 5 + size]
        if name == "channels":
            assert kind == "chlist"
            channels, p = {}, 0
            while value[p] != 0:
                end = value.index(b"\0", p)
                pixel_type = struct.unpack("<i", value[end + 1 : end + 5])[0]
                channels[value[p:end].decode()] = _PIXEL_TYPES[pixel_type]
                p = end + 1 + 16  # pixel type, pLinear + 3 reserved bytes, xSampling, ySampling
        pos = type_end + 5 + size
    return channels


def read_exr(path) -> dict[str, np.ndarray]:
    with OpenEXR.File(str(path)) as f:
        return {name: np.array(ch.pixels) for name, ch in f.channels().items()}


@pytest.fixture
def rec(tmp_path):
    return make_result(tmp_path / "photos", crops=CROPS)


def test_depth_maps_hold_the_network_depth_at_the_photo_resolution(rec, tmp_path) -> None:
    path = tmp_path / "RESULT.npz"
    rec.save_npz(path)
    out = tmp_path / "depth"
    assert main(["export", "--input", str(path), "--format", "depth", "--out", str(out)]) == 0
    meta = json.loads((out / "depth.json").read_text())
    assert [v["file"] for v in meta["views"]] == ["photo_0.exr", "photo_1.exr", "photo_2.exr"]
    assert sorted(p.name for p in out.iterdir()) == [
        "depth.json",
        "photo_0.exr",
        "photo_1.exr",
        "photo_2.exr",
    ]
    for k, view in enumerate(meta["views"]):
        file = out / view["file"]
        assert exr_channels_from_header(file) == {"Z": "FLOAT", "confidence": "FLOAT"}
        ch = read_exr(file)
        w0, h0 = CROPS[k].photo_size
        assert (view["width"], view["height"]) == (w0, h0)
        np.testing.assert_allclose(view["K"], rec.K_photo[k], rtol=1e-12)
        np.testing.assert_allclose(view["cam2world"], rec.world_from_cam[k], rtol=1e-12)
        assert view["image"] == rec.image_paths[k] and view["frame"] == k
        z, conf = ch["Z"], ch["confidence"]
        assert z.dtype == conf.dtype == np.float32 and z.shape == conf.shape == (h0, w0)
        ox, oy = CROPS[k].crop_offset
        h2, w2 = rec.depth[k].shape
        # photo pixel (3 (i + ox) + 1, 3 (j + oy) + 1) is network pixel (i, j), exactly
        rows, cols = 3 * (np.arange(h2) + oy) + 1, 3 * (np.arange(w2) + ox) + 1
        np.testing.assert_array_equal(z[np.ix_(rows, cols)], rec.depth[k].astype(np.float32))
        np.testing.assert_allclose(conf[np.ix_(rows, cols)], rec.conf[k], rtol=1e-6)
        # what the crop cut is NaN, everything the network saw is finite
        seen = np.zeros((h0, w0), bool)
        seen[3 * oy : 3 * (oy + h2), 3 * ox : 3 * (ox + w2)] = True
        np.testing.assert_array_equal(np.isfinite(z), seen)
        np.testing.assert_array_equal(np.isfinite(conf), seen)
        # in between: bilinear where the four surrounding network depths agree within 5 %, else the nearest
        v, u = np.mgrid[0:h0, 0:w0]
        net_u = (u + 0.5) / 3 - 0.5 - ox
        net_v = (v + 0.5) / 3 - 0.5 - oy
        inner = (net_u >= 0) & (net_u < w2 - 1) & (net_v >= 0) & (net_v < h2 - 1)
        d = rec.depth[k].astype(np.float64)
        i0, j0 = np.floor(net_u[inner]).astype(int), np.floor(net_v[inner]).astype(int)
        four = np.stack([d[j0, i0], d[j0 + 1, i0], d[j0, i0 + 1], d[j0 + 1, i0 + 1]])
        smooth = four.max(0) <= four.min(0) * 1.05
        assert 0.5 < smooth.mean() < 1.0  # the synthetic depth has both
        bilinear = map_coordinates(d, [net_v[inner], net_u[inner]], order=1)
        np.testing.assert_allclose(z[inner][smooth], bilinear[smooth], rtol=1e-5)
        nearest = d[np.round(net_v[inner]).astype(int), np.round(net_u[inner]).astype(int)]
        np.testing.assert_allclose(z[inner][~smooth], nearest[~smooth], rtol=1e-6)
        # and Z is depth along the optical axis: a pixel's ray at Z is the network's 3-D point
        K = np.array(view["K"])
        j, i = 5, 7
        x0, y0 = cols[i] + 0.5, rows[j] + 0.5
        X_cam = z[rows[j], cols[i]] * np.linalg.solve(K, [x0, y0, 1.0])
        X = np.array(view["cam2world"]) @ np.append(X_cam, 1.0)
        np.testing.assert_allclose(X[:3], rec.pts3d[k][j, i], atol=1e-4)


def test_no_value_between_two_sides_of_a_depth_edge(rec, tmp_path) -> None:
    depth0 = rec.depth[0].copy()
    depth0[:, 32:] = 6.0
    depth0[:, :32] = 3.0
    scene = scene_from_reconstruction(dataclasses.replace(rec, depth=(depth0, *rec.depth[1:])))
    export_scene(scene, "depth", tmp_path / "d")
    z = read_exr(tmp_path / "d" / "photo_0.exr")["Z"]
    assert set(np.unique(z).tolist()) == {3.0, 6.0}  # nearest across the edge, never an in-between depth
    # the edge sits half way between network columns 31 and 32: photo column 3 * 32 = 96
    assert (z[:, :96] == 3.0).all() and (z[:, 96:] == 6.0).all()


def test_unknown_pixels_are_nan_and_depth_follows_the_world_scale(rec, tmp_path) -> None:
    pts = rec.pts3d[2].copy()
    pts[10, 20] = np.nan  # a pixel without a point
    rec = dataclasses.replace(rec, pts3d=(*rec.pts3d[:2], pts))
    similarity = np.eye(4)
    similarity[:3, :3] = 2.5 * np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    similarity[:3, 3] = [1, 2, 3]
    export_reconstruction(rec, "depth", tmp_path / "a")
    export_reconstruction(rec, "depth", tmp_path / "b", new_from_world=similarity)
    za = read_exr(tmp_path / "a" / "photo_2.exr")["Z"]
    zb = read_exr(tmp_path / "b" / "photo_2.exr")["Z"]
    ox = CROPS[2].crop_offset[0]
    assert np.isnan(za[3 * 10 + 1, 3 * (20 + ox) + 1])
    np.testing.assert_allclose(zb, 2.5 * za, rtol=1e-6)  # NaN where za is NaN
    meta = json.loads((tmp_path / "b" / "depth.json").read_text())
    np.testing.assert_allclose(
        np.array(meta["views"][2]["cam2world"]),
        similarity @ rec.world_from_cam[2] @ np.diag([1 / 2.5] * 3 + [1]),
        atol=1e-9,
    )


def _footage(rec, paths, frames):
    return dataclasses.replace(rec, image_paths=tuple(paths), frame_numbers=np.array(frames), fps=24.0)


def test_footage_frames_are_named_as_a_sequence(rec, tmp_path) -> None:
    seq = _footage(rec, [f"/shots/plate.{n}.png" for n in (1001, 1003, 1005)], [1001, 1003, 1005])
    assert depth_file_names(scene_from_reconstruction(seq)) == [
        "plate.1001.exr",
        "plate.1003.exr",
        "plate.1005.exr",
    ]
    video = _footage(rec, ["/shots/my shot.mp4"] * 3, [0, 12, 12345])
    assert depth_file_names(scene_from_reconstruction(video)) == [
        "my_shot.0000.exr",
        "my_shot.0012.exr",
        "my_shot.12345.exr",
    ]
    under = _footage(rec, [f"/s/shot_{n:04d}.exr" for n in (7, 8, 9)], [7, 8, 9])
    export_reconstruction(under, "depth", tmp_path / "seq")
    meta = json.loads((tmp_path / "seq" / "depth.json").read_text())
    assert [(v["file"], v["frame"]) for v in meta["views"]] == [
        ("shot.0007.exr", 7),
        ("shot.0008.exr", 8),
        ("shot.0009.exr", 9),
    ]
    assert all((tmp_path / "seq" / v["file"]).is_file() for v in meta["views"])


def test_photos_with_one_stem_get_their_view_index(rec) -> None:
    same = dataclasses.replace(rec, image_paths=("/a/IMG_1.jpg", "/b/IMG_1.jpg", "/c/other.png"))
    assert depth_file_names(scene_from_reconstruction(same)) == [
        "0000_IMG_1.exr",
        "0001_IMG_1.exr",
        "0002_other.exr",
    ]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_bad_outputs_are_one_line_errors(rec, tmp_path, capsys) -> None:
    path = tmp_path / "RESULT.npz"
    rec.save_npz(path)
    args = ["export", "--input", str(path), "--format", "depth", "--out"]
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main([*args, str(a_file)]) == 2
    assert "not a folder" in _one_line_error(capsys)
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    assert main([*args, str(full)]) == 2
    assert "not empty" in _one_line_error(capsys)
    assert sorted(p.name for p in full.iterdir()) == ["keep.txt"]
    assert main([*args, str(full), "--overwrite"]) == 0
    assert (full / "depth.json").is_file() and (full / "keep.txt").is_file()
    assert (
        main(
            [
                "export",
                "--input",
                str(tmp_path / "missing.npz"),
                "--format",
                "depth",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert "not found" in _one_line_error(capsys)


def test_progress_after_each_map_and_cancel_between_them(rec, tmp_path) -> None:
    scene = scene_from_reconstruction(rec)
    seen = []
    export_scene(scene, "depth", tmp_path / "a", progress=lambda stage, f: seen.append((stage, f)))
    assert seen == [("Depth maps (1/3)", 1 / 3), ("Depth maps (2/3)", 2 / 3), ("Depth maps (3/3)", 1.0)]
    cancel = threading.Event()

    def stop_after_first(stage, fraction):
        cancel.set()

    with pytest.raises(Cancelled):
        export_scene(scene, "depth", tmp_path / "b", progress=stop_after_first, cancel=cancel)
    assert not (tmp_path / "b").exists()  # a cancelled export is staged: nothing of it is left
    with pytest.raises(ConfigError, match="glb only"):
        export_scene(scene, "depth", tmp_path / "c", mesh=True)
