"""Benchmark of ``core.export``: time and file sizes of each format for a large synthetic result.

A result of ``--views`` photos (default 20) with ``--net-size`` network pixels each (default 500x500, so
5,000,000 points, all above the confidence threshold), photos of ``--photo-size`` written as JPEG. For each
format it times the whole :func:`export_scene` (cameras, points, observations and the photos copied) and
reports the size of the model files and of the images folder. Baseline, measured in the same run: writing
the same points (xyz float64, rgb uint8, pixel float64, view int64) with one ``numpy.save`` each, i.e. the
cost of the bytes alone; the ratio column is export time / baseline time. ``--read-back`` also times
pycolmap reading the COLMAP models back (pycolmap must be installed).

``glb`` also gets its own baseline: ``numpy.save`` of the two arrays the file holds (positions float32,
linear colours uint16 RGBA). ``depth`` is measured on its own result: ``--depth-views`` views (default 20) of
``--depth-photo-size`` photos (default 3840x2160, 4K UHD) seen by the network at ``--depth-net-size`` (default
512x288); it times the whole export (resampling to 4K + OpenEXR ZIP), the resampling alone, and
``numpy.save`` of the same float32 Z and confidence maps at 4K.

Example::

    OMP_NUM_THREADS=1 python benchmarks/bench_export.py
    python benchmarks/bench_export.py --views 4 --net-size 256x192 --read-back
    python benchmarks/bench_export.py --formats glb depth
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from core.export import FORMATS, export_scene, scene_from_reconstruction  # noqa: E402
from core.export.depth import depth_maps  # noqa: E402
from core.export.gltf import linear_rgba16  # noqa: E402
from core.geometry.gltf_frames import gltf_points_from_opencv_world  # noqa: E402
from core.geometry.photo import PhotoCrop  # noqa: E402
from core.result import reconstruction_from_depth  # noqa: E402


def parse_size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def make_result(
    folder: Path, views: int, net_size: tuple[int, int], photo_size: tuple[int, int], photos: bool = True
):
    """``views`` cameras on a circle looking at the origin, depth maps of a wavy sphere, JPEG photos (not
    written with ``photos=False``: the depth maps do not read them)."""
    rng = np.random.default_rng(0)
    w2, h2 = net_size
    w0, h0 = photo_size
    crop = PhotoCrop(photo_size=photo_size, resized_size=net_size, crop_offset=(0, 0), net_size=net_size)
    photo = Image.fromarray(rng.integers(0, 256, (h0, w0, 3), dtype=np.uint8)) if photos else None
    paths, world_from_cam = [], []
    for k in range(views):
        path = folder / f"IMG_{k:04d}.jpg"
        if photo is not None:
            photo.save(path, quality=90)
        paths.append(str(path))
        a = 2 * np.pi * k / views
        z = -np.array([np.sin(a), 0.0, np.cos(a)])  # looking at the origin from radius 3
        x = np.cross([0.0, -1.0, 0.0], z)
        T = np.eye(4)
        T[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
        T[:3, 3] = -3 * z
        world_from_cam.append(T)
    K = np.array([[1.1 * w2, 0, w2 / 2], [0, 1.1 * w2, h2 / 2], [0, 0, 1]])
    v, u = np.mgrid[0:h2, 0:w2]
    depth = (3.0 + 0.2 * np.sin(u / 13.0) * np.cos(v / 11.0)).astype(np.float32)
    colors = rng.random((h2, w2, 3), dtype=np.float32)
    conf = np.full((h2, w2), 5.0, dtype=np.float32)
    return reconstruction_from_depth(
        paths, np.stack(world_from_cam), np.tile(K, (views, 1, 1)), [crop] * views,
        [depth] * views, [conf] * views, [colors] * views,
    )  # fmt: skip


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def baseline_seconds(scene, folder: Path) -> float:
    start = time.perf_counter()
    for name in ("points", "colors", "point_uv", "point_view"):
        np.save(folder / f"{name}.npy", getattr(scene, name))
    return time.perf_counter() - start


def glb_baseline(scene, folder: Path) -> None:
    """``numpy.save`` of the arrays a points .glb holds (their conversion from the scene included)."""
    np.save(folder / "glb_positions.npy", gltf_points_from_opencv_world(scene.points))
    np.save(folder / "glb_colors.npy", linear_rgba16(scene.colors))


def _timed(fn):
    """``(result, wall seconds, CPU seconds of this process)``: on a shared machine the CPU time is the
    cost, the wall time also holds the waits for a core."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def bench_depth(root: Path, views: int, net_size, photo_size) -> None:
    (root / "depth_photos").mkdir()
    rec = make_result(root / "depth_photos", views, net_size, photo_size, photos=False)
    scene = scene_from_reconstruction(rec, min_conf=3.0)
    maps, resample_s, resample_cpu = _timed(lambda: [depth_maps(scene, k) for k in range(views)])
    (root / "depth_baseline").mkdir()

    def save(maps):
        for k, (z, conf) in enumerate(maps):
            np.save(root / "depth_baseline" / f"z_{k}.npy", z)
            np.save(root / "depth_baseline" / f"conf_{k}.npy", conf)

    _, base_s, base_cpu = _timed(lambda: save(maps))
    maps.clear()
    _, export_s, export_cpu = _timed(lambda: export_scene(scene, "depth", root / "depth"))
    w0, h0 = photo_size
    print(f"\ndepth maps: {views} views of {w0}x{h0} (network {net_size[0]}x{net_size[1]})")
    print("| step | wall s | CPU s | x baseline (wall) | MB |")
    print("|---|---|---|---|---|")
    print(f"| numpy.save of Z + confidence float32 (baseline) | {base_s:.1f} | {base_cpu:.1f} | 1.0 | "
          f"{folder_size(root / 'depth_baseline') / 1e6:.0f} |")  # fmt: skip
    print(f"| resampling alone (net -> photo, through the crop) | {resample_s:.1f} | {resample_cpu:.1f} | "
          f"{resample_s / base_s:.1f} | - |")  # fmt: skip
    print(f"| export --format depth (resample + OpenEXR ZIP + depth.json) | {export_s:.1f} | {export_cpu:.1f} | "
          f"{export_s / base_s:.1f} | {folder_size(root / 'depth') / 1e6:.0f} |")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--views", type=int, default=20)
    parser.add_argument("--net-size", type=parse_size, default=(500, 500), metavar="WxH")
    parser.add_argument("--photo-size", type=parse_size, default=(2000, 2000), metavar="WxH")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--read-back", action="store_true", help="time pycolmap reading the COLMAP models")
    parser.add_argument("--depth-views", type=int, default=20)
    parser.add_argument("--depth-photo-size", type=parse_size, default=(3840, 2160), metavar="WxH")
    parser.add_argument("--depth-net-size", type=parse_size, default=(512, 288), metavar="WxH")
    args = parser.parse_args()
    point_formats = [f for f in args.formats if f != "depth"]

    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = Path(tmp)
        (root / "photos").mkdir()
        rec = make_result(root / "photos", args.views, args.net_size, args.photo_size)
        start = time.perf_counter()
        scene = scene_from_reconstruction(rec, min_conf=3.0)
        select_s = time.perf_counter() - start
        (root / "baseline").mkdir()
        base_s = baseline_seconds(scene, root / "baseline")
        photos_mb = folder_size(root / "photos") / 1e6
        print(f"{args.views} views, {scene.num_points:,} points, photos {photos_mb:.1f} MB in total")
        print(f"select points (scene_from_reconstruction): {select_s:.2f} s")
        print(f"baseline (numpy.save of the point arrays, {folder_size(root / 'baseline') / 1e6:.0f} MB): "
              f"{base_s:.2f} s\n")  # fmt: skip
        if "glb" in point_formats:
            _, glb_base_s, glb_base_cpu = _timed(lambda: glb_baseline(scene, root / "baseline"))
            print(f"glb baseline (numpy.save of positions float32 + colours uint16): {glb_base_s:.2f} s "
                  f"(CPU {glb_base_cpu:.2f} s)")  # fmt: skip
            _, glb_s, glb_cpu = _timed(lambda: export_scene(scene, "glb", root / "glb_cpu"))
            print(f"glb export alone: {glb_s:.2f} s (CPU {glb_cpu:.2f} s)\n")
        print("| format | export s | x baseline | model files MB | images MB | pycolmap read s |")
        print("|---|---|---|---|---|---|")
        for fmt in point_formats:
            out = root / fmt
            start = time.perf_counter()
            report = export_scene(scene, fmt, out / "points3D.ply" if fmt == "ply" else out)
            seconds = time.perf_counter() - start
            images = folder_size(out / "images") if (out / "images").exists() else 0
            model = folder_size(out) - images
            read = "-"
            if args.read_back and fmt.startswith("colmap"):
                import pycolmap

                start = time.perf_counter()
                pycolmap.Reconstruction(str(out))
                read = f"{time.perf_counter() - start:.1f}"
            ratio = f"{seconds / base_s:.0f}"
            if fmt == "glb":
                ratio += f" ({seconds / glb_base_s:.1f} x its own arrays)"
            print(f"| {fmt} | {seconds:.1f} | {ratio} | {model / 1e6:.0f} | {images / 1e6:.1f} | "
                  f"{read} |")  # fmt: skip
            assert report.num_points == scene.num_points
            shutil.rmtree(out)
        if "depth" in args.formats:
            bench_depth(root, args.depth_views, args.depth_net_size, args.depth_photo_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
