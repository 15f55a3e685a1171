"""Exporting a footage camera from Blender: one view per keyed frame, evaluated at that frame, equal to the
core's export of the RESULT.npz the scene was imported from (and through the operator, to COLMAP)."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

pytest.importorskip("av")
pycolmap = pytest.importorskip(
    "pycolmap", reason="pycolmap is a pinned test dependency (tests/requirements.txt)"
)


def _root():
    return next(o for o in bpy.data.objects if o.get("dust3r_role") == "root")


@pytest.mark.parametrize(
    "kind, options",
    [
        ("video", {"zoom": 0.25, "k1": -0.08, "k2": 0.02, "pp_offset": (2.0, -1.5), "sensor_width": 23.76}),
        (
            "sequence",
            {"first": 1001, "status": ["reconstructed", "interpolated", "reconstructed", "flagged"]},
        ),
    ],
)
def test_blender_export_of_a_footage_result_equals_the_cores(addon, footage_result, kind, options) -> None:
    recon, _case, path, _plate = footage_result(kind, n=4, **options)
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}
    scene = bpy.context.scene
    scene.frame_set(scene.frame_start + 2)
    export_scene = addon.submodule("scene.read_back")
    export = addon.submodule("core.export")
    ours = export_scene.export_scene_from_blender(_root(), min_conf=3.0)
    core = export.scene_from_reconstruction(export.load_result(path), min_conf=3.0)
    assert scene.frame_current == scene.frame_start + 2  # the export evaluates the frames and comes back
    assert ours.is_footage and core.is_footage
    assert ours.image_paths == core.image_paths
    np.testing.assert_array_equal(ours.frame_numbers, core.frame_numbers)
    np.testing.assert_allclose(ours.world_from_cam, core.world_from_cam, atol=1e-5)
    np.testing.assert_allclose(ours.K_photo, core.K_photo, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(ours.dist, core.dist, atol=1e-7)
    np.testing.assert_array_equal(ours.photo_size, core.photo_size)
    assert ours.num_points == core.num_points > 0
    np.testing.assert_allclose(ours.points, core.points, atol=1e-5)
    np.testing.assert_array_equal(ours.point_view, core.point_view)
    np.testing.assert_allclose(ours.point_uv, core.point_uv, atol=1e-3)
    if options.get("zoom"):  # the lens is keyed: each view has its frame's focal
        assert len(set(np.round(ours.K_photo[:, 0, 0], 6))) == 4


def test_the_export_operator_writes_one_image_per_keyed_frame(addon, footage_result, tmp_path) -> None:
    recon, _case, path, _plate = footage_result("video", n=3, pp_offset=(1.0, 1.0))
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}
    bpy.context.view_layer.objects.active = _root()
    out = tmp_path / "colmap"
    assert bpy.ops.dust3r.export_reconstruction(
        directory=str(out), format="colmap-bin", use_display_threshold=False, min_conf=3.0
    ) == {"FINISHED"}
    model = pycolmap.Reconstruction(str(out))
    images = sorted(model.images.values(), key=lambda im: im.name)
    assert [im.name for im in images] == ["frame_000001.png", "frame_000002.png", "frame_000003.png"]
    for im, T in zip(images, recon.world_from_cam, strict=True):
        cam_from_world = np.eye(4)
        cam_from_world[:3] = np.asarray(im.cam_from_world().matrix())
        np.testing.assert_allclose(np.linalg.inv(cam_from_world), T, atol=1e-5)
