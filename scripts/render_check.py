"""Render check: a synthetic reconstruction, rendered with Cycles through a recovered camera, against its photo.

A ground-truth scene from ``shared/tools/synthgen.py`` (depth, cameras and images of a textured scene) goes
through the add-on's own builder exactly like a network result would: the images are saved as PNG photos,
the ``Reconstruction`` holds the ground-truth points, cameras and colours. Cycles (CPU, few samples, the
points' emission material, "Standard" view transform) then renders the point cloud of ALL views through
camera 0; the camera's background photo is not part of the render. If the camera conventions (axes, focal,
shift, pixel centres, render resolution) and the colour handling (sRGB photo -> linear attribute -> sRGB
render) are right, the render matches the photo up to the gaps and overlaps of round points.

Prints the mean absolute difference (0-255 scale) and writes ``photo | render | 4 x |difference|`` to
``docs/render.png``. With ``--surfaces`` it renders the per-view surfaces (textured with the photos) instead.

Example::

    .venv/bin/python scripts/render_check.py --size 320x240 --samples 8
    .venv/bin/python scripts/render_check.py --surfaces --out /tmp/surfaces.png
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
SYNTHGEN = REPO_ROOT.parent / "shared" / "tools" / "synthgen.py"
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="dust3r-render-"))


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_addon(name: str):
    """Import one module of the add-on, as a package named ``dust3r`` (a symlink to the repository root)."""
    if "dust3r" not in sys.modules:
        tmp = Path(tempfile.mkdtemp(prefix="dust3r-render-pkg-"))
        (tmp / "dust3r").symlink_to(REPO_ROOT, target_is_directory=True)
        sys.path.insert(0, str(tmp))
    return importlib.import_module(f"dust3r.{name}")


def reconstruction_from_case(case, photo_dir: Path):
    """Ground truth of a synthgen case as a ``Reconstruction`` whose network image IS the photo."""
    from PIL import Image

    result = import_addon("core.result")
    photo = import_addon("core.geometry.photo")
    n, h, w = case["depth"].shape
    crop = photo.PhotoCrop(photo_size=(w, h), resized_size=(w, h), crop_offset=(0, 0), net_size=(w, h))
    paths = []
    for k in range(n):
        path = photo_dir / f"view{k}.png"
        Image.fromarray(case["images"][k]).save(path)
        paths.append(str(path))
    # synthgen's K is in index coordinates, the DUSt3R convention of network images.
    return result.reconstruction_from_depth(
        paths,
        case["cam2world"],
        case["K"],
        [crop] * n,
        case["depth"],
        [np.full((h, w), 10.0, np.float32)] * n,
        [img.astype(np.float32) / 255.0 for img in case["images"]],
    )


def render(bpy, scene, samples: int, out_path: Path) -> np.ndarray:
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.filter_width = 0.01  # no pixel filter blur: compare pixel by pixel
    scene.view_settings.view_transform = "Standard"  # emission values = photo values after sRGB encoding
    scene.view_settings.look = "None"
    scene.render.film_transparent = False
    scene.world = bpy.data.worlds.new("black")
    scene.world.color = (0.0, 0.0, 0.0)
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.filepath = str(out_path)
    bpy.ops.render.render(write_still=True)
    from PIL import Image

    return np.asarray(Image.open(out_path).convert("RGB"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", default="room", choices=["orbit", "room"])
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--surfaces", action="store_true", help="render the per-view surfaces, not the points"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "render.png")
    args = parser.parse_args()
    w, h = (int(x) for x in args.size.lower().split("x"))

    import bpy
    from PIL import Image

    synthgen = load_module("synthgen", SYNTHGEN)
    case = synthgen.make_case(args.scene, n=args.views, noise=0.0, size=(w, h), seed=args.seed, preds=False)
    work = Path(tempfile.mkdtemp(prefix="dust3r-render-photos-"))
    recon = reconstruction_from_case(case, work)

    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    builder = import_addon("operators.scene_builder")
    # Radius: a bit more than half a pixel's footprint at the median depth (closer points overlap more).
    pixel_at_depth = float(np.median(case["depth"][0])) / float(case["focals"][0])
    options = builder.BuildOptions(
        conf_threshold=0.0, point_radius=0.8 * pixel_at_depth, surfaces=args.surfaces
    )
    report = builder.build_reconstruction(bpy.context.scene, recon, options)
    if args.surfaces:
        report.points_object.hide_render = True
    scene = bpy.context.scene
    assert scene.camera == report.camera_objects[0]
    t0 = time.perf_counter()
    rendered = render(bpy, scene, args.samples, work / "render.png")
    seconds = time.perf_counter() - t0
    photo = case["images"][0]
    diff = np.abs(rendered.astype(np.int16) - photo.astype(np.int16))
    mad = float(diff.mean())
    what = (
        f"{len(report.surface_objects)} textured surfaces"
        if args.surfaces
        else f"{report.num_points:,} points"
    )
    print(f"{args.scene} scene, {args.views} views, {w}x{h}, {what}, Cycles CPU {args.samples} spp")
    print(f"render {seconds:.1f} s; mean absolute difference render vs photo: {mad:.2f} / 255")
    print(
        f"median absolute difference: {float(np.median(diff)):.1f} / 255; pixels within 16: {(diff.max(-1) <= 16).mean():.1%}"
    )
    strip = np.concatenate([photo, rendered, np.clip(diff * 4, 0, 255).astype(np.uint8)], axis=1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB): photo | render | 4 x |difference|")
    sys.stdout.flush()
    os._exit(0)  # bpy as a module may crash at interpreter exit (TESTING.md)


if __name__ == "__main__":
    main()
