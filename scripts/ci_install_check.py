"""Install the built extension zip into the bpy module exactly as a user would, then use it.

    python scripts/ci_install_check.py --zip dist/dust3r-<version>-linux_x64.zip [--install-torch]

Run it with a Python whose only packages are bpy and what bpy needs (numpy), like Blender's own Python:
then the bundled wheels (scipy, pillow, safetensors) must come from the zip, and with ``--install-torch``
PyTorch comes from the add-on's own installer (``dust3r.install_torch``; point it at a local build with
DUST3R_TORCH_INDEX_URL / DUST3R_TORCH_REQUIREMENT). Steps:

1. ``bpy.ops.extensions.package_install_files(filepath=zip, repo="user_default", enable_on_install=True)``
2. the add-on is enabled as ``bl_ext.user_default.<id>`` and its bundled wheels import
3. (``--install-torch``) ``bpy.ops.dust3r.install_torch()`` with online access allowed; torch imports
4. ``bpy.ops.dust3r.reconstruct`` on the example photos with the tiny model builds cameras and points
5. the add-on is disabled and the process leaves with ``os._exit`` (a plain script that exits with add-on
   classes registered can segfault or hang: TESTING.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PHOTOS = ROOT / "examples" / "photos"
TINY_MODEL = ROOT / "tests" / "data" / "tiny_linear_224"
BUNDLED_MODULES = ("scipy", "PIL", "safetensors", "OpenEXR")


class CheckFailed(Exception):
    """One of the install checks failed."""


def step(name: str, started: list[float]) -> None:
    now = time.monotonic()
    print(f"[{now - started[0]:6.1f}s] {name}", flush=True)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def addon_id(zip_path: Path) -> str:
    with zipfile.ZipFile(zip_path) as archive:
        return tomllib.loads(archive.read("blender_manifest.toml").decode("utf-8"))["id"]


def install(bpy, zip_path: Path, module_name: str) -> None:
    result = bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True
    )
    expect(result == {"FINISHED"}, f"package_install_files returned {result}")
    expect(module_name in bpy.context.preferences.addons, f"{module_name} is not enabled after install")
    for name in BUNDLED_MODULES:
        spec = importlib.util.find_spec(name)
        expect(spec is not None, f"bundled module {name} is not importable after install")
        print(f"    {name}: {spec.origin}")


def install_torch(bpy) -> None:
    bpy.context.preferences.system.use_online_access = True
    result = bpy.ops.dust3r.install_torch()
    state = bpy.context.window_manager.dust3r_setup
    print("    " + "\n    ".join(state.log.splitlines()[-3:]))
    expect(result == {"FINISHED"} and not state.failed, f"install_torch: {state.message}")
    expect(importlib.util.find_spec("torch") is not None, "torch is not importable after install_torch")
    print(f"    {state.message}")


def reconstruct(bpy) -> None:
    bpy.ops.wm.read_homefile(use_empty=True)
    result = bpy.ops.dust3r.reconstruct(
        directory=str(EXAMPLE_PHOTOS), checkpoint=str(TINY_MODEL), image_size="224", device="cpu"
    )
    expect(result == {"FINISHED"}, f"reconstruct returned {result}")
    objects = list(bpy.context.scene.objects)
    points = [o for o in objects if o.get("dust3r_role") == "points"]
    cameras = [o for o in objects if o.get("dust3r_role") == "camera"]
    photos = sorted(EXAMPLE_PHOTOS.glob("*.jpg"))
    expect(len(points) == 1, f"expected one point cloud, found {len(points)}")
    expect(len(cameras) == len(photos), f"expected {len(photos)} cameras, found {len(cameras)}")
    mesh = points[0].data
    expect(len(mesh.vertices) > 0, "the point cloud is empty")
    for attribute in ("color", "confidence", "view"):
        expect(attribute in mesh.attributes, f"point attribute {attribute!r} missing")
    print(f"    {len(cameras)} cameras, {len(mesh.vertices)} points")


def run(args: argparse.Namespace) -> int:
    """:func:`check` with Blender's user resources in a temporary folder of its own (removed afterwards)
    unless ``BLENDER_USER_RESOURCES`` is already set (``setdefault(..., mkdtemp())`` made, and left, an
    empty ``dust3r-ci-user-*`` folder on every run even then)."""
    if os.environ.get("BLENDER_USER_RESOURCES"):
        return check(args)
    own = tempfile.mkdtemp(prefix="dust3r-ci-user-")
    os.environ["BLENDER_USER_RESOURCES"] = own
    try:
        return check(args)
    finally:
        del os.environ["BLENDER_USER_RESOURCES"]
        shutil.rmtree(own, ignore_errors=True)


def check(args: argparse.Namespace) -> int:
    started = [time.monotonic()]
    zip_path = args.zip.resolve()
    module_name = f"bl_ext.user_default.{addon_id(zip_path)}"
    if args.install_torch:
        for name in (*BUNDLED_MODULES, "torch"):
            expect(importlib.util.find_spec(name) is None, f"{name} is already installed: not a clean Python")
    step("import bpy", started)
    import bpy  # noqa: I001 (addon_utils only exists once bpy is imported)
    import addon_utils

    print(f"    Blender {bpy.app.version_string}, user resources {os.environ['BLENDER_USER_RESOURCES']}")
    try:
        step(f"install {zip_path.name} as {module_name}", started)
        install(bpy, zip_path, module_name)
        if args.install_torch:
            step("dust3r.install_torch", started)
            install_torch(bpy)
        step("dust3r.reconstruct on examples/photos with the tiny model", started)
        reconstruct(bpy)
    finally:
        if module_name in bpy.context.preferences.addons:
            addon_utils.disable(module_name, default_set=False)
    step("ok", started)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, required=True, help="the linux-x64 extension zip")
    parser.add_argument(
        "--install-torch", action="store_true", help="install torch with dust3r.install_torch"
    )
    args = parser.parse_args()
    try:
        code = run(args)
    except CheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        code = 1
    except RuntimeError as exc:  # an operator reported an error
        print(f"FAILED: {exc}", file=sys.stderr)
        code = 1
    return code


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
