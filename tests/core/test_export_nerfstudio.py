"""nerfstudio ``transforms.json`` and the binary PLY: nerfstudio's documented camera convention puts every
point of a photo on its pixel; paths are relative to the json and exist; the PLY holds the confident
points."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from core.export import export_reconstruction, scene_from_reconstruction
from core.export.ply import VERTEX
from core.geometry.cameras import pixel_grid
from core.geometry.photo import photo_from_net_pixels
from tests.core.test_export_scenes import CROPS, DIST, make_result


def read_ply(path: Path) -> tuple[list[str], np.ndarray]:
    """Header lines and vertices of a binary little-endian PLY with our vertex layout."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    return header, np.frombuffer(data[end:], dtype=VERTEX)


def nerfstudio_project(meta: dict, frame: dict, points: np.ndarray) -> np.ndarray:
    """Pixels of world ``points`` ``(M, 3)`` in ``frame``, as nerfstudio's docs define the data:
    camera-to-world ``transform_matrix`` with camera axes x right, y up, z back (looking down -z);
    intrinsics ``fl_x, fl_y, cx, cy`` in pixels with pixel centres at +0.5; OpenCV radial distortion."""

    def get(key, default=None):
        return frame.get(key, meta.get(key, default))

    c2w = np.array(frame["transform_matrix"])
    p = (points - c2w[:3, 3]) @ c2w[:3, :3]  # world -> camera (inverse of the rigid c2w)
    x, y = p[:, 0] / -p[:, 2], -p[:, 1] / -p[:, 2]  # image plane, v pointing down
    r2 = x * x + y * y
    radial = 1 + get("k1", 0.0) * r2 + get("k2", 0.0) * r2 * r2
    return np.stack([get("fl_x") * x * radial + get("cx"), get("fl_y") * y * radial + get("cy")], axis=1)


@pytest.mark.parametrize("with_dist", [False, True], ids=["pinhole", "distorted"])
def test_points_land_on_their_pixels_with_nerfstudio_convention(tmp_path, with_dist) -> None:
    rec = make_result(tmp_path / "photos", dist=DIST if with_dist else None)
    export_reconstruction(rec, "nerfstudio", tmp_path / "ns")
    meta = json.loads((tmp_path / "ns" / "transforms.json").read_text())
    assert meta["camera_model"] == "OPENCV" and len(meta["frames"]) == 3
    assert ("k1" in json.dumps(meta)) == with_dist
    for k, frame in enumerate(meta["frames"]):
        # photos differ in size and focal: per-frame intrinsics
        assert (frame["w"], frame["h"]) == tuple(int(v) for v in rec.photo_size[k])
        assert frame["fl_x"] == rec.K_photo[k, 0, 0] and frame["cy"] == rec.K_photo[k, 1, 2]
        h2, w2 = rec.conf[k].shape
        uv = photo_from_net_pixels(pixel_grid(h2, w2), rec.crops[k]).reshape(-1, 2)
        projected = nerfstudio_project(meta, frame, rec.pts3d[k].reshape(-1, 3).astype(np.float64))
        assert np.abs(projected - uv).max() < 0.01
        image = tmp_path / "ns" / frame["file_path"]
        assert not Path(frame["file_path"]).is_absolute() and image.is_file()
    assert meta["ply_file_path"] == "points3D.ply" and (tmp_path / "ns" / "points3D.ply").is_file()


def test_shared_intrinsics_go_to_the_top_level(tmp_path) -> None:
    rec = make_result(tmp_path / "photos", crops=(CROPS[0],) * 3)
    same = np.tile(rec.K_photo[0], (3, 1, 1))
    rec = dataclasses.replace(rec, K_photo=same, dist=np.tile([-0.1, 0.02], (3, 1)))
    export_reconstruction(rec, "nerfstudio", tmp_path / "ns")
    meta = json.loads((tmp_path / "ns" / "transforms.json").read_text())
    assert meta["fl_x"] == same[0, 0, 0] and meta["w"] == 120 and meta["h"] == 90
    assert meta["k1"] == -0.1 and meta["k2"] == 0.02
    assert all(set(frame) == {"file_path", "transform_matrix"} for frame in meta["frames"])


def test_ply_holds_the_confident_points(tmp_path) -> None:
    rec = make_result(tmp_path / "photos")
    scene = scene_from_reconstruction(rec, min_conf=4.0)
    report = export_reconstruction(rec, "ply", tmp_path / "cloud.ply", min_conf=4.0)
    assert report.files == (tmp_path / "cloud.ply",) and report.num_points == scene.num_points
    header, vertices = read_ply(tmp_path / "cloud.ply")
    assert header[:2] == ["ply", "format binary_little_endian 1.0"]
    assert f"element vertex {scene.num_points}" in header
    props = [line.split()[1:] for line in header if line.startswith("property")]
    assert props == [["float", "x"], ["float", "y"], ["float", "z"], ["uchar", "red"], ["uchar", "green"],
                     ["uchar", "blue"], ["float", "confidence"]]  # fmt: skip
    np.testing.assert_allclose(np.stack([vertices[a] for a in "xyz"], axis=1), scene.points, rtol=1e-6)
    np.testing.assert_array_equal(np.stack([vertices[c] for c in ("red", "green", "blue")], 1), scene.colors)
    assert vertices["confidence"].min() > 4.0
    # a folder gets points3D.ply
    export_reconstruction(rec, "ply", tmp_path / "folder", min_conf=4.0)
    assert len(read_ply(tmp_path / "folder" / "points3D.ply")[1]) == scene.num_points
