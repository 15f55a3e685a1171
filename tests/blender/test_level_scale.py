"""Level and Set Scale: the parent empty stands the reconstruction upright, ground at Z = 0, at real size,
and every camera still reprojects its own points onto its photo (CONVENTIONS.md section 6)."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

FLOOR_ID = 1  # tests.synthetic's room: primitive 1 is the floor plane, 2 mm above z = 0 (world +z up)
FLOOR_Z = 0.002


def _random_frame(seed: int, scale: float):
    """An arbitrary similarity frame, like a reconstruction's: random rotation and offset, given scale."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    R = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    return R, rng.normal(size=3) * 3.0, scale


def _world_points(addon, obj):
    cloud = addon.submodule("scene.points").read_points(obj.data)
    M = np.array(obj.matrix_world)
    return cloud.positions.astype(np.float64) @ M[:3, :3].T + M[:3, 3], cloud.view


def _assert_reprojection(addon, recon, points_obj, cameras, per_view: int = 1000) -> None:
    """Every camera projects points of its own view onto the photo pixels they came from (< 0.01 px)."""
    photo = addon.submodule("core.geometry.photo")
    scene = bpy.context.scene
    positions, view = _world_points(addon, points_obj)
    rng = np.random.default_rng(0)
    for k, cam in enumerate(cameras):
        bpy.ops.dust3r.compare_photo(camera=cam.name)  # its photo's resolution, as the artist would
        w0, h0 = (int(v) for v in recon.photo_size[k])
        w2, _h2 = (int(v) for v in recon.net_size[k])
        own = np.flatnonzero(view == k)
        pick = rng.choice(len(own), min(per_view, len(own)), replace=False)
        j, i = np.divmod(pick, w2)  # every point finite: index within the view -> (row, column)
        expected = photo.photo_from_net_pixels(np.stack([i, j], -1), recon.crops[k])
        got = np.array([world_to_camera_view(scene, cam, Vector(positions[n].tolist())) for n in own[pick]])
        uv = np.stack([got[:, 0] * w0, (1.0 - got[:, 1]) * h0], -1)
        err = float(np.abs(uv - expected).max())
        assert err < 0.01, f"camera {k}: max reprojection error {err:.4f} px"


@pytest.fixture
def tilted_room(addon, synthetic_result):
    """A room reconstructed in a random frame at 0.37 of its size, imported."""
    frame = _random_frame(seed=5, scale=0.37)
    recon, case, path = synthetic_result("room", n=3, size=(64, 48), seed=1, frame=frame)
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}
    root = next(o for o in bpy.data.objects if o.get("dust3r_role") == "root")
    points_obj = next(o for o in bpy.data.objects if o.get("dust3r_role") == "points")
    cams = sorted(
        (o for o in root.children if o.get("dust3r_role") == "camera"), key=lambda o: o["dust3r_index"]
    )
    return recon, case, root, points_obj, cams


def test_level_then_scale_gives_the_true_upright_metric_scene(addon, tilted_room) -> None:
    recon, case, root, points_obj, cams = tilted_room
    bpy.context.view_layer.objects.active = points_obj
    assert bpy.ops.dust3r.level() == {"FINISHED"}
    positions, _view = _world_points(addon, points_obj)
    floor = case["obj_id"].reshape(-1) == FLOOR_ID
    assert floor.sum() > 500
    # The floor lies at Z = 0 (scale 0.37 kept), level to a tenth of a degree over the room's 8 m.
    floor_z = positions[floor, 2]
    assert np.abs(floor_z - 0.37 * FLOOR_Z).max() < 0.37 * 0.01
    # Up is the room's up: the cameras stand at their true heights (times the scale).
    heights = np.array([c.matrix_world.translation.z for c in cams])
    np.testing.assert_allclose(heights, 0.37 * case["cam2world"][:, 2, 3], atol=0.37 * 0.01)
    _assert_reprojection(addon, recon, points_obj, cams)

    # Set Scale between cameras 0 and 2 at their true distance: metres, floor still at Z = 0.
    true_distance = float(np.linalg.norm(case["cam2world"][0, :3, 3] - case["cam2world"][2, :3, 3]))
    clip_before = cams[0].data.clip_end
    assert bpy.ops.dust3r.set_scale(distance=true_distance, camera_a=cams[0].name, camera_b=cams[2].name) == {
        "FINISHED"
    }
    a, b = (np.array(c.matrix_world.translation) for c in (cams[0], cams[2]))
    assert np.linalg.norm(a - b) == pytest.approx(true_distance, rel=1e-5)
    positions, _view = _world_points(addon, points_obj)
    assert np.abs(positions[floor, 2] - FLOOR_Z).max() < 0.01
    heights = np.array([c.matrix_world.translation.z for c in cams])
    np.testing.assert_allclose(heights, case["cam2world"][:, 2, 3], atol=0.01)
    assert cams[0].data.clip_end == pytest.approx(clip_before / 0.37, rel=1e-5)
    _assert_reprojection(addon, recon, points_obj, cams)
    # Only the parent empty moved.
    assert all(np.allclose(np.array(o.matrix_parent_inverse), np.eye(4)) for o in root.children)


