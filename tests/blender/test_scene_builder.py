"""What the builder makes from a Reconstruction: collection, parent empty, points and attributes, the live
modifier, cameras, names."""

from __future__ import annotations

import bpy
import numpy as np
import pytest


def _evaluated_mesh(obj: bpy.types.Object) -> bpy.types.Mesh:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    return obj.evaluated_get(depsgraph).data


def _build(addon, recon, **options):
    builder = addon.submodule("scene.build")
    return builder.build_reconstruction(bpy.context.scene, recon, builder.BuildOptions(**options))


def _corner_positions(mesh: bpy.types.Mesh) -> np.ndarray:
    pos = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.attributes["position"].data.foreach_get("vector", pos)
    return pos.reshape(3, -1, 3).transpose(1, 0, 2)  # corner-major vertices -> (points, corners, xyz)


def test_points_object_layout_attributes_and_tags(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(320, 240), (240, 320)], seed=3, folder_name="garden")
    report = _build(addon, recon, conf_threshold=0.0)
    points = addon.submodule("scene.points")
    scene = bpy.context.scene
    assert report.collection.name == "garden" and report.collection["dust3r_role"] == "reconstruction"
    assert report.collection.name in scene.collection.children
    obj = report.points_object
    assert obj["dust3r_role"] == "points"
    mesh = obj.data
    n = sum(p.shape[0] * p.shape[1] for p in recon.pts3d)
    # The first N vertices are the points; two copies of each make face k, point k's triangle.
    assert mesh["dust3r_points"] == len(mesh.polygons) == n == report.num_points
    assert len(mesh.vertices) == len(mesh.loops) == len(mesh.edges) == 3 * n
    assert mesh.validate(verbose=False) is False  # nothing to fix: a well-formed mesh
    attrs = {a.name: (a.data_type, a.domain) for a in mesh.attributes if not a.name.startswith(".")}
    assert attrs == {
        "position": ("FLOAT_VECTOR", "POINT"),
        "color": ("BYTE_COLOR", "POINT"),
        "confidence": ("FLOAT", "POINT"),
        "view": ("INT", "POINT"),
        "dust3r_corner": ("FLOAT_VECTOR", "POINT"),
    }
    assert mesh.attributes.active_color_name == "color"

    # One entry per point: positions exactly the points (OpenCV world -> Blender world (x, z, -y)),
    # colours the photo's values as 8-bit sRGB (rounded as Blender rounds) made linear, confidence as
    # given, views in order.
    cloud = points.read_points(mesh)
    cv = np.concatenate([p.reshape(-1, 3) for p in recon.pts3d])
    np.testing.assert_array_equal(cloud.positions, np.stack([cv[:, 0], cv[:, 2], -cv[:, 1]], -1))
    srgb = np.floor(np.concatenate([c.reshape(-1, 3) for c in recon.colors]) * 255 + 0.5) / 255
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    np.testing.assert_allclose(cloud.colors[:, :3], linear, atol=1e-6)
    np.testing.assert_array_equal(cloud.confidence, np.concatenate([c.ravel() for c in recon.conf]))
    assert np.bincount(cloud.view).tolist() == [p.shape[0] * p.shape[1] for p in recon.pts3d]
    # The copies carry the same values (vertex c * N + k is corner c of point k).
    conf = np.empty(3 * n, np.float32)
    mesh.attributes["confidence"].data.foreach_get("value", conf)
    np.testing.assert_array_equal(conf.reshape(3, n), np.tile(cloud.confidence, (3, 1)))

    # Evaluated: each triangle has circumradius report.point_radius about its point and faces its camera.
    evaluated = _evaluated_mesh(obj)
    corners = _corner_positions(evaluated)
    radii = np.linalg.norm(corners - cloud.positions[:, None, :], axis=-1)
    np.testing.assert_allclose(radii, report.point_radius, rtol=1e-3)
    normals = np.empty(n * 3, np.float32)
    evaluated.polygons.foreach_get("normal", normals)
    for k, cam in enumerate(report.camera_objects):
        towards = np.array(cam.matrix_world.translation) - cloud.positions[cloud.view == k]
        facing = np.einsum("ij,ij->i", normals.reshape(n, 3)[cloud.view == k], towards)
        assert (facing > 0).all()

    # Everything hangs under one parent empty named like the collection.
    root = report.root
    assert root.name == "garden" and root["dust3r_role"] == "root" and root.type == "EMPTY"
    assert {o.name for o in root.children} == {obj.name, *(c.name for c in report.camera_objects)}
    assert set(report.collection.objects) == {root, obj, *report.camera_objects}

    # Cameras: tagged, first one is the scene camera, render settings are its photo's.
    assert [c["dust3r_role"] for c in report.camera_objects] == ["camera", "camera"]
    assert scene.camera == report.camera_objects[0]
    assert (scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage) == (
        320,
        240,
        100,
    )
    assert report.warnings and "different sizes" in report.warnings[0]


