"""``export --format glb``: binary glTF 2.0 read back by an independent reader (pygltflib) and checked against
the RESULT: positions (glTF's +Y-up world, ``F = diag(1, -1, -1)``), linear colours, cameras (a point projected
through the glTF camera lands where ``K_photo`` puts it), per-view meshes without faces across depth jumps,
``--no-cameras``, and the command line's bad inputs."""

from __future__ import annotations

import dataclasses
import struct
import subprocess
import sys
import warnings

import numpy as np
import pygltflib
import pytest
from pygltflib.validator import validate

from core.cli import main
from core.color import linear_from_srgb
from core.export import (
    ExportError,
    ExportScene,
    export_reconstruction,
    export_scene,
    scene_from_reconstruction,
)
from core.geometry.blender_camera import BLENDER_WORLD_FROM_OPENCV_WORLD
from core.geometry.gltf_frames import GLTF_WORLD_FROM_BLENDER_WORLD, GLTF_WORLD_FROM_OPENCV_WORLD
from core.geometry.transforms import invert_rigid
from tests.conftest import REPO_ROOT
from tests.core.test_export_scenes import look_at, make_result

F = np.diag([1.0, -1.0, -1.0])
_DTYPES = {5126: np.float32, 5123: np.uint16, 5125: np.uint32}
_WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}


