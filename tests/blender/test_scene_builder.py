"""What the builder makes from a Reconstruction: collection, points and attributes, modifier, cameras."""

from __future__ import annotations

import bpy
import numpy as np
import pytest


def _evaluated_point_count(obj: bpy.types.Object) -> int:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    total = 0
    for inst in depsgraph.object_instances:
        if inst.object.type == "POINTCLOUD" and inst.object.original == obj:
            total += len(inst.object.data.points)
    return total


def _build(addon, recon, **options):
    builder = addon.submodule("operators.scene_builder")
    return builder.build_reconstruction(bpy.context.scene, recon, builder.BuildOptions(**options))


def test_points_object_attributes_and_tags(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(320, 240), (240, 320)], seed=3, folder_name="garden")
    report = _build(addon, recon)
    scene = bpy.context.scene
    assert report.collection.name == "garden"
    assert report.collection.name in scene.collection.children
    obj = report.points_object
    assert obj["dust3r_role"] == "points"
    mesh = obj.data
    n = sum(p.shape[0] * p.shape[1] for p in recon.pts3d)
    assert len(mesh.vertices) == n == report.num_points
    assert len(mesh.edges) == 0 and len(mesh.polygons) == 0
    attrs = {a.name: (a.data_type, a.domain) for a in mesh.attributes}
    assert attrs["color"] == ("FLOAT_COLOR", "POINT")
    assert attrs["confidence"] == ("FLOAT", "POINT")
    assert attrs["view"] == ("INT", "POINT")
    assert mesh.color_attributes.active_color_name == "color"

    # Positions: OpenCV world -> Blender world (x, z, -y); colours: sRGB photo values -> linear.
    pos = np.empty(n * 3, np.float32)
    mesh.attributes["position"].data.foreach_get("vector", pos)
    cv = np.concatenate([p.reshape(-1, 3) for p in recon.pts3d])
    np.testing.assert_array_equal(pos.reshape(n, 3), np.stack([cv[:, 0], cv[:, 2], -cv[:, 1]], -1))
    col = np.empty(n * 4, np.float32)
    mesh.attributes["color"].data.foreach_get("color", col)
    srgb = np.concatenate([c.reshape(-1, 3) for c in recon.colors])
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    np.testing.assert_allclose(col.reshape(n, 4)[:, :3], linear, atol=1e-6)
    conf = np.empty(n, np.float32)
    mesh.attributes["confidence"].data.foreach_get("value", conf)
    np.testing.assert_array_equal(conf, np.concatenate([c.ravel() for c in recon.conf]))
    view = np.empty(n, np.int32)
    mesh.attributes["view"].data.foreach_get("value", view)
    assert np.bincount(view).tolist() == [p.shape[0] * p.shape[1] for p in recon.pts3d]

    # Cameras: tagged, first one is the scene camera, render settings are its photo's.
    assert [c["dust3r_role"] for c in report.camera_objects] == ["camera", "camera"]
    assert scene.camera == report.camera_objects[0]
    assert (scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage) == (
        320,
        240,
        100,
    )
    assert report.warnings and "different sizes" in report.warnings[0]


def test_confidence_threshold_changes_the_evaluated_point_count(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(320, 240)], seed=4)
    report = _build(addon, recon, conf_threshold=0.0, point_radius=0.01)
    obj = report.points_object
    geonodes = addon.submodule("operators.geonodes")
    conf = recon.conf[0].ravel()
    assert _evaluated_point_count(obj) == conf.size
    for threshold in (3.0, 7.5):
        geonodes.set_points_filter(obj, threshold=threshold)
        assert _evaluated_point_count(obj) == int((conf >= np.float32(threshold)).sum())
    # The mesh itself keeps every point: the filter is live.
    assert len(obj.data.vertices) == conf.size
    mod = obj.modifiers[geonodes.MODIFIER_NAME]
    key = geonodes.input_identifier(mod.node_group, geonodes.RADIUS_INPUT)
    assert mod[key] == np.float32(0.01)


def test_two_builds_share_node_group_and_material(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(320, 240)], seed=5)
    first = _build(addon, recon)
    second = _build(addon, recon)
    assert first.collection != second.collection
    groups = [g for g in bpy.data.node_groups if g.name.startswith("DUSt3R Points")]
    assert len(groups) == 1
    assert first.points_object.modifiers[0].node_group == second.points_object.modifiers[0].node_group
    # Both point clouds reuse the one photo image (check_existing) rather than loading it twice.
    assert len([i for i in bpy.data.images if i.filepath.endswith("img0.png")]) == 1


def test_invalid_camera_builds_nothing(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(320, 240)], seed=6)
    bad = type(recon)(
        **{**recon.__dict__, "K_photo": recon.K_photo * np.array([[0, 1, 1], [1, 1, 1], [1, 1, 1]])}
    )
    before = {name: len(getattr(bpy.data, name)) for name in ("objects", "meshes", "cameras", "collections")}
    with pytest.raises(ValueError, match="positive"):
        _build(addon, bad)
    after = {name: len(getattr(bpy.data, name)) for name in before}
    assert after == before


def test_activate_camera_sets_its_photo_resolution(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(320, 240), (240, 320)], seed=8)
    report = _build(addon, recon)
    scene = bpy.context.scene
    second = report.camera_objects[1]
    bpy.context.view_layer.objects.active = second
    assert bpy.ops.dust3r.activate_camera() == {"FINISHED"}
    assert scene.camera == second
    assert (scene.render.resolution_x, scene.render.resolution_y) == (240, 320)
    aspect = tuple(second["dust3r_pixel_aspect"])
    assert (scene.render.pixel_aspect_x, scene.render.pixel_aspect_y) == tuple(np.float32(aspect))
    bpy.context.view_layer.objects.active = report.points_object
    with pytest.raises(RuntimeError, match="context is incorrect|poll"):
        bpy.ops.dust3r.activate_camera()


@pytest.mark.parametrize("surfaces", [False, True])
def test_failed_build_leaves_the_file_as_it_was(addon, make_reconstruction, monkeypatch, surfaces) -> None:
    recon, _ = make_reconstruction([(320, 240), (240, 320)], seed=8)
    builder = addon.submodule("operators.scene_builder")
    kinds = ("collections", "objects", "meshes", "cameras", "materials", "node_groups", "images")

    def names() -> dict[str, set[str]]:
        return {kind: {id_.name for id_ in getattr(bpy.data, kind)} for kind in kinds}

    before = names()
    target = builder.surfaces if surfaces else builder.cameras
    failing = "photo_material" if surfaces else "create_camera"
    original, calls = getattr(target, failing), []

    def fail_on_second_call(*args, **kwargs):  # the first photo is loaded, the second call fails
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated failure")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, failing, fail_on_second_call)
    with pytest.raises(RuntimeError, match="simulated"):
        builder.build_reconstruction(bpy.context.scene, recon, builder.BuildOptions(surfaces=surfaces))
    assert names() == before
