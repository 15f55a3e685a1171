"""What the add-on changes in the viewports: Solid shading for the colours (reversibly), and looking through
a camera with its photo over the points."""

from __future__ import annotations

import bpy
import pytest


def _shadings() -> dict[tuple[str, int], tuple[str, str]]:
    out = {}
    for screen in bpy.data.screens:
        for index, area in enumerate(screen.areas):
            for space in area.spaces:
                if space.type == "VIEW_3D":
                    out[(screen.name, index)] = (space.shading.color_type, space.shading.light)
    return out


def test_a_build_shows_the_colours_in_every_viewport_and_restore_puts_everything_back(
    addon, synthetic_result, capfd
) -> None:
    _recon, _case, path = synthetic_result("room", n=2, size=(32, 24))
    original = _shadings()
    assert len(original) >= 5
    assert len(set(original.values())) > 1  # the workspaces differ (Material, Texture, MatCap...)
    capfd.readouterr()
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}
    assert "Solid view now shows the point colours" in capfd.readouterr().out  # says what it did
    assert set(_shadings().values()) == {("VERTEX", "FLAT")}
    viewport = addon.submodule("scene.viewport")
    assert viewport.point_colors_shown(bpy.context.screen)
    # A second build changes nothing more and keeps the first record (the artist's own settings).
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}
    assert "Solid view now shows" not in capfd.readouterr().out
    assert bpy.ops.dust3r.solid_point_colors(show=False) == {"FINISHED"}
    assert _shadings() == original
    assert not viewport.point_colors_shown(bpy.context.screen)
    assert not any(viewport.RECORD_KEY in s for s in bpy.data.screens)
    # And on again by the button.
    assert bpy.ops.dust3r.solid_point_colors(show=True) == {"FINISHED"}
    assert set(_shadings().values()) == {("VERTEX", "FLAT")}


def test_compare_looks_through_the_camera_with_its_photo_in_front(addon, make_reconstruction) -> None:
    builder = addon.submodule("scene.build")
    recon, _ = make_reconstruction([(320, 240), (240, 320), (200, 200)], seed=2)
    report = builder.build_reconstruction(bpy.context.scene, recon)
    scene = bpy.context.scene
    cams = report.camera_objects
    bpy.context.view_layer.objects.active = cams[1]
    assert bpy.ops.dust3r.compare_photo(opacity=0.3) == {"FINISHED"}
    assert scene.camera == cams[1]
    assert (scene.render.resolution_x, scene.render.resolution_y) == (240, 320)
    bg = cams[1].data.background_images[0]
    assert (bg.display_depth, bg.alpha) == ("FRONT", pytest.approx(0.3))
    views = [a.spaces.active for a in bpy.context.screen.areas if a.type == "VIEW_3D"]
    assert views and all(v.region_3d.view_perspective == "CAMERA" for v in views)
    # Next and previous camera of the same reconstruction, wrapping around.
    assert bpy.ops.dust3r.compare_photo(step=1) == {"FINISHED"}
    assert scene.camera == cams[2] and (scene.render.resolution_x, scene.render.resolution_y) == (200, 200)
    assert bpy.ops.dust3r.compare_photo(step=1) == {"FINISHED"}
    assert scene.camera == cams[0]
    assert bpy.ops.dust3r.compare_photo(step=-1) == {"FINISHED"}
    assert scene.camera == cams[2]
    # By name, from anywhere; a name that is not a DUSt3R camera is refused.
    bpy.context.view_layer.objects.active = report.points_object
    assert bpy.ops.dust3r.compare_photo(camera=cams[0].name) == {"FINISHED"}
    assert scene.camera == cams[0] and bpy.context.view_layer.objects.active == cams[0]
    with pytest.raises(RuntimeError, match="not a DUSt3R camera"):
        bpy.ops.dust3r.compare_photo(camera=report.points_object.name)


def test_compare_without_a_photo_warns(addon, make_reconstruction, capfd) -> None:
    builder = addon.submodule("scene.build")
    recon, _ = make_reconstruction([(64, 48)], seed=3)
    report = builder.build_reconstruction(bpy.context.scene, recon)
    cam = report.camera_objects[0]
    cam.data.background_images.clear()
    capfd.readouterr()
    assert bpy.ops.dust3r.compare_photo(camera=cam.name) == {"FINISHED"}
    assert "has no background photo" in capfd.readouterr().out
    # Nothing to compare with: no DUSt3R camera anywhere.
    bpy.data.objects.remove(cam)
    assert not bpy.ops.dust3r.compare_photo.poll()
