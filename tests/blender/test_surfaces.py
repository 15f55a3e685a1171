"""Optional per-view surfaces: grid quads, photo UVs (CONVENTIONS.md section 3), facing their camera."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

SIZES = [(640, 480), (480, 640), (1001, 667), (300, 200)]


def test_crop_is_recovered_from_the_two_intrinsics(addon, make_reconstruction) -> None:
    recon, crops = make_reconstruction(SIZES, seed=11)
    photo = addon.submodule("core.geometry.photo")
    for k, crop in enumerate(crops):
        got = photo.crop_from_intrinsics(
            recon.K_net[k], recon.K_photo[k], recon.photo_size[k], recon.net_size[k]
        )
        assert got == crop


def test_quads_skip_invalid_pixels_and_depth_jumps(addon) -> None:
    surfaces = addon.submodule("scene.surfaces")
    depth = np.full((4, 5), 2.0)
    valid = np.ones((4, 5), dtype=bool)
    assert surfaces.surface_quads(valid, depth).shape == (3 * 4, 4)
    valid[0, 0] = False  # removes the one cell touching it
    depth[3, 4] = 3.0  # a 50 % jump: removes the one cell touching it
    quads = surfaces.surface_quads(valid, depth)
    assert quads.shape == (3 * 4 - 2, 4)
    assert 0 not in quads and 19 not in quads
    with pytest.raises(ValueError, match="same"):
        surfaces.surface_quads(valid[:, :2], depth)


def test_surfaces_map_each_vertex_to_its_photo_pixel_and_face_the_camera(addon, make_reconstruction) -> None:
    recon, crops = make_reconstruction(SIZES, seed=12, smooth=True)
    builder = addon.submodule("scene.build")
    photo = addon.submodule("core.geometry.photo")
    report = builder.build_reconstruction(
        bpy.context.scene, recon, builder.BuildOptions(conf_threshold=0.0, surfaces=True)
    )
    assert len(report.surface_objects) == len(SIZES)
    for k, obj in enumerate(report.surface_objects):
        assert obj["dust3r_role"] == "surface" and obj["dust3r_index"] == k
        mesh = obj.data
        w2, h2 = crops[k].net_size
        assert len(mesh.polygons) == (w2 - 1) * (h2 - 1)
        n = len(mesh.vertices)
        pos = np.empty(n * 3, np.float32)
        mesh.attributes["position"].data.foreach_get("vector", pos)
        pos = pos.reshape(n, 3)
        # Every vertex is a network pixel (all used here, in row-major order): its UV is its photo pixel.
        loops = np.empty(len(mesh.loops), np.int32)
        mesh.loops.foreach_get("vertex_index", loops)
        uv = np.empty(len(mesh.loops) * 2, np.float32)
        mesh.uv_layers["Photo"].uv.foreach_get("vector", uv)
        uv = uv.reshape(-1, 2)
        j, i = np.divmod(loops, w2)
        expected = photo.photo_from_net_pixels(np.stack([i, j], -1), crops[k])
        w0, h0 = recon.photo_size[k]
        got = np.stack([uv[:, 0] * w0, (1.0 - uv[:, 1]) * h0], -1)
        assert np.abs(got - expected).max() < 1e-3  # float32 UVs on a ~1000-pixel photo
        # Positions are the view's points; faces point towards the camera that saw them.
        cv = recon.pts3d[k].reshape(-1, 3)
        np.testing.assert_array_equal(pos, np.stack([cv[:, 0], cv[:, 2], -cv[:, 1]], -1))
        normals = np.empty(len(mesh.polygons) * 3, np.float32)
        mesh.polygons.foreach_get("normal", normals)
        centres = np.empty(len(mesh.polygons) * 3, np.float32)
        mesh.polygons.foreach_get("center", centres)
        cam_centre = np.array(report.camera_objects[k].matrix_world.translation)
        towards = cam_centre - centres.reshape(-1, 3)
        assert (np.einsum("ij,ij->i", normals.reshape(-1, 3), towards) > 0).all()
        tex = [n for n in mesh.materials[0].node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"]
        assert tex and tex[0].image.filepath == recon.image_paths[k]
