"""Render check: a synthetic scene built by the add-on, rendered through a camera, against its photo.

The scene comes from the project's own generator (``tests.synthetic``): rendered photos of textured
primitives with their true depth and cameras. Two sources of the reconstruction:

- ground truth (default): the true cameras and depth go through the add-on's builder as if the network and
  the alignment had been perfect (no network, no alignment); this checks the camera conventions (axes,
  focal, shift, pixel centres, render resolution) and the colour handling (sRGB photo -> colour attribute
  -> sRGB display);
- ``--aligned``: DUSt3R-like pair predictions of the generator (``--noise``, its documented noise model,
  in place of the network) are aligned by our global alignment, and camera 0 is the camera it RECOVERED;
  this is what a real run gives, minus the network's own errors.

The engine is Workbench with the Solid shading the add-on sets (what Solid view shows), EEVEE or Cycles.
The point cloud of ALL views is rendered through camera 0 (the background photo is an overlay, not part of
a render). Prints coverage, correlation and mean absolute difference over the covered pixels and writes
``photo | render | 4 x |difference|`` (``--no-diff``: ``photo | render``).

Examples::

    .venv/bin/python scripts/render_check.py --engine cycles --out docs/render.png
    .venv/bin/python scripts/render_check.py --engine workbench --aligned --no-diff --out docs/solid_view.png
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="dust3r-render-"))
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # tests.synthetic and the core as a top-level package


def import_addon(name: str):
    """Import one module of the add-on, as a package named ``dust3r`` (a symlink to the repository root)."""
    if "dust3r" not in sys.modules:
        tmp = Path(tempfile.mkdtemp(prefix="dust3r-render-pkg-"))
        (tmp / "dust3r").symlink_to(REPO_ROOT, target_is_directory=True)
        sys.path.insert(0, str(tmp))
    return importlib.import_module(f"dust3r.{name}")


def reconstruction(case, photo_dir: Path, aligned: bool):
    """The case as a ``Reconstruction`` whose network image IS the photo: ground truth, or aligned."""
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
    colors = [img.astype(np.float32) / 255.0 for img in case["images"]]
    if not aligned:  # synthetic K is in index coordinates, the DUSt3R convention of network images
        conf = [np.full((h, w), 10.0, np.float32)] * n
        return result.reconstruction_from_depth(
            paths, case["cam2world"], case["K"], [crop] * n, case["depth"], conf, colors
        )
    from core.align import global_align
    from core.config import AlignConfig
    from core.predictions import predictions_from_pairwise

    est = global_align(predictions_from_pairwise(case), AlignConfig())
    return result.reconstruction_from_depth(
        paths, est.world_from_cam, est.intrinsics(), [crop] * n, est.depth, est.conf, colors, pts3d=est.pts3d
    )


def render(bpy, scene, engine: str, samples: int, out_path: Path) -> np.ndarray:
    from PIL import Image

    scene.render.engine = {
        "workbench": "BLENDER_WORKBENCH",
        "eevee": "BLENDER_EEVEE_NEXT" if bpy.app.version < (5, 0, 0) else "BLENDER_EEVEE",
        "cycles": "CYCLES",
    }[engine]
    if engine == "workbench":  # the Solid shading of the 3D Viewport, as the add-on leaves it
        view3d = next(a.spaces.active for a in bpy.context.screen.areas if a.type == "VIEW_3D")
        for name in ("light", "color_type", "studio_light", "show_specular_highlight", "show_cavity"):
            setattr(scene.display.shading, name, getattr(view3d.shading, name))
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.cycles.filter_width = 0.01  # no pixel filter blur: compare pixel by pixel
    scene.eevee.taa_render_samples = samples
    scene.view_settings.view_transform = "Standard"  # display values = the photo's values
    scene.view_settings.look = "None"
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.filepath = str(out_path)
    bpy.ops.render.render(write_still=True)
    return np.asarray(Image.open(out_path).convert("RGBA"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", default="room", choices=["orbit", "room"])
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--engine", default="cycles", choices=["workbench", "eevee", "cycles"])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--aligned", action="store_true", help="align simulated predictions (see above)")
    parser.add_argument("--noise", type=float, default=1.0, help="noise of the simulated predictions")
    parser.add_argument(
        "--surfaces", action="store_true", help="render the per-view surfaces, not the points"
    )
    parser.add_argument("--no-diff", action="store_true", help="photo | render only")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "render.png")
    args = parser.parse_args()
    w, h = (int(x) for x in args.size.lower().split("x"))

    import bpy
    from PIL import Image

    from tests.synthetic import make_case

    case = make_case(
        args.scene, n=args.views, noise=args.noise, size=(w, h), seed=args.seed, preds=args.aligned
    )
    work = Path(tempfile.mkdtemp(prefix="dust3r-render-photos-"))
    t0 = time.perf_counter()
    recon = reconstruction(case, work, args.aligned)
    t_recon = time.perf_counter() - t0

    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    builder = import_addon("scene.build")
    viewport = import_addon("scene.viewport")
    report = builder.build_reconstruction(
        bpy.context.scene, recon, builder.BuildOptions(surfaces=args.surfaces)
    )
    viewport.show_point_colors()  # what the operators do after a build
    if args.surfaces:
        report.points_object.hide_render = True
    scene = bpy.context.scene
    t0 = time.perf_counter()
    rendered = render(bpy, scene, args.engine, args.samples, work / "render.png")
    seconds = time.perf_counter() - t0

    photo = case["images"][0]
    covered = rendered[..., 3] > 127
    rgb = rendered[..., :3]
    diff = np.abs(rgb.astype(np.int16) - photo.astype(np.int16))
    a, b = rgb[covered].astype(np.float64).ravel(), photo[covered].astype(np.float64).ravel()
    corr = float(np.corrcoef(a, b)[0, 1]) if covered.any() else 0.0
    source = f"aligned (noise {args.noise:g}, {t_recon:.1f} s)" if args.aligned else "ground truth"
    what = (
        f"{len(report.surface_objects)} textured surfaces"
        if args.surfaces
        else f"{report.num_points:,} points"
    )
    print(
        f"{args.scene} scene, {args.views} views, {w}x{h}, {source}, {what}, radius {report.point_radius:.4g}"
    )
    print(f"{args.engine} render through camera 0: {seconds:.1f} s")
    print(
        f"covered {covered.mean():.1%}; over covered pixels: correlation {corr:.3f}, "
        f"mean absolute difference {diff[covered].mean():.2f} / 255, median {np.median(diff[covered]):.1f}"
    )
    shown = np.where(covered[..., None], rgb, 0).astype(np.uint8)
    panels = [photo, shown] if args.no_diff else [photo, shown, np.clip(diff * 4, 0, 255).astype(np.uint8)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(panels, axis=1)).save(args.out, optimize=True)
    layout = "photo | render" if args.no_diff else "photo | render | 4 x |difference|"
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB): {layout}")
    sys.stdout.flush()
    os._exit(0)  # bpy as a module may crash at interpreter exit (TESTING.md)


if __name__ == "__main__":
    main()
