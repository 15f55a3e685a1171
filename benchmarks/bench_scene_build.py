"""Benchmark of the Blender scene builder: 1, 5 and 20 million points with 50 cameras, against today's point
cloud in the same run.

Two displays of the same points:

- ``triangles`` (the add-on's): one small triangle per point, filtered and resized by the Geometry Nodes
  modifier (``scene/points.py``, ``scene/geonodes.py``); Solid view shows its colours;
- ``pointcloud`` (version 0.1, rebuilt here as the baseline): a vertices-only mesh whose modifier makes a
  Geometry Nodes point cloud (Mesh to Points); Solid view draws it in one grey.

For each display and size, in a fresh Python process (clean memory figures): the build (points, modifier
and 50 cameras: the add-on's whole ``build_reconstruction`` for ``triangles``), the first evaluation of the modifier (what the viewport pays before the first draw),
a re-evaluation after the radius and after the threshold changed (what dragging a slider costs), and the
resident memory added by the build and by the evaluation. At ``--render-millions`` (5 by default) it also
renders a 1280x720 Workbench image through a camera, with the Solid shading the add-on sets (Attribute
colour, flat light), and says whether it shows colours (mean chroma of the covered pixels).

Target: 5 M points built in under 2 s and shown in colour in every mode.

Example::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scene_build.py --millions 1 5 20
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="dust3r-bench-"))
DISPLAYS = ("pointcloud", "triangles")


def import_addon(name: str):
    """Import one module of the add-on as a package named ``dust3r`` (a symlink to the repository root)."""
    if "dust3r" not in sys.modules:
        tmp = Path(tempfile.mkdtemp(prefix="dust3r-bench-pkg-"))
        (tmp / "dust3r").symlink_to(REPO_ROOT, target_is_directory=True)
        sys.path.insert(0, str(tmp))
    return importlib.import_module(f"dust3r.{name}")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def synthetic_reconstruction(n_points: int, n_cams: int, photo_dir: Path):
    """``n_cams`` views of 512 x H network pixels (about ``n_points`` in all) around a blob of points."""
    from PIL import Image

    result = import_addon("core.result")
    per_view = n_points // n_cams
    w2, h2 = 512, max(1, per_view // 512)
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 255, (384, 512, 3), dtype=np.uint8))
    paths, poses, depth, pts, conf, colors = [], [], [], [], [], []
    for k in range(n_cams):
        path = photo_dir / f"img{k:03d}.png"
        if not path.exists():
            photo.save(path)
        paths.append(str(path))
        angle = 2 * np.pi * k / n_cams
        centre = np.array([3 * np.sin(angle), 0.0, -3 * np.cos(angle)])
        forward = -centre / np.linalg.norm(centre)  # OpenCV camera looking at the origin, y down
        right = np.cross([0.0, 1.0, 0.0], forward)
        T = np.eye(4)
        T[:3, :3] = np.stack([right / np.linalg.norm(right), [0.0, 1.0, 0.0], forward], axis=1)
        T[:3, 3] = centre
        poses.append(T)
        depth.append(np.full((h2, w2), 3.0, np.float32))
        pts.append(rng.normal(size=(h2, w2, 3)).astype(np.float32))
        conf.append(rng.uniform(1, 10, (h2, w2)).astype(np.float32))
        colors.append(rng.uniform(0, 1, (h2, w2, 3)).astype(np.float32))
    K_net = np.array([[400.0, 0, w2 / 2], [0, 400.0, h2 / 2], [0, 0, 1]])
    return result.Reconstruction(
        image_paths=tuple(paths),
        world_from_cam=np.stack(poses),
        K_photo=np.stack([np.array([[400.0, 0, 256], [0, 400.0, 192], [0, 0, 1]])] * n_cams),
        photo_size=np.array([(512, 384)] * n_cams),
        K_net=np.stack([K_net] * n_cams),
        net_size=np.array([(w2, h2)] * n_cams),
        depth=tuple(depth),
        pts3d=tuple(pts),
        conf=tuple(conf),
        colors=tuple(colors),
    )


# ------------------------------------------------------------------ version 0.1's point cloud (baseline)
def build_pointcloud(bpy, recon, threshold: float, radius: float):
    """Version 0.1's display: vertices with point attributes, Mesh to Points in the modifier."""
    points = import_addon("scene.points")
    cloud = points.gather_points(recon.pts3d, recon.colors, recon.conf)
    mesh = bpy.data.meshes.new("baseline Points")
    mesh.vertices.add(len(cloud))
    mesh.attributes["position"].data.foreach_set("vector", cloud.positions.ravel())
    for name, data_type, key, values in (
        ("color", "FLOAT_COLOR", "color", cloud.colors),
        ("confidence", "FLOAT", "value", cloud.confidence),
        ("view", "INT", "value", cloud.view),
    ):
        mesh.attributes.new(name, data_type, "POINT").data.foreach_set(key, values.ravel())
    mesh.attributes.active_color_name = "color"
    obj = bpy.data.objects.new("baseline Points", mesh)
    bpy.context.scene.collection.objects.link(obj)
    tree = bpy.data.node_groups.new("baseline", "GeometryNodeTree")
    tree.interface.new_socket(name="Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    for name, value in (("Confidence Threshold", threshold), ("Point Radius", radius)):
        tree.interface.new_socket(
            name=name, in_out="INPUT", socket_type="NodeSocketFloat"
        ).default_value = value
    tree.interface.new_socket(name="Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    n, links = tree.nodes, tree.links
    gin, gout = n.new("NodeGroupInput"), n.new("NodeGroupOutput")
    conf = n.new("GeometryNodeInputNamedAttribute")
    conf.data_type, conf.inputs["Name"].default_value = "FLOAT", "confidence"
    keep = n.new("FunctionNodeCompare")
    keep.data_type, keep.operation = "FLOAT", "GREATER_EQUAL"
    to_points = n.new("GeometryNodeMeshToPoints")
    links.new(conf.outputs["Attribute"], keep.inputs[0])
    links.new(gin.outputs["Confidence Threshold"], keep.inputs[1])
    links.new(gin.outputs["Geometry"], to_points.inputs["Mesh"])
    links.new(keep.outputs["Result"], to_points.inputs["Selection"])
    links.new(gin.outputs["Point Radius"], to_points.inputs["Radius"])
    links.new(to_points.outputs["Points"], gout.inputs["Geometry"])
    mod = obj.modifiers.new("baseline", "NODES")
    mod.node_group = tree
    _add_cameras(bpy, recon)  # the same 50 cameras as the add-on's build, so both builds do the same work
    return obj, len(cloud)


def _add_cameras(bpy, recon) -> None:
    cameras = import_addon("scene.cameras")
    datablocks = import_addon("scene.datablocks")
    bc = import_addon("core.geometry.blender_camera")
    record = datablocks.BuildRecord()
    for k in range(recon.num_views):
        params = bc.blender_camera_from_opencv(
            recon.world_from_cam[k], recon.K_photo[k], tuple(recon.photo_size[k])
        )
        obj = cameras.create_camera(record, f"baseline {k:03d}", params, recon.image_paths[k], k, 0.3)
        bpy.context.scene.collection.objects.link(obj)


def set_inputs(obj, **values) -> None:
    mod = obj.modifiers[0]
    for item in mod.node_group.interface.items_tree:
        if item.item_type == "SOCKET" and item.in_out == "INPUT" and item.name in values:
            mod[item.identifier] = float(values[item.name])
    obj.update_tag()


def evaluate(bpy, obj) -> tuple[float, float, int]:
    """Wall and CPU seconds to evaluate ``obj``'s modifier, and the number of points (faces or point-cloud
    points) shown."""
    t0, c0 = time.perf_counter(), time.process_time()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    depsgraph.update()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    shown = 0
    for inst in depsgraph.object_instances:
        if inst.object.original == obj:
            data = inst.object.data
            shown += len(data.points) if inst.object.type == "POINTCLOUD" else len(data.polygons)
    return seconds, cpu, shown


def render_workbench(bpy, scene, path: Path) -> tuple[float, float]:
    """Seconds of a 1280x720 Workbench render (Solid shading as the add-on sets it), mean chroma (0-255)."""
    from PIL import Image

    cam = bpy.data.objects.new("bench camera", bpy.data.cameras.new("bench camera"))
    scene.collection.objects.link(cam)
    cam.location = (0.0, -4.0, 0.0)
    cam.rotation_euler = (np.pi / 2, 0.0, 0.0)
    scene.camera = cam
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 1280, 720, 100
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.color_type, scene.display.shading.light = "VERTEX", "FLAT"
    scene.render.film_transparent = True
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.filepath = str(path)
    t0 = time.perf_counter()
    bpy.ops.render.render(write_still=True)
    seconds = time.perf_counter() - t0
    img = np.asarray(Image.open(path).convert("RGBA")).astype(np.float64)
    covered = img[..., 3] > 127
    chroma = img[..., :3].max(-1) - img[..., :3].min(-1)
    return seconds, float(chroma[covered].mean()) if covered.any() else 0.0


def run_one(display: str, millions: float, cameras: int, render: bool) -> dict:
    """One display at one size, in this process; returns the measurements."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    photo_dir = Path(tempfile.mkdtemp(prefix="dust3r-bench-photos-"))
    recon = synthetic_reconstruction(int(millions * 1e6), cameras, photo_dir)
    builder = import_addon("scene.build")
    radius = builder.default_point_radius(recon)
    rss0 = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    if display == "triangles":
        report = builder.build_reconstruction(
            bpy.context.scene, recon, builder.BuildOptions(point_radius=radius)
        )
        obj, n = report.points_object, report.num_points
    else:
        obj, n = build_pointcloud(bpy, recon, 3.0, radius)
    build_s, build_cpu = time.perf_counter() - t0, time.process_time() - c0
    rss1 = rss_mb()
    eval_s, eval_cpu, shown = evaluate(bpy, obj)
    rss2 = rss_mb()
    set_inputs(obj, **{"Point Radius": 1.5 * radius})
    radius_s, radius_cpu, _ = evaluate(bpy, obj)
    set_inputs(obj, **{"Confidence Threshold": 5.0})
    threshold_s, _cpu, shown_after = evaluate(bpy, obj)
    out = {
        "display": display,
        "points": n,
        "shown": shown,
        "shown_thr5": shown_after,
        "build_s": build_s,
        "build_cpu": build_cpu,
        "eval_s": eval_s,
        "eval_cpu": eval_cpu,
        "radius_s": radius_s,
        "radius_cpu": radius_cpu,
        "threshold_s": threshold_s,
        "build_mb": rss1 - rss0,
        "eval_mb": rss2 - rss1,
    }
    if render:
        set_inputs(obj, **{"Confidence Threshold": 3.0, "Point Radius": radius})
        out["render_s"], out["chroma"] = render_workbench(bpy, bpy.context.scene, photo_dir / "render.png")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--millions", type=float, nargs="+", default=[1, 5, 20])
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--render-millions", type=float, nargs="*", default=[5], help="sizes also rendered")
    parser.add_argument("--displays", nargs="+", default=list(DISPLAYS), choices=DISPLAYS)
    parser.add_argument("--one", nargs=2, metavar=("DISPLAY", "MILLIONS"), help=argparse.SUPPRESS)
    parser.add_argument("--render", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:  # a child process: one measurement, as a JSON line
        result = run_one(args.one[0], float(args.one[1]), args.cameras, args.render)
        print("RESULT " + json.dumps(result))
        sys.stdout.flush()
        os._exit(0)  # bpy as a module may crash at interpreter exit (TESTING.md)

    import bpy

    print(f"bpy {bpy.app.version_string}, numpy {np.__version__}, {os.cpu_count()} CPUs")
    print(f"load average before: {os.getloadavg()[0]:.1f} (other processes on this machine slow the timings)")
    header = (
        f"{'display':>10} {'points':>11} {'build s':>13} {'1st eval s':>13} {'radius s':>13} {'thresh s':>8} "
        f"{'build MB':>8} {'eval MB':>8} {'render s':>8} {'chroma':>6}"
    )
    print("(seconds: wall / CPU of this process, all threads; wall includes waiting for the shared cores)")
    print(header)
    rows: dict[tuple[str, float], dict] = {}
    for millions in args.millions:
        for display in args.displays:
            cmd = [sys.executable, __file__, "--one", display, str(millions), "--cameras", str(args.cameras)]
            if millions in args.render_millions:
                cmd.append("--render")
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
            if proc.returncode != 0 or not lines:
                print(f"{display:>10} {millions:>10g}M failed (exit {proc.returncode}): {proc.stderr[-300:]}")
                continue
            r = json.loads(lines[-1][len("RESULT ") :])
            rows[(display, millions)] = r
            render = f"{r['render_s']:>8.1f} {r['chroma']:>6.1f}" if "render_s" in r else f"{'-':>8} {'-':>6}"
            print(
                f"{display:>10} {r['points']:>11,} {r['build_s']:>6.2f}/{r['build_cpu']:<6.2f} "
                f"{r['eval_s']:>6.2f}/{r['eval_cpu']:<6.2f} {r['radius_s']:>6.2f}/{r['radius_cpu']:<6.2f} "
                f"{r['threshold_s']:>8.2f} {r['build_mb']:>8.0f} {r['eval_mb']:>8.0f} {render}",
                flush=True,
            )
    print("ratios triangles / pointcloud (same run):")
    for millions in args.millions:
        t, p = rows.get(("triangles", millions)), rows.get(("pointcloud", millions))
        if t and p:
            keys = [
                "build_s",
                "build_cpu",
                "eval_s",
                "eval_cpu",
                "radius_s",
                "radius_cpu",
                "build_mb",
                "eval_mb",
            ]
            keys += ["render_s"] if "render_s" in t else []
            ratios = ", ".join(f"{k} {t[k] / p[k]:.2f}x" for k in keys if p[k] > 0)
            print(f"  {millions:g} M: {ratios}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