def test_scale_between_picked_points_and_selected_cameras(addon, tilted_room) -> None:
    _recon, _case, root, points_obj, cams = tilted_room
    scene = bpy.context.scene
    bpy.context.view_layer.objects.active = root
    with pytest.raises(RuntimeError, match="Pick points A and B"):
        bpy.ops.dust3r.set_scale(distance=1.0, mode="POINTS")
    positions, _ = _world_points(addon, points_obj)
    scene.cursor.location = positions[0].tolist()
    assert bpy.ops.dust3r.pick_scale_point(which="A") == {"FINISHED"}
    scene.cursor.location = positions[-1].tolist()
    assert bpy.ops.dust3r.pick_scale_point(which="B") == {"FINISHED"}
    assert bpy.ops.dust3r.set_scale(distance=2.5, mode="POINTS") == {"FINISHED"}
    positions, _ = _world_points(addon, points_obj)
    assert np.linalg.norm(positions[0] - positions[-1]) == pytest.approx(2.5, rel=1e-4)

    # Two selected cameras; any other selection count is refused with a message.
    for obj in bpy.context.selected_objects:
        obj.select_set(False)
    cams[0].select_set(True)
    with pytest.raises(RuntimeError, match="exactly two cameras"):
        bpy.ops.dust3r.set_scale(distance=1.0)
    cams[1].select_set(True)
    assert bpy.ops.dust3r.set_scale(distance=1.5) == {"FINISHED"}
    a, b = (np.array(c.matrix_world.translation) for c in cams[:2])
    assert np.linalg.norm(a - b) == pytest.approx(1.5, rel=1e-5)
    with pytest.raises(RuntimeError, match="above zero"):
        bpy.ops.dust3r.set_scale(distance=0.0)


def test_operators_are_undoable_and_need_a_reconstruction(addon) -> None:
    for name in ("level", "set_scale", "pick_scale_point", "compare_photo", "import_result"):
        assert "UNDO" in getattr(bpy.ops.dust3r, name).bl_options
    assert not bpy.ops.dust3r.level.poll()
    assert not bpy.ops.dust3r.set_scale.poll()


def test_ground_plane_and_up_from_points(addon) -> None:
    orientation = addon.submodule("scene.orientation")
    rng = np.random.default_rng(3)
    up = np.array([0.1, 0.2, 1.0])
    up /= np.linalg.norm(up)
    basis = np.linalg.svd(np.eye(3) - np.outer(up, up))[0][:, :2]
    floor = rng.uniform(-2, 2, (3000, 2)) @ basis.T + 0.5 * up  # a floor at height 0.5 along up
    ceiling = rng.uniform(-2, 2, (4000, 2)) @ basis.T + 3.0 * up  # larger, but above the cameras
    clutter = rng.normal(size=(1500, 3))
    cams = np.array([[0, 0, 0], [1, 0, 0.1], [0, 1, -0.1]]) + 1.6 * up
    cam_up = up + rng.normal(0, 0.05, (3, 3))  # the cameras' up: a noisy hint
    level = orientation.find_level(np.concatenate([floor, ceiling, clutter]), cam_up, cams)
    assert level.from_plane
    assert np.degrees(np.arccos(np.clip(level.up @ up, -1, 1))) < 0.5
    assert level.ground == pytest.approx(0.5, abs=0.01)
    # Without any plane: the cameras' up and a low percentile of the heights.
    level = orientation.find_level(clutter, np.tile(up, (3, 1)), cams)
    assert not level.from_plane and level.up @ up == pytest.approx(1.0)
    R = orientation.rotation_up_to_z(up, np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(R @ up, [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="positive"):
        orientation.scaled_about_origin(np.eye(4), 0.0)
