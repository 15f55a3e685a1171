"""A Cycles render through a recovered camera reproduces the photo (cameras, colours and material at once).

Ground truth from tests.synthetic goes through the builder as if the network had produced it (the network image is
the photo itself); rendering the point cloud of both views through camera 0 must give back photo 0, up to
the gaps and overlaps of round points. A wrong axis, focal, shift, half-pixel offset, render resolution or
colour transform shows up as a large difference.
"""

from __future__ import annotations

import bpy
import numpy as np

from tests import synthetic

SIZE = (96, 72)


def _reconstruction_from_case(addon, case, folder):
    from PIL import Image

    result = addon.submodule("core.result")
    photo = addon.submodule("core.geometry.photo")
    n, h, w = case["depth"].shape
    crop = photo.PhotoCrop(photo_size=(w, h), resized_size=(w, h), crop_offset=(0, 0), net_size=(w, h))
    paths = []
    for k in range(n):
        path = folder / f"view{k}.png"
        Image.fromarray(case["images"][k]).save(path)
        paths.append(str(path))
    # the synthetic K is in index coordinates, the DUSt3R convention of network images.
    return result.reconstruction_from_depth(
        paths,
        case["cam2world"],
        case["K"],
        [crop] * n,
        case["depth"],
        [np.full((h, w), 10.0, np.float32)] * n,
        [img.astype(np.float32) / 255.0 for img in case["images"]],
    )


def test_cycles_render_through_recovered_camera_matches_photo(addon, tmp_path) -> None:
    from PIL import Image

    case = synthetic.make_case("room", n=2, noise=0.0, size=SIZE, seed=0, preds=False)
    recon = _reconstruction_from_case(addon, case, tmp_path)
    builder = addon.submodule("operators.scene_builder")
    radius = 0.8 * float(np.median(case["depth"][0])) / float(case["focals"][0])
    builder.build_reconstruction(
        bpy.context.scene, recon, builder.BuildOptions(conf_threshold=0.0, point_radius=radius)
    )
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 2
    scene.cycles.use_denoising = False
    scene.cycles.filter_width = 0.01
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.filepath = str(tmp_path / "render.png")
    bpy.ops.render.render(write_still=True)
    rendered = np.asarray(Image.open(tmp_path / "render.png").convert("RGB")).astype(np.int16)
    assert rendered.shape == (SIZE[1], SIZE[0], 3)
    diff = np.abs(rendered - case["images"][0].astype(np.int16))
    assert float(np.median(diff)) <= 2.0, f"median difference {np.median(diff)}"
    assert float(diff.mean()) < 8.0, f"mean difference {diff.mean():.2f} / 255"
    # The same comparison against the other photo is far worse: the test can tell views apart.
    other = np.abs(rendered - case["images"][1].astype(np.int16)).mean()
    assert other > 3 * diff.mean()
