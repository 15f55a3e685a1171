"""``dust3r.export_reconstruction`` to glTF binary and depth maps, from the scene as it stands after Level and
Set Scale: the .glb is the scene mapped from Blender's Z-up world as Blender's own glTF exporter maps it
(``(x, y, z) -> (x, z, -y)``), read back by pygltflib and by Blender's own glTF importer; the depth maps are the core's depth maps of the RESULT
times the scale the artist set; a footage camera writes a frame-numbered sequence."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest

from tests.core.test_export_depth import exr_channels_from_header, read_exr
from tests.core.test_export_glb import read_glb

G = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # Blender's glTF exporter, +Y up


@pytest.fixture
def levelled_room(addon, synthetic_result):
    """A room imported, levelled and scaled (two cameras 2.5 units apart); returns (recon, path, scale)."""
    recon, _case, path = synthetic_result("room", n=3, size=(64, 48), seed=2)
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}
    points_obj = next(o for o in bpy.data.objects if o.get("dust3r_role") == "points")
    bpy.context.view_layer.objects.active = points_obj
    assert bpy.ops.dust3r.level() == {"FINISHED"}
    cams = _cameras()
    for obj in bpy.data.objects:
        obj.select_set(obj in cams[:2])
    assert bpy.ops.dust3r.set_scale(mode="CAMERAS", distance=2.5) == {"FINISHED"}
    old = recon.world_from_cam[:, :3, 3]
    scale = 2.5 / np.linalg.norm(old[0] - old[1])
    assert abs(scale - 1.0) > 0.05  # the scale changes something
    bpy.context.view_layer.objects.active = points_obj
    return recon, path, scale


def _cameras():
    cams = [o for o in bpy.data.objects if o.get("dust3r_role") == "camera"]
    return sorted(cams, key=lambda o: o["dust3r_index"])


def _matrix(m) -> np.ndarray:
    return np.array([list(row) for row in m], dtype=np.float64)


def test_glb_is_the_scene_as_blenders_exporter_maps_it(addon, levelled_room, tmp_path) -> None:
    out = tmp_path / "glb"
    assert bpy.ops.dust3r.export_reconstruction(
        directory=str(out), format="glb", use_display_threshold=False, min_conf=3.0
    ) == {"FINISHED"}
    gltf, accessor = read_glb(out / "scene.glb")
    points_obj = next(o for o in bpy.data.objects if o.get("dust3r_role") == "points")
    cloud = addon.submodule("scene.points").read_points(points_obj.data)
    M = _matrix(points_obj.matrix_world)
    blender_world = cloud.positions.astype(np.float64) @ M[:3, :3].T + M[:3, 3]
    (prim,) = gltf.meshes[0].primitives
    np.testing.assert_allclose(accessor(prim.attributes.POSITION), blender_world @ G.T, atol=1e-5)
    linear = accessor(prim.attributes.COLOR_0)[:, :3]
    np.testing.assert_allclose(linear, cloud.colors[:, :3], atol=3e-3)  # through 8-bit sRGB and back
    cam_nodes = [n for n in gltf.nodes if n.camera is not None]
    assert len(cam_nodes) == 3
    for node, cam in zip(cam_nodes, _cameras(), strict=True):
        world = _matrix(cam.matrix_world)
        world[:3, :3] /= np.linalg.norm(world[:3, :3], axis=0)  # Set Scale scales the camera objects
        expected = np.eye(4)
        expected[:3] = G @ world[:3]
        np.testing.assert_allclose(np.array(node.matrix).reshape(4, 4).T, expected, atol=1e-6)
        w, h = cam["dust3r_resolution"]
        assert gltf.cameras[node.camera].perspective.aspectRatio == pytest.approx(w / h)


def test_glb_surfaces_match_the_cores(addon, levelled_room, tmp_path) -> None:
    _recon, path, scale = levelled_room
    out = tmp_path / "mesh"
    assert bpy.ops.dust3r.export_reconstruction(
        directory=str(out), format="glb", mesh=True, cameras=False, use_display_threshold=False, min_conf=3.0
    ) == {"FINISHED"}
    export = addon.submodule("core.export")
    export.export_reconstruction(
        export.load_result(path), "glb", tmp_path / "core.glb", mesh=True, cameras=False
    )
    ours, ours_acc = read_glb(out / "scene.glb")
    core, core_acc = read_glb(tmp_path / "core.glb")
    assert not ours.cameras and len(ours.meshes) == len(core.meshes) == 3
    for a, b in zip(ours.meshes, core.meshes, strict=True):
        pa, pb = a.primitives[0], b.primitives[0]
        np.testing.assert_array_equal(ours_acc(pa.indices), core_acc(pb.indices))  # the same faces
        va, vb = ours_acc(pa.attributes.POSITION), core_acc(pb.attributes.POSITION)
        edges = lambda v, t: np.linalg.norm(v[t[:, 0]] - v[t[:, 1]], axis=1)  # noqa: E731
        tris = ours_acc(pa.indices).reshape(-1, 3)
        np.testing.assert_allclose(edges(va, tris), scale * edges(vb, tris), rtol=1e-4, atol=1e-6)


def test_depth_is_the_cores_times_the_scale_set_in_blender(addon, levelled_room, tmp_path) -> None:
    recon, path, scale = levelled_room
    out = tmp_path / "depth"
    assert bpy.ops.dust3r.export_reconstruction(directory=str(out), format="depth") == {"FINISHED"}
    export = addon.submodule("core.export")
    export.export_reconstruction(export.load_result(path), "depth", tmp_path / "core")
    meta = json.loads((out / "depth.json").read_text())
    assert [v["file"] for v in meta["views"]] == ["view0.exr", "view1.exr", "view2.exr"]
    for k, (view, cam) in enumerate(zip(meta["views"], _cameras(), strict=True)):
        assert exr_channels_from_header(out / view["file"]) == {"Z": "FLOAT", "confidence": "FLOAT"}
        ours, core = read_exr(out / view["file"]), read_exr(tmp_path / "core" / view["file"])
        assert ours["Z"].shape == (48, 64)
        np.testing.assert_allclose(ours["Z"], scale * core["Z"], rtol=1e-5)
        np.testing.assert_allclose(ours["confidence"], core["confidence"], rtol=1e-6)
        np.testing.assert_allclose(ours["Z"], scale * recon.depth[k], rtol=1e-5)  # identity crop here
        np.testing.assert_allclose(view["K"], recon.K_photo[k], atol=1e-6)
        world = _matrix(cam.matrix_world)
        centre = (
            addon.submodule("core.geometry.blender_camera").OPENCV_WORLD_FROM_BLENDER_WORLD[:3, :3]
            @ world[:3, 3]
        )
        np.testing.assert_allclose(np.array(view["cam2world"])[:3, 3], centre, atol=1e-6)


def test_a_scene_built_before_crops_were_recorded_is_refused(addon, levelled_room, tmp_path) -> None:
    del _cameras()[1]["dust3r_crop"]
    with pytest.raises(RuntimeError, match="older version"):
        bpy.ops.dust3r.export_reconstruction(directory=str(tmp_path / "d"), format="depth")
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())


def test_footage_depth_is_a_frame_numbered_sequence(addon, footage_result, tmp_path) -> None:
    pytest.importorskip("av")
    _recon, _case, path, _plate = footage_result("sequence", n=3, first=1001)
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}
    bpy.context.view_layer.objects.active = next(
        o for o in bpy.data.objects if o.get("dust3r_role") == "root"
    )
    out = tmp_path / "depth"
    assert bpy.ops.dust3r.export_reconstruction(directory=str(out), format="depth") == {"FINISHED"}
    meta = json.loads((out / "depth.json").read_text())
    names = [v["file"] for v in meta["views"]]
    frames = [v["frame"] for v in meta["views"]]
    assert frames[0] == 1001 and frames == sorted(frames)
    assert all(name.endswith(f".{frame:04d}.exr") for name, frame in zip(names, frames, strict=True))
    assert len({name.rsplit(".", 2)[0] for name in names}) == 1  # one sequence
    export = addon.submodule("core.export")
    export.export_reconstruction(export.load_result(path), "depth", tmp_path / "core")
    for name in names:
        np.testing.assert_allclose(
            read_exr(out / name)["Z"], read_exr(tmp_path / "core" / name)["Z"], rtol=1e-5
        )


def test_blenders_own_gltf_importer_puts_it_back_where_it_stands(addon, levelled_room, tmp_path) -> None:
    # Blender's glTF importer (the inverse of its exporter's axis mapping) reads our file back: the cameras land
    # on our cameras (without Set Scale's object scale) with the photo's vertical field of view, the points
    # on our points.
    import addon_utils

    out = tmp_path / "glb"
    assert bpy.ops.dust3r.export_reconstruction(
        directory=str(out), format="glb", use_display_threshold=False, min_conf=3.0
    ) == {"FINISHED"}
    points_obj = next(o for o in bpy.data.objects if o.get("dust3r_role") == "points")
    cloud = addon.submodule("scene.points").read_points(points_obj.data)
    M = _matrix(points_obj.matrix_world)
    ours = cloud.positions.astype(np.float64) @ M[:3, :3].T + M[:3, 3]
    cams = _cameras()
    before = set(bpy.data.objects)
    addon_utils.enable("io_scene_gltf2", default_set=True)
    try:
        assert bpy.ops.import_scene.gltf(filepath=str(out / "scene.glb")) == {"FINISHED"}
    finally:
        addon_utils.disable("io_scene_gltf2", default_set=True)
    imported = [o for o in bpy.data.objects if o not in before]
    imported_cams = sorted((o for o in imported if o.type == "CAMERA"), key=lambda o: o.name)
    assert len(imported_cams) == len(cams) == 3
    for theirs, cam in zip(imported_cams, cams, strict=True):
        world = _matrix(cam.matrix_world)
        world[:3, :3] /= np.linalg.norm(world[:3, :3], axis=0)
        np.testing.assert_allclose(_matrix(theirs.matrix_world), world, atol=1e-5)
        w, h = cam["dust3r_resolution"]
        params = addon.submodule("scene.read_back").camera_params(cam)
        K, _ = addon.submodule("core.geometry.blender_camera").opencv_from_blender_camera(params)
        assert theirs.data.angle_y == pytest.approx(2 * np.arctan(h / (2 * K[1, 1])), rel=1e-5)
    (mesh,) = (o for o in imported if o.type == "MESH")
    local = np.empty(len(mesh.data.vertices) * 3, np.float32)
    mesh.data.vertices.foreach_get("co", local)
    M = _matrix(mesh.matrix_world)
    np.testing.assert_allclose(local.reshape(-1, 3) @ M[:3, :3].T + M[:3, 3], ours, atol=1e-5)
