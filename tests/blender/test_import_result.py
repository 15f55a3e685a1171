"""``bpy.ops.dust3r.import_result``: a RESULT.npz from the command line builds what ``reconstruct`` builds;
moved photos are reported and the rest is built; anything else is refused with nothing built. (Footage
results: tests/blender/test_footage_camera.py.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import bpy
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT_224 = REPO_ROOT / "tests" / "data" / "tiny_linear_224" / "tiny_linear_224.pth"


def _scene_summary(addon, collection: bpy.types.Collection) -> dict:
    """Everything the builder made, as plain values: objects, roles, parents, transforms, cameras, points."""
    points = addon.submodule("scene.points")
    geonodes = addon.submodule("scene.geonodes")
    out = {"collection": collection.name, "objects": {}}
    for obj in sorted(collection.all_objects, key=lambda o: o.name):
        entry = {
            "role": obj.get("dust3r_role"),
            "type": obj.type,
            "parent": obj.parent.name if obj.parent else None,
            "matrix_world": np.array(obj.matrix_world),
        }
        if obj.type == "CAMERA":
            cam = obj.data
            entry.update(
                {
                    name: getattr(cam, name)
                    for name in ("lens", "sensor_fit", "sensor_width", "sensor_height", "shift_x", "shift_y")
                }
            )
            entry.update(
                {
                    key: (
                        list(obj[key])
                        if hasattr(obj[key], "__len__") and not isinstance(obj[key], str)
                        else obj[key]
                    )
                    for key in ("dust3r_image", "dust3r_index", "dust3r_resolution", "dust3r_pixel_aspect")
                }
            )
            entry["photo"] = [bg.image.filepath if bg.image else None for bg in cam.background_images]
        elif obj.get("dust3r_role") == "points":
            cloud = points.read_points(obj.data)
            entry.update(
                positions=cloud.positions, colors=cloud.colors, conf=cloud.confidence, view=cloud.view
            )
            entry["filter"] = geonodes.points_filter(obj)
            entry["attributes"] = sorted((a.name, a.data_type, a.domain) for a in obj.data.attributes)
        out["objects"][obj.name] = entry
    return out


def _assert_same(a, b, path="scene") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=path)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6), path
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{path}[{k}]")
    else:
        assert a == b, path


@pytest.mark.skipif(not CHECKPOINT_224.is_file(), reason=f"tiny test model missing: {CHECKPOINT_224}")
def test_a_command_line_result_imports_as_what_the_operator_builds(addon, tmp_path, photo_writer) -> None:
    folder = tmp_path / "my shoot"
    folder.mkdir()
    names = ("img1.png", "img2.png", "img10.png")  # natural order, as the operator takes them
    for k, name in enumerate(names):
        photo_writer(folder / name, (96, 72), seed=k)
    assert bpy.ops.dust3r.reconstruct(
        directory=str(folder),
        checkpoint=str(CHECKPOINT_224),
        refine=False,
        image_size="224",
        device="cpu",
        clean_depth=False,
    ) == {"FINISHED"}
    built = _scene_summary(addon, bpy.data.collections["my shoot"])

    result = tmp_path / "RESULT.npz"
    cmd = [sys.executable, "-m", "core", "reconstruct", "--checkpoint", str(CHECKPOINT_224)]
    cmd += ["--images", *(str(folder / n) for n in names), "--size", "224", "--device", "cpu", "--no-clean"]
    proc = subprocess.run(
        [*cmd, "--out", str(result)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr

    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    assert bpy.ops.dust3r.import_result(filepath=str(result)) == {"FINISHED"}
    imported = _scene_summary(addon, bpy.data.collections["my shoot"])
    _assert_same(built, imported)
    assert bpy.context.scene.camera.name == "my shoot 000 img1"


def test_moved_photos_are_found_next_to_the_result(addon, synthetic_result, tmp_path) -> None:
    recon, _case, path = synthetic_result("room", n=2, size=(48, 36))
    elsewhere = tmp_path / "farm output"
    elsewhere.mkdir()
    for p in (*recon.image_paths, path):
        shutil.move(p, elsewhere / Path(p).name)
    assert bpy.ops.dust3r.import_result(filepath=str(elsewhere / path.name)) == {"FINISHED"}
    cams = sorted(
        (o for o in bpy.data.objects if o.get("dust3r_role") == "camera"), key=lambda o: o["dust3r_index"]
    )
    assert [Path(c["dust3r_image"]).parent for c in cams] == [elsewhere, elsewhere]
    assert all(c.data.background_images[0].image is not None for c in cams)


def test_missing_photos_are_reported_and_the_rest_is_built(addon, synthetic_result, capfd) -> None:
    recon, _case, path = synthetic_result("room", n=3, size=(48, 36))
    Path(recon.image_paths[1]).unlink()
    capfd.readouterr()
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}
    out = capfd.readouterr().out
    assert "1 of 3 photos not found" in out and "view1.png" in out
    cams = sorted(
        (o for o in bpy.data.objects if o.get("dust3r_role") == "camera"), key=lambda o: o["dust3r_index"]
    )
    assert len(cams) == 3
    assert [len(c.data.background_images) for c in cams] == [1, 0, 1]
    pts = next(o for o in bpy.data.objects if o.get("dust3r_role") == "points")
    assert len(pts.data.polygons) == 3 * 48 * 36  # every view's points: the file has them all


def _write_zip_garbage(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04 this is not really a zip file")


def _write_foreign(path: Path) -> None:
    np.savez(path, a=np.arange(3), b=np.ones((2, 2)))


def _write_synthgen_case(path: Path) -> None:  # a case file: pairwise layout, not a RESULT.npz
    np.savez(path, images=np.zeros((2, 4, 4, 3), np.uint8), depth=np.ones((2, 4, 4), np.float32))


def _write_with_pickle(path: Path) -> None:  # every array there, but one needs pickle (refused: code runs)
    arrays = {name: np.zeros(1) for name in ("cam2world", "K_photo", "photo_size", "K_net", "net_size")}
    np.savez(path, image_paths=np.array([{"not": "allowed"}], dtype=object), **arrays)


@pytest.mark.parametrize(
    "make_bad, message",
    [
        (lambda p: p.write_bytes(b"\x00" * 100), "not a readable .npz"),
        (_write_zip_garbage, "not a readable .npz"),
        (_write_foreign, "not a DUSt3R result: it has no 'image_paths', 'cam2world'"),
        (_write_synthgen_case, "not a DUSt3R result"),
        (_write_with_pickle, "not a valid DUSt3R result: array 'image_paths' holds Python objects"),
    ],
    ids=["zeros", "broken zip", "foreign npz", "case file", "pickled arrays"],
)
def test_a_file_that_is_not_a_result_is_refused_and_nothing_built(
    addon, tmp_path, data_state, make_bad, message
) -> None:
    bad = tmp_path / "bad.npz"
    make_bad(bad)
    before = data_state()
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.dust3r.import_result(filepath=str(bad))
    assert data_state() == before


def test_a_damaged_result_is_refused(addon, synthetic_result, tmp_path, data_state) -> None:
    recon, _case, path = synthetic_result("room", n=2, size=(48, 36))
    before = data_state()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RuntimeError, match="not a readable .npz"):
        bpy.ops.dust3r.import_result(filepath=str(truncated))
    corrupt = tmp_path / "corrupt.npz"  # a valid zip whose camera member is damaged
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(corrupt, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[:64] if item.filename == "cam2world.npy" else data)
    with pytest.raises(RuntimeError, match="damaged|readable"):
        bpy.ops.dust3r.import_result(filepath=str(corrupt))
    nan_pose = tmp_path / "nan.npz"
    type(recon)(**{**recon.__dict__, "world_from_cam": recon.world_from_cam * np.nan}).save_npz(nan_pose)
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        bpy.ops.dust3r.import_result(filepath=str(nan_pose))
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.dust3r.import_result(filepath=str(tmp_path / "nowhere.npz"))
    assert data_state() == before


def test_file_import_menu_offers_it(addon) -> None:
    menus = addon.submodule("panels.menus")
    assert menus.draw_import_entry in bpy.types.TOPBAR_MT_file_import._dyn_ui_initialize()
