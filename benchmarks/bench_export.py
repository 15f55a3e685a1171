"""Benchmark of ``core.export``: time and file sizes of each format for a large synthetic result.

A result of ``--views`` photos (default 20) with ``--net-size`` network pixels each (default 500x500, so
5,000,000 points, all above the confidence threshold), photos of ``--photo-size`` written as JPEG. For each
format it times the whole :func:`export_scene` (cameras, points, observations and the photos copied) and
reports the size of the model files and of the images folder. Baseline, measured in the same run: writing
the same points (xyz float64, rgb uint8, pixel float64, view int64) with one ``numpy.save`` each, i.e. the
cost of the bytes alone; the ratio column is export time / baseline time. ``--read-back`` also times
pycolmap reading the COLMAP models back (pycolmap must be installed).

Example::

    OMP_NUM_THREADS=1 python benchmarks/bench_export.py
    python benchmarks/bench_export.py --views 4 --net-size 256x192 --read-back
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
from core.geometry.photo import PhotoCrop  # noqa: E402
from core.result import reconstruction_from_depth  # noqa: E402


def parse_size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def make_result(folder: Path, views: int, net_size: tuple[int, int], photo_size: tuple[int, int]):
    """``views`` cameras on a circle looking at the origin, depth maps of a wavy sphere, JPEG photos."""
    rng = np.random.default_rng(0)
    w2, h2 = net_size
    w0, h0 = photo_size
    crop = PhotoCrop(photo_size=photo_size, resized_size=net_size, crop_offset=(0, 0), net_size=net_size)
    photo = Image.fromarray(rng.integers(0, 256, (h0, w0, 3), dtype=np.uint8))
    paths, world_from_cam = [], []
    for k in range(views):
        path = folder / f"IMG_{k:04d}.jpg"
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--views", type=int, default=20)
    parser.add_argument("--net-size", type=parse_size, default=(500, 500), metavar="WxH")
    parser.add_argument("--photo-size", type=parse_size, default=(2000, 2000), metavar="WxH")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--read-back", action="store_true", help="time pycolmap reading the COLMAP models")
    args = parser.parse_args()

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
        print("| format | export s | x baseline | model files MB | images MB | pycolmap read s |")
        print("|---|---|---|---|---|---|")
        for fmt in args.formats:
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
            print(f"| {fmt} | {seconds:.1f} | {seconds / base_s:.0f} | {model / 1e6:.0f} | {images / 1e6:.1f} | "
                  f"{read} |")  # fmt: skip
            assert report.num_points == scene.num_points
            shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