def read_glb(path):
    """``(gltf, accessor reader)``: pygltflib parses the container and JSON; the arrays are decoded here from
    the accessors, buffer views and BIN chunk (byte offsets and strides as the specification defines)."""
    gltf = pygltflib.GLTF2().load(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pygltflib calls its validator provisional
        validate(gltf)
    blob = gltf.binary_blob()

    def accessor(index: int) -> np.ndarray:
        acc = gltf.accessors[index]
        view = gltf.bufferViews[acc.bufferView]
        dtype = np.dtype(_DTYPES[acc.componentType])
        width = _WIDTH[acc.type]
        offset = (view.byteOffset or 0) + (acc.byteOffset or 0)
        assert offset % 4 == 0 and (view.byteStride or 0) % 4 == 0  # vertex attributes 4-byte aligned
        stride = view.byteStride or dtype.itemsize * width
        raw = np.frombuffer(blob, np.uint8, count=stride * acc.count, offset=offset).reshape(
            acc.count, stride
        )
        out = raw[:, : dtype.itemsize * width].copy().view(dtype).reshape(acc.count, width)
        if acc.normalized:
            out = out.astype(np.float64) / np.iinfo(dtype).max
        return out

    return gltf, accessor


def _node_matrix(node) -> np.ndarray:
    return np.array(node.matrix, dtype=np.float64).reshape(4, 4).T  # glTF stores column-major


def _confident(rec, min_conf):
    pts, rgb = [], []
    for k in range(rec.num_views):
        keep = rec.conf[k] > min_conf
        pts.append(rec.pts3d[k][keep])
        rgb.append(np.round(rec.colors[k][keep] * 255))
    return np.concatenate(pts), np.concatenate(rgb)


@pytest.fixture
def result_npz(tmp_path):
    rec = make_result(tmp_path / "photos")
    path = tmp_path / "RESULT.npz"
    rec.save_npz(path)
    return rec, path


def test_glb_points_and_cameras_from_the_command_line(result_npz, tmp_path) -> None:
    rec, path = result_npz
    out = tmp_path / "scene.glb"
    proc = subprocess.run(
        [sys.executable, "-m", "core", "export", "--input", str(path), "--format", "glb", "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    gltf, accessor = read_glb(out)
    assert gltf.asset.version == "2.0"
    # the file itself: 'glTF', version 2, total length, a JSON then a BIN chunk
    head = out.read_bytes()[:20]
    assert struct.unpack("<4sII", head[:12]) == (b"glTF", 2, out.stat().st_size)
    assert head[16:20] == b"JSON"

    mesh_nodes = [n for n in gltf.nodes if n.mesh is not None]
    assert len(mesh_nodes) == 1 and len(gltf.meshes) == 1
    (primitive,) = gltf.meshes[0].primitives
    assert primitive.mode == pygltflib.POINTS and primitive.indices is None
    pts, rgb = _confident(rec, 3.0)
    positions = accessor(primitive.attributes.POSITION)
    np.testing.assert_allclose(positions, pts @ F.T, atol=1e-6)
    acc = gltf.accessors[primitive.attributes.POSITION]
    np.testing.assert_allclose(acc.min, positions.min(0), rtol=1e-6)
    np.testing.assert_allclose(acc.max, positions.max(0), rtol=1e-6)
    colours = accessor(primitive.attributes.COLOR_0)
    assert gltf.accessors[primitive.attributes.COLOR_0].componentType == pygltflib.UNSIGNED_SHORT
    np.testing.assert_allclose(colours[:, :3], linear_from_srgb(rgb / 255.0), atol=1.0 / 65535 + 1e-7)
    assert (colours[:, 3] == 1.0).all()
    assert colours[:, :3].min() < 0.01 < 0.5 < colours[:, :3].max()  # linear, not the sRGB values

    cam_nodes = [n for n in gltf.nodes if n.camera is not None]
    assert len(cam_nodes) == rec.num_views == len(gltf.cameras)
    for k, node in enumerate(cam_nodes):
        np.testing.assert_allclose(
            _node_matrix(node),
            np.diag([1, -1, -1, 1.0]) @ rec.world_from_cam[k] @ np.diag([1, -1, -1, 1.0]),
            atol=1e-12,
        )
        cam = gltf.cameras[node.camera]
        assert cam.type == "perspective"
        w0, h0 = rec.photo_size[k]
        assert cam.perspective.aspectRatio == pytest.approx(w0 / h0)
        assert cam.perspective.yfov == pytest.approx(2 * np.arctan(h0 / (2 * rec.K_photo[k, 1, 1])))
        assert 0 < cam.perspective.znear < 0.1
        np.testing.assert_allclose(node.extras["K"], rec.K_photo[k])
        assert (node.extras["width"], node.extras["height"]) == (w0, h0)
    assert all(gltf.nodes.index(n) in gltf.scenes[gltf.scene].nodes for n in gltf.nodes)


def _gltf_pixel(node, camera, width, height, X_gltf) -> np.ndarray:
    """glTF 2.0's perspective projection (specification, "Projection Matrices") of world points to pixels of
    a ``width x height`` image (continuous coordinates, v down)."""
    cam_from_world = np.linalg.inv(_node_matrix(node))
    x = X_gltf @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    t = np.tan(camera.perspective.yfov / 2)
    ndc_x = x[:, 0] / (-x[:, 2]) / (camera.perspective.aspectRatio * t)
    ndc_y = x[:, 1] / (-x[:, 2]) / t
    return np.stack([(ndc_x + 1) / 2 * width, (1 - ndc_y) / 2 * height], axis=1)


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (1001, 667)])
def test_a_point_projects_through_the_gltf_camera_where_K_photo_puts_it(tmp_path, size) -> None:
    # glTF cameras have one focal and a centred principal point: the contract holds exactly for such photos
    rng = np.random.default_rng(size[0])
    w0, h0 = size
    f = rng.uniform(0.8, 1.5) * max(size)
    K = np.array([[f, 0, w0 / 2], [0, f, h0 / 2], [0, 0, 1.0]])
    poses = np.stack([look_at(rng.normal(0, 2, 3) + [0, 0, -4], rng.normal(0, 0.3, 3)) for _ in range(3)])
    points = rng.normal(0, 0.5, (500, 3))
    scene = ExportScene(
        image_paths=tuple(f"/p/{k}.png" for k in range(3)),
        frame_numbers=np.arange(3),
        is_footage=False,
        world_from_cam=poses,
        K_photo=np.stack([K] * 3),
        photo_size=np.array([size] * 3),
        dist=np.zeros((3, 2)),
        points=points,
        colors=rng.integers(0, 256, (500, 3)),
        confidence=np.full(500, 5.0),
    )
    report = export_scene(scene, "glb", tmp_path / "out")
    assert report.out == tmp_path / "out" / "scene.glb"
    gltf, accessor = read_glb(report.out)
    X = accessor(gltf.meshes[0].primitives[0].attributes.POSITION).astype(np.float64)
    np.testing.assert_allclose(X, points @ F.T, atol=1e-6)
    cam_nodes = [n for n in gltf.nodes if n.camera is not None]
    for k, node in enumerate(cam_nodes):
        uv = _gltf_pixel(node, gltf.cameras[node.camera], w0, h0, X)
        x_cam = points @ invert_rigid(poses[k])[:3, :3].T + invert_rigid(poses[k])[:3, 3]
        expected = (x_cam / x_cam[:, 2:]) @ K.T
        np.testing.assert_allclose(uv, expected[:, :2], atol=1e-3)  # float32 positions


def test_gltf_world_is_what_blenders_exporter_makes_of_our_blender_world() -> None:
    # Blender's glTF exporter maps (x, y, z) -> (x, z, -y); our Blender world is B @ OpenCV: together F.
    np.testing.assert_array_equal(
        GLTF_WORLD_FROM_BLENDER_WORLD @ BLENDER_WORLD_FROM_OPENCV_WORLD, GLTF_WORLD_FROM_OPENCV_WORLD
    )
    assert np.linalg.det(GLTF_WORLD_FROM_OPENCV_WORLD) == 1.0


def _step_result(tmp_path):
    """A result whose view 0 has a 40 % depth step between its left and right halves."""
    rec = make_result(tmp_path / "photos", conf_range=(4.0, 8.0))
    depth0 = rec.depth[0].copy()
    h2, w2 = depth0.shape
    depth0[:, w2 // 2 :] *= 1.4
    scale = depth0 / rec.depth[0]
    cam = rec.world_from_cam[0]
    pts_cam = (rec.pts3d[0] - cam[:3, 3]) @ cam[:3, :3]
    pts0 = (pts_cam * scale[..., None]) @ cam[:3, :3].T + cam[:3, 3]
    return dataclasses.replace(
        rec, depth=(depth0, *rec.depth[1:]), pts3d=(pts0.astype(np.float32), *rec.pts3d[1:])
    )


def test_mesh_has_one_surface_per_view_and_no_face_across_a_depth_jump(tmp_path) -> None:
    rec = _step_result(tmp_path)
    conf1 = rec.conf[1].copy()
    conf1[10:20, 10:20] = 1.0  # below the threshold: a hole
    rec = dataclasses.replace(rec, conf=(rec.conf[0], conf1, *rec.conf[2:]))
    out = tmp_path / "mesh.glb"
    export_reconstruction(rec, "glb", out, mesh=True)
    gltf, accessor = read_glb(out)
    meshes = [gltf.meshes[n.mesh] for n in gltf.nodes if n.mesh is not None]
    assert len(meshes) == rec.num_views
    for k, mesh in enumerate(meshes):
        (prim,) = mesh.primitives
        assert prim.mode == pygltflib.TRIANGLES
        V = accessor(prim.attributes.POSITION).astype(np.float64) @ F.T  # back to the OpenCV world
        tris = accessor(prim.indices).reshape(-1, 3)
        cam_from_world = invert_rigid(rec.world_from_cam[k])
        z = V @ cam_from_world[2, :3] + cam_from_world[2, 3]
        zt = z[tris]
        assert (zt.max(1) <= zt.min(1) * 1.05 + 1e-6).all()  # no face across a jump
        # every vertex is a confident network pixel of this view, with its linear colour
        h2, w2 = rec.conf[k].shape
        keep = rec.conf[k] > 3.0
        grid = rec.pts3d[k].reshape(-1, 3)
        nearest = np.argmin(((V[:200, None, :] - grid[None]) ** 2).sum(-1), axis=1)
        np.testing.assert_allclose(V[:200], grid[nearest], atol=1e-5)
        assert keep.ravel()[nearest].all()
        rgb = np.round(rec.colors[k].reshape(-1, 3)[nearest] * 255) / 255
        np.testing.assert_allclose(
            accessor(prim.attributes.COLOR_0)[:200, :3], linear_from_srgb(rgb), atol=2e-5
        )
        # the count: two triangles per grid cell with four confident corners and no jump
        d = rec.depth[k]
        cells = keep[:-1, :-1] & keep[1:, :-1] & keep[1:, 1:] & keep[:-1, 1:]
        corners = np.stack([d[:-1, :-1], d[1:, :-1], d[1:, 1:], d[:-1, 1:]])
        cells &= corners.max(0) <= corners.min(0) * 1.05
        assert len(tris) == 2 * int(cells.sum()) > 0
        # front faces (counter-clockwise in glTF) look at their camera
        a, b, c = (V[tris[:, i]] for i in range(3))
        normal = np.cross(b - a, c - a)
        to_camera = rec.world_from_cam[k][:3, 3] - a
        assert ((normal * to_camera).sum(1) > 0).mean() > 0.99
    # the step splits view 0's surface: no triangle has vertices on both sides
    h2, w2 = rec.depth[0].shape
    assert len(accessor(meshes[0].primitives[0].indices)) // 3 <= 2 * (h2 - 1) * (w2 - 2)


def test_no_cameras_and_nothing_to_write(result_npz, tmp_path, capsys) -> None:
    rec, path = result_npz
    out = tmp_path / "pts.glb"
    assert main(["export", "--input", str(path), "--format", "glb", "--out", str(out), "--no-cameras"]) == 0
    gltf, _ = read_glb(out)
    assert not gltf.cameras and all(n.camera is None for n in gltf.nodes)
    # no point above the threshold and no camera: nothing to write, one line, exit 2, no file
    args = ["export", "--input", str(path), "--format", "glb", "--out", str(tmp_path / "none.glb")]
    assert main([*args, "--no-cameras", "--min-conf", "100"]) == 2
    assert "--min-conf" in _one_line_error(capsys)
    assert not (tmp_path / "none.glb").exists()
    # cameras alone, with a warning
    assert main([*args, "--min-conf", "100"]) == 0
    assert "cameras are written alone" in capsys.readouterr().err
    gltf, _ = read_glb(tmp_path / "none.glb")
    assert len(gltf.cameras) == 3 and not gltf.meshes


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "ply", "--mesh"], "glb only"),
        (["--format", "colmap", "--no-cameras"], "glb only"),
        (["--format", "glb", "--images-dir", "x"], "colmap"),
    ],
)
def test_options_of_another_format_are_refused(result_npz, tmp_path, capsys, extra, message) -> None:
    _rec, path = result_npz
    assert main(["export", "--input", str(path), "--out", str(tmp_path / "o.glb"), *extra]) == 2
    assert message in _one_line_error(capsys)


def test_existing_file_needs_overwrite_and_is_replaced_whole(result_npz, tmp_path, capsys) -> None:
    _rec, path = result_npz
    out = tmp_path / "scene.glb"
    out.write_bytes(b"old")
    args = ["export", "--input", str(path), "--format", "glb", "--out", str(out)]
    assert main(args) == 2
    assert "exists" in _one_line_error(capsys) and out.read_bytes() == b"old"
    assert main([*args, "--overwrite"]) == 0
    read_glb(out)
    assert (
        sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    )  # no temporary file left


def test_mesh_needs_grids(tmp_path) -> None:
    rec = make_result(tmp_path / "photos")
    scene = dataclasses.replace(scene_from_reconstruction(rec), grids=None)
    with pytest.raises(ExportError, match="grids"):
        export_scene(scene, "glb", tmp_path / "m.glb", mesh=True)