def test_threshold_and_radius_change_the_evaluated_geometry_live(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(320, 240)], seed=4)
    report = _build(addon, recon, conf_threshold=0.0, point_radius=0.01)
    obj = report.points_object
    geonodes = addon.submodule("scene.geonodes")
    points = addon.submodule("scene.points")
    conf = recon.conf[0].ravel()
    evaluated = _evaluated_mesh(obj)
    assert len(evaluated.polygons) == conf.size
    for threshold in (3.0, 7.5):
        geonodes.set_points_filter(obj, threshold=threshold)
        evaluated = _evaluated_mesh(obj)
        assert len(evaluated.polygons) == int((conf >= np.float32(threshold)).sum())
        assert len(evaluated.vertices) == 3 * len(evaluated.polygons)
    # The evaluated mesh keeps the colour on its corners under the active colour's name (what Solid
    # view's Attribute colour draws), and every kept point keeps its own colour and confidence.
    attr = evaluated.attributes["color"]
    assert (attr.domain, attr.data_type) == ("POINT", "BYTE_COLOR")
    assert evaluated.attributes.active_color_name == "color"
    kept = len(evaluated.polygons)
    kept_conf = np.empty(3 * kept, np.float32)
    evaluated.attributes["confidence"].data.foreach_get("value", kept_conf)
    assert (kept_conf >= 7.5).all()
    colors = np.empty(3 * kept * 4, np.float32)
    attr.data.foreach_get("color", colors)
    colors = colors.reshape(3, kept, 4).transpose(1, 0, 2)  # (points, corners, rgba)
    np.testing.assert_array_equal(colors[:, 0], colors[:, 1])
    np.testing.assert_array_equal(colors[:, 0], colors[:, 2])
    expected = points.read_points(obj.data).colors[conf >= np.float32(7.5)]
    np.testing.assert_allclose(colors[:, 0], expected, atol=1e-6)

    # Radius: every evaluated corner sits at the new radius from its point.
    for radius in (0.002, 0.05):
        geonodes.set_points_filter(obj, radius=radius)
        corners = _corner_positions(_evaluated_mesh(obj))
        radii = np.linalg.norm(corners - corners.mean(axis=1, keepdims=True), axis=-1)
        np.testing.assert_allclose(radii, radius, rtol=1e-3)
    # The mesh itself keeps every point: the filter is live.
    assert len(obj.data.polygons) == conf.size
    assert geonodes.points_filter(obj) == pytest.approx((7.5, 0.05))


def test_default_radius_and_camera_size_follow_the_scene_scale(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(320, 240), (320, 240)], seed=5)
    builder = addon.submodule("scene.build")
    footprint = np.median([np.median(recon.depth[k]) / recon.K_net[k][0, 0] for k in range(recon.num_views)])
    small = _build(addon, recon)
    assert small.point_radius == pytest.approx(builder.POINT_RADIUS_PER_FOOTPRINT * footprint)
    poses = recon.world_from_cam.copy()
    poses[:, :3, 3] *= 100
    big_recon = type(recon)(
        **{
            **recon.__dict__,
            "world_from_cam": poses,
            "depth": tuple(d * 100 for d in recon.depth),
            "pts3d": tuple(p * 100 for p in recon.pts3d),
        }
    )
    big = _build(addon, big_recon)
    assert big.point_radius == pytest.approx(100 * small.point_radius, rel=1e-5)
    assert big.camera_objects[0].data.display_size == pytest.approx(
        100 * small.camera_objects[0].data.display_size, rel=1e-5
    )
    # The modifier's radius is a distance (shown with the scene's length unit).
    tree = big.points_object.modifiers[0].node_group
    radius_socket = next(i for i in tree.interface.items_tree if getattr(i, "name", "") == "Point Radius")
    assert radius_socket.subtype == "DISTANCE"
    # A radius given explicitly wins.
    assert _build(addon, recon, point_radius=0.123).point_radius == pytest.approx(0.123)


def test_a_second_build_suffixes_the_base_name_once(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(320, 240)], seed=5, folder_name="photos")
    first = _build(addon, recon)
    second = _build(addon, recon)
    assert first.collection.name == first.root.name == "photos"
    assert first.points_object.name == "photos Points"
    assert second.collection.name == second.root.name == "photos.001"
    assert second.points_object.name == "photos.001 Points"
    assert second.camera_objects[0].name == "photos.001 000 img0"
    # The node group and material are shared; the photo is loaded once.
    groups = [g for g in bpy.data.node_groups if g.name.startswith("DUSt3R Points")]
    assert len(groups) == 1
    assert first.points_object.modifiers[0].node_group == second.points_object.modifiers[0].node_group
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


