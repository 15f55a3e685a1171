"""Bulk writes into a new mesh's own arrays (scene/mesh_arrays.py): the direct view only where Blender's
elements form one contiguous array of the expected size, foreach_set/foreach_get everywhere else."""

from __future__ import annotations

import bpy
import numpy as np


def _mesh(vertices: int, faces: int = 0) -> bpy.types.Mesh:
    mesh = bpy.data.meshes.new("arrays")
    mesh.vertices.add(vertices)
    if faces:
        mesh.loops.add(3 * faces)
        mesh.polygons.add(faces)
    return mesh


def test_a_view_only_over_one_contiguous_array_of_the_element_size(addon) -> None:
    arrays = addon.submodule("scene.mesh_arrays")
    mesh = _mesh(5, faces=4)
    positions = mesh.attributes["position"].data
    assert arrays._view(positions, np.dtype(np.float32), (5, 3)) is not None
    assert arrays._view(positions, np.dtype(np.float32), (5, 4)) is None  # 16-byte elements: no
    assert arrays._view(positions, np.dtype(np.float32), (4, 3)) is None  # another length: no
    assert arrays._view(mesh.polygons, np.dtype(np.int32), (4,)) is not None
    assert arrays._view(mesh.polygons, np.dtype(np.int64), (4,)) is None
    assert arrays._view(_mesh(1).attributes["position"].data, np.dtype(np.float32), (1, 3)) is None


def test_write_and_read_direct_and_through_foreach(addon, monkeypatch) -> None:
    arrays = addon.submodule("scene.mesh_arrays")
    values = np.arange(18, dtype=np.float32).reshape(6, 3) / 7
    srgb = np.array([[0, 128, 255, 255], [1, 2, 3, 255]] * 3, np.uint8)
    for direct in (True, False):
        with monkeypatch.context() as patch:
            if not direct:
                patch.setattr(arrays, "_view", lambda *_args: None)
            mesh = _mesh(6, faces=2)
            data = mesh.attributes["position"].data

            def fill(out):
                out[...] = values

            arrays.write(data, "vector", np.float32, (6, 3), fill)
            got = np.empty(18, np.float32)
            data.foreach_get("vector", got)
            np.testing.assert_array_equal(got.reshape(6, 3), values)
            np.testing.assert_array_equal(arrays.read(data, "vector", np.float32, (6, 3), 4), values[:4])

            colors = mesh.attributes.new("c", "BYTE_COLOR", "POINT").data
            arrays.write(colors, "color_srgb", np.uint8, (6, 4), lambda out: out.__setitem__(..., srgb))
            np.testing.assert_array_equal(arrays.read(colors, "color_srgb", np.uint8, (6, 4), 6), srgb)
            assert tuple(colors[1].color_srgb) == tuple(np.float32(srgb[1] / 255))

            arrays.write(
                mesh.polygons, "loop_start", np.int32, (2,), lambda out: out.__setitem__(..., [0, 3])
            )
            assert [p.loop_start for p in mesh.polygons] == [0, 3]
            assert [p.loop_total for p in mesh.polygons] == [3, 3]
