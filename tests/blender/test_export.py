"""``dust3r.export_reconstruction``: the reconstruction as it stands in the scene -> COLMAP / nerfstudio / PLY.

With the parent empty untouched the export equals the core's export of the RESULT.npz the scene was built
from; after Level and Set Scale the cameras differ by exactly that similarity, and every exported point
still projects (through pycolmap's own camera model) onto the photo pixel it came from.
"""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest

pycolmap = pytest.importorskip(
    "pycolmap", reason="pycolmap is a pinned test dependency (tests/requirements.txt)"
)


@pytest.fixture
def imported_room(addon, synthetic_result):
    recon, case, path = synthetic_result("room", n=3, size=(64, 48), seed=2)
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}
    points_obj = next(o for o in bpy.data.objects if o.get("dust3r_role") == "points")
    bpy.context.view_layer.objects.active = points_obj
    return recon, path


def _colmap_cameras(path):
    model = pycolmap.Reconstruction(str(path))
    images = sorted(model.images.values(), key=lambda im: im.name)
    world_from_cam = []
    for im in images:
        T = np.eye(4)
        T[:3] = np.asarray(im.cam_from_world().matrix())
        world_from_cam.append(np.linalg.inv(T))
    K = [model.cameras[im.camera_id].calibration_matrix() for im in images]
    return model, np.stack(world_from_cam), np.stack(K)


def _assert_points_on_their_pixels(model) -> int:
    worst, checked = 0.0, 0
    for point in model.points3D.values():
        for element in point.track.elements:
            image = model.images[element.image_id]
            observed = np.asarray(image.points2D[element.point2D_idx].xy)
            projected = np.asarray(image.project_point(point.xyz))
            worst = max(worst, float(np.abs(projected - observed).max()))
            checked += 1
    assert checked > 1000 and worst < 0.01, f"{checked} observations, worst {worst:.5f} px"
    return checked


def test_untouched_scene_exports_what_the_core_exports(addon, imported_room, tmp_path) -> None:
    recon, result_path = imported_room
    export = addon.submodule("core.export")
    out = tmp_path / "from_blender"
    assert bpy.ops.dust3r.export_reconstruction(
        directory=str(out), format="colmap-bin", use_display_threshold=False, min_conf=3.0
    ) == {"FINISHED"}
    export.export_reconstruction(export.load_result(result_path), "colmap-bin", tmp_path / "from_core")
    ours, w2c_ours, K_ours = _colmap_cameras(out)
    core, w2c_core, K_core = _colmap_cameras(tmp_path / "from_core")
    np.testing.assert_allclose(w2c_ours, w2c_core, atol=1e-6)
    np.testing.assert_allclose(w2c_ours, recon.world_from_cam, atol=1e-6)
    np.testing.assert_allclose(K_ours, K_core, atol=1e-6)
    assert len(ours.points3D) == len(core.points3D) > 0
    _assert_points_on_their_pixels(ours)


def test_export_after_level_and_scale_differs_by_that_similarity(addon, imported_room, tmp_path) -> None:
    recon, _path = imported_room
    assert bpy.ops.dust3r.level() == {"FINISHED"}
    cams = sorted((o for o in bpy.data.objects if o.get("dust3r_role") == "camera"), key=lambda o: o.name)
    for obj in bpy.data.objects:
        obj.select_set(obj in cams[:2])
    assert bpy.ops.dust3r.set_scale(mode="CAMERAS", distance=2.5) == {"FINISHED"}
    out = tmp_path / "levelled"
    assert bpy.ops.dust3r.export_reconstruction(directory=str(out), format="colmap") == {"FINISHED"}
    model, w2c, K = _colmap_cameras(out)
    np.testing.assert_allclose(K, recon.K_photo, atol=1e-6)
    # One similarity maps the old camera centres and orientations onto the new ones.
    old_c, new_c = recon.world_from_cam[:, :3, 3], w2c[:, :3, 3]
    d_old = np.linalg.norm(old_c[0] - old_c[1])
    d_new = np.linalg.norm(new_c[0] - new_c[1])
    assert d_new == pytest.approx(2.5, rel=1e-6)
    s = d_new / d_old
    R = w2c[0, :3, :3] @ recon.world_from_cam[0, :3, :3].T
    for k in range(len(w2c)):
        np.testing.assert_allclose(w2c[k, :3, :3], R @ recon.world_from_cam[k, :3, :3], atol=1e-6)
        np.testing.assert_allclose(new_c[k] - new_c[0], s * R @ (old_c[k] - old_c[0]), atol=1e-6)
    _assert_points_on_their_pixels(model)


def test_nerfstudio_export_and_bad_input(addon, imported_room, tmp_path) -> None:
    out = tmp_path / "ns"
    assert bpy.ops.dust3r.export_reconstruction(directory=str(out), format="nerfstudio") == {"FINISHED"}
    meta = json.loads((out / "transforms.json").read_text())
    assert len(meta["frames"]) == 3 and all((out / f["file_path"]).is_file() for f in meta["frames"])
    # A non-empty folder is refused unless overwrite, and nothing is written
    before = sorted(p.name for p in out.rglob("*"))
    with pytest.raises(RuntimeError, match="(?i)not empty|overwrite"):
        bpy.ops.dust3r.export_reconstruction(directory=str(out), format="nerfstudio")
    assert sorted(p.name for p in out.rglob("*")) == before
    assert bpy.ops.dust3r.export_reconstruction(directory=str(out), format="nerfstudio", overwrite=True) == {
        "FINISHED"
    }


def test_nothing_selected_is_refused(addon) -> None:
    assert not bpy.ops.dust3r.export_reconstruction.poll()