def test_a_view_without_points_or_surface_is_reported_and_skipped(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(320, 240), (320, 240)], seed=9, smooth=True)
    pts = list(recon.pts3d)
    pts[1] = np.full_like(pts[1], np.nan)  # view 1: no finite point at all
    recon = type(recon)(**{**recon.__dict__, "pts3d": tuple(pts)})
    # A threshold above every confidence: no surface anywhere (was: 'key "position" not found').
    report = _build(addon, recon, surfaces=True, conf_threshold=1e9)
    assert report.surface_objects == []
    assert sum("no surface" in w for w in report.warnings) == 2
    assert any("img1.png: no point with finite coordinates" in w for w in report.warnings)
    assert report.num_points == pts[0].shape[0] * pts[0].shape[1]
    assert len(report.camera_objects) == 2


def test_a_photo_pillow_refuses_leaves_its_camera_without_background(
    addon, make_reconstruction, monkeypatch
) -> None:
    from PIL import Image

    recon, _ = make_reconstruction([(320, 240)], seed=10)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 320 x 240 is now a "decompression bomb"
    report = _build(addon, recon)
    cam = report.camera_objects[0].data
    assert len(cam.background_images) == 0
    assert any("img0.png cannot be shown" in w for w in report.warnings)


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


def test_the_foreach_set_fallback_builds_the_same_mesh(addon, make_reconstruction, monkeypatch) -> None:
    """When Blender's arrays cannot be reached directly (``mesh_arrays`` finds no contiguous array), every
    array goes through ``foreach_set`` instead, and reads through ``foreach_get``: the same mesh."""
    recon, _ = make_reconstruction([(64, 48), (48, 64)], seed=5)
    recon.pts3d[1][::3, ::2] = np.nan  # dropped points shift every later index
    points = addon.submodule("scene.points")
    direct = _build(addon, recon, conf_threshold=0.0).points_object.data
    expected = points.read_points(direct)
    with monkeypatch.context() as patch:
        patch.setattr(addon.submodule("scene.mesh_arrays"), "_view", lambda *_args: None)
        mesh = _build(addon, recon, conf_threshold=0.0).points_object.data
        assert mesh.validate(verbose=False) is False
        fallback = points.read_points(mesh)
    for field in ("positions", "colors", "confidence", "view"):
        np.testing.assert_array_equal(getattr(fallback, field), getattr(expected, field), err_msg=field)
    finite = sum(int(np.isfinite(p).all(-1).sum()) for p in recon.pts3d)
    assert 0 < len(expected) == finite < sum(p.shape[0] * p.shape[1] for p in recon.pts3d)
    for name in ("position", "color", "confidence", "view", "dust3r_corner", ".edge_verts", ".corner_vert"):
        a, b = direct.attributes[name], mesh.attributes[name]
        key = {"FLOAT_VECTOR": "vector", "BYTE_COLOR": "color_srgb"}.get(a.data_type, "value")
        width = {"FLOAT_VECTOR": 3, "BYTE_COLOR": 4, "INT32_2D": 2}.get(a.data_type, 1)
        values = [np.empty(len(a.data) * width, np.float32) for _ in (a, b)]
        a.data.foreach_get(key, values[0])
        b.data.foreach_get(key, values[1])
        np.testing.assert_array_equal(values[0], values[1], err_msg=name)
    starts = [np.empty(len(m.polygons), np.int32) for m in (direct, mesh)]
    direct.polygons.foreach_get("loop_start", starts[0])
    mesh.polygons.foreach_get("loop_start", starts[1])
    np.testing.assert_array_equal(starts[0], starts[1])


def test_read_points_reads_a_float_colour_mesh_of_earlier_versions(addon, make_reconstruction) -> None:
    """Meshes built before the colours became bytes hold a linear FLOAT_COLOR attribute: read as it is."""
    recon, _ = make_reconstruction([(32, 24)], seed=6)
    points = addon.submodule("scene.points")
    mesh = _build(addon, recon, conf_threshold=0.0).points_object.data
    n = mesh["dust3r_points"]
    linear = np.random.default_rng(0).uniform(0, 1, (3 * n, 4)).astype(np.float32)
    mesh.attributes.remove(mesh.attributes["color"])
    mesh.attributes.new("color", "FLOAT_COLOR", "POINT").data.foreach_set("color", linear.ravel())
    np.testing.assert_array_equal(points.read_points(mesh).colors, linear[:n])
