"""Benchmark of the Blender scene builder: 1, 5 and 20 million points with 50 cameras.

Runs the add-on's own ``build_reconstruction`` (the code the operator calls) on synthetic reconstructions
and prints the wall time of each phase, plus the first evaluation of the Geometry Nodes filter (what the
viewport pays on the next redraw). As a baseline in the same run, the same points go through
``Mesh.from_pydata`` (the common slow path) for the smallest size.

Target: building 5 M points in under 2 s.

Example::

    .venv/bin/python benchmarks/bench_scene_build.py --millions 1 5 20 --cameras 50
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
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="dust3r-bench-"))


def import_addon():
    """Import the add-on as a package named ``dust3r`` (a symlink to the repository root), without enabling it."""
    tmp = Path(tempfile.mkdtemp(prefix="dust3r-bench-pkg-"))
    (tmp / "dust3r").symlink_to(REPO_ROOT, target_is_directory=True)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("dust3r.operators.scene_builder"), importlib.import_module(
        "dust3r.core.result"
    )


def synthetic_reconstruction(result_mod, n_points: int, n_cams: int, photo_dir: Path):
    """``n_cams`` views of ``W x H`` network pixels whose total is about ``n_points``; 512x384 photos."""
    from PIL import Image

    per_view = n_points // n_cams
    w2 = 512
    h2 = max(1, per_view // w2)
    rng = np.random.default_rng(0)
    paths, poses, K_photo, K_net, depth, pts, conf, colors = [], [], [], [], [], [], [], []
    photo = Image.fromarray(rng.integers(0, 255, (384, 512, 3), dtype=np.uint8))
    for k in range(n_cams):
        path = photo_dir / f"img{k:03d}.png"
        if not path.exists():
            photo.save(path)
        paths.append(str(path))
        angle = 2 * np.pi * k / n_cams
        T = np.eye(4)
        T[:3, 3] = [3 * np.cos(angle), 0.0, 3 * np.sin(angle)]
        poses.append(T)
        K_photo.append(np.array([[400.0, 0, 256], [0, 400.0, 192], [0, 0, 1]]))
        K_net.append(np.array([[400.0, 0, w2 / 2], [0, 400.0, h2 / 2], [0, 0, 1]]))
        depth.append(np.ones((h2, w2), np.float32))
        pts.append(rng.normal(size=(h2, w2, 3)).astype(np.float32))
        conf.append(rng.uniform(1, 10, (h2, w2)).astype(np.float32))
        colors.append(rng.uniform(0, 1, (h2, w2, 3)).astype(np.float32))
    return result_mod.Reconstruction(
        image_paths=tuple(paths),
        world_from_cam=np.stack(poses),
        K_photo=np.stack(K_photo),
        photo_size=np.array([(512, 384)] * n_cams),
        K_net=np.stack(K_net),
        net_size=np.array([(w2, h2)] * n_cams),
        depth=tuple(depth),
        pts3d=tuple(pts),
        conf=tuple(conf),
        colors=tuple(colors),
    )


def evaluated_points(bpy, obj) -> int:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    return sum(
        len(inst.object.data.points)
        for inst in depsgraph.object_instances
        if inst.object.type == "POINTCLOUD" and inst.object.original == obj
    )


def bench_one(bpy, builder, recon) -> dict[str, float]:
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    t0 = time.perf_counter()
    report = builder.build_reconstruction(bpy.context.scene, recon)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_eval = evaluated_points(bpy, report.points_object)
    t_eval = time.perf_counter() - t0
    return {
        "points": report.num_points,
        "cameras": len(report.camera_objects),
        "build_s": t_build,
        "gn_eval_s": t_eval,
        "evaluated": n_eval,
    }


def bench_from_pydata(bpy, recon) -> float:
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    verts = np.concatenate([p.reshape(-1, 3) for p in recon.pts3d]).tolist()
    t0 = time.perf_counter()
    mesh = bpy.data.meshes.new("baseline")
    mesh.from_pydata(verts, [], [])
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--millions", type=float, nargs="+", default=[1, 5, 20])
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per size; the best and the median are shown"
    )
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()

    import bpy

    builder, result_mod = import_addon()
    photo_dir = Path(tempfile.mkdtemp(prefix="dust3r-bench-photos-"))
    print(f"bpy {bpy.app.version_string}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    print(f"load average before: {os.getloadavg()[0]:.1f} (other processes on this machine slow the timings)")
    print(
        f"{'points':>12} {'cams':>5} {'build s best':>12} {'build s median':>14} {'GN eval s':>9} {'kept':>12}"
    )
    baseline = None
    for millions in args.millions:
        recon = synthetic_reconstruction(result_mod, int(millions * 1e6), args.cameras, photo_dir)
        runs = [bench_one(bpy, builder, recon) for _ in range(max(1, args.repeat))]
        build = sorted(r["build_s"] for r in runs)
        r = runs[0]
        print(
            f"{r['points']:>12,} {r['cameras']:>5} {build[0]:>12.3f} {build[len(build) // 2]:>14.3f} "
            f"{min(x['gn_eval_s'] for x in runs):>9.3f} {r['evaluated']:>12,}"
        )
        if baseline is None and not args.no_baseline:
            baseline = (r["points"], bench_from_pydata(bpy, recon), build[0])
        del recon, runs
    if baseline is not None:
        n, t_pydata, t_build = baseline
        print(
            f"baseline Mesh.from_pydata, positions only, {n:,} points: {t_pydata:.3f} s "
            f"= {t_pydata / t_build:.1f}x our whole build (positions + 3 attributes + 50 cameras + modifier)"
        )
    sys.stdout.flush()
    os._exit(0)  # bpy as a module may crash at interpreter exit (TESTING.md)


if __name__ == "__main__":
    main()
