"""What the artist sees: renders through a recovered camera reproduce the photo, in every viewport mode.

A ground-truth reconstruction of a ``tests.synthetic`` scene (a RESULT.npz written by the test) is imported
with ``dust3r.import_result``; then camera 0 renders it:

- Workbench with the 3D Viewport's Solid shading exactly as the add-on leaves it (what Solid view shows);
- EEVEE (what Material Preview and Rendered show) and Cycles (Rendered, final renders), once each.

The colours must match the photo over the covered pixels (correlation and mean absolute difference), and a
grey point cloud (Solid view with Blender's default shading, which colours by material) must fail the very
same check. A wrong axis, focal, shift, half-pixel offset, render resolution or colour transform fails too.
"""

from __future__ import annotations

import bpy
import numpy as np
import pytest

SIZE = (96, 72)
# Solid view (Workbench, flat): triangles cover each pixel, neighbours overlap a little.
MIN_CORRELATION = 0.9
MAX_MEAN_ABS_DIFF = 12.0  # of 255
MIN_COVERAGE = 0.98


def colour_match(rendered_rgba: np.ndarray, photo: np.ndarray) -> tuple[float, float, float]:
    """``(coverage, correlation, mean absolute difference /255)`` of a render against its photo, over the
    pixels the points cover (alpha > 0.5 with a transparent film)."""
    covered = rendered_rgba[..., 3] > 127
    if not covered.any():
        return 0.0, 0.0, 255.0
    a = rendered_rgba[..., :3][covered].astype(np.float64).ravel()
    b = photo[covered].astype(np.float64).ravel()
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 else 0.0
    return float(covered.mean()), corr, float(np.abs(a - b).mean())


def matches(stats: tuple[float, float, float]) -> bool:
    coverage, corr, mad = stats
    return coverage >= MIN_COVERAGE and corr >= MIN_CORRELATION and mad <= MAX_MEAN_ABS_DIFF


def _render(scene, engine: str, path) -> np.ndarray:
    from PIL import Image

    scene.render.engine = engine
    scene.render.film_transparent = True
    scene.view_settings.view_transform = "Standard"  # display values = the photo's sRGB values
    scene.view_settings.look = "None"
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return np.asarray(Image.open(path).convert("RGBA"))


def _copy_solid_shading(source, target) -> None:
    """The Solid shading of a 3D Viewport onto the scene's Workbench render settings."""
    for name in (
        "light",
        "color_type",
        "single_color",
        "studio_light",
        "show_specular_highlight",
        "show_cavity",
        "show_shadows",
        "show_object_outline",
        "show_backface_culling",
        "show_xray",
    ):
        setattr(target, name, getattr(source, name))


def _viewport_shading(context):
    for area in context.screen.areas:
        if area.type == "VIEW_3D":
            return area.spaces.active.shading
    raise AssertionError("the test file has no 3D Viewport")


@pytest.fixture
def imported(addon, synthetic_result):
    recon, case, path = synthetic_result("room", n=2, size=SIZE, seed=0)
    assert bpy.ops.dust3r.import_result(filepath=str(path)) == {"FINISHED"}
    scene = bpy.context.scene
    assert scene.camera["dust3r_index"] == 0
    assert (scene.render.resolution_x, scene.render.resolution_y) == SIZE
    return scene, case


def test_solid_view_as_the_addon_leaves_it_shows_the_photo_colours(imported, tmp_path) -> None:
    scene, case = imported
    shading = _viewport_shading(bpy.context)
    _copy_solid_shading(shading, scene.display.shading)
    rendered = _render(scene, "BLENDER_WORKBENCH", tmp_path / "solid.png")
    assert rendered.shape == (SIZE[1], SIZE[0], 4)
    stats = colour_match(rendered, case["images"][0])
    assert matches(stats), f"coverage {stats[0]:.3f}, correlation {stats[1]:.3f}, MAD {stats[2]:.1f}"
    # The check tells views apart, and grey points fail it: Blender's default Solid shading (colour by
    # material) draws every point in one colour.
    assert not matches(colour_match(rendered, case["images"][1]))
    scene.display.shading.color_type = "MATERIAL"
    scene.display.shading.light = "STUDIO"
    grey = _render(scene, "BLENDER_WORKBENCH", tmp_path / "grey.png")
    coverage, corr, mad = colour_match(grey, case["images"][0])
    assert coverage >= MIN_COVERAGE and not matches((coverage, corr, mad))
    # Restoring the artist's shading puts Blender's default back in the viewport.
    assert bpy.ops.dust3r.solid_point_colors(show=False) == {"FINISHED"}
    assert (shading.color_type, shading.light) == ("MATERIAL", "STUDIO")


def test_eevee_material_preview_shows_the_photo_colours(imported, tmp_path) -> None:
    scene, case = imported
    engine = "BLENDER_EEVEE_NEXT" if bpy.app.version < (5, 0, 0) else "BLENDER_EEVEE"
    scene.eevee.taa_render_samples = 1
    rendered = _render(scene, engine, tmp_path / "eevee.png")
    stats = colour_match(rendered, case["images"][0])
    assert matches(stats), f"coverage {stats[0]:.3f}, correlation {stats[1]:.3f}, MAD {stats[2]:.1f}"


def test_cycles_render_shows_the_photo_colours(imported, tmp_path) -> None:
    scene, case = imported
    scene.cycles.device = "CPU"
    scene.cycles.samples = 4
    scene.cycles.use_denoising = False
    scene.cycles.filter_width = 0.01  # no pixel filter blur: compare pixel by pixel
    rendered = _render(scene, "CYCLES", tmp_path / "cycles.png")
    stats = colour_match(rendered, case["images"][0])
    assert matches(stats), f"coverage {stats[0]:.3f}, correlation {stats[1]:.3f}, MAD {stats[2]:.1f}"
    assert not matches(colour_match(rendered, case["images"][1]))
