"""Build the per-platform extension zips into dist/ and validate them.

    bash scripts/build.sh [--output-dir dist] [--from-worktree]     # from a fresh clone: venv + wheels + this
    .venv/bin/python scripts/build_extension.py [--output-dir dist] [--from-worktree]

Uses Blender's own extension tool (``blender_ext.py build --split-platforms`` and ``validate``), run with this
Python straight from the bpy wheel (the same code as ``blender --command extension build``). By default the
zips are built from the files git tracks plus the downloaded wheels (so a local build matches CI's);
``--from-worktree`` builds from the working tree as it is. It needs a Python with ``bpy`` and the downloaded
wheels: ``bash scripts/build.sh`` sets both up, then runs this script.

Every zip is then checked: Blender's validation passes, the manifest names exactly that platform, it bundles
exactly one wheel of each bundled package for that platform, it carries the licence (LICENSE, GPL-3.0), and
no development file slipped in.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "blender_manifest.toml"
# Development-only files that must never be in a zip (the manifest's paths_exclude_pattern should drop
# them; the staging copy drops them too, so Blender's patterns and ours are a double check).
STAGING_EXCLUDE = ("examples/", "wheels/build_wheels.py", "wheels/SHA256SUMS")
FORBIDDEN_PREFIXES = (
    "tests/",
    "scripts/",
    "docs/",
    "benchmarks/",
    "examples/",
    ".ci/",
    ".git",
    ".venv",
    "dist/",
    "pyproject.toml",
    "wheels/build_wheels.py",
)
BUNDLED = ("scipy", "pillow", "safetensors", "av", "openexr")
REQUIRED_FILES = ("__init__.py", "blender_manifest.toml", "LICENSE")
SETUP_HINT = "run `bash scripts/build.sh`, which sets up .venv and the wheels, then builds"


class BuildError(Exception):
    """The build or a validation check failed."""


def blender_ext_tool() -> Path:
    """``blender_ext.py`` inside the installed bpy wheel (found without importing bpy)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError(f"bpy is not installed in this Python ({sys.executable}): {SETUP_HINT}")
    bpy_dir = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(bpy_dir.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not found:
        raise BuildError(f"Blender's extension tool not found under {bpy_dir}")
    return found[-1]


def run_tool(tool: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or "FATAL_ERROR" in output:
        raise BuildError(f"blender_ext {args[0]} failed:\n{output}")
    return output


def stage_tracked_files(dest: Path) -> None:
    """Copy the files git tracks (plus the manifest's wheels) into ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    manifest = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
    files = [name for name in listed.split("\0") if name]
    files += [wheel.removeprefix("./") for wheel in manifest.get("wheels", [])]
    for name in files:
        if name.startswith(STAGING_EXCLUDE):
            continue
        source = ROOT / name
        if not source.is_file():
            if name.endswith(".whl"):
                raise BuildError(f"{name} is missing: {SETUP_HINT}")
            continue  # deleted in the working tree but not yet in git
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def check_zip(tool: Path, path: Path) -> str:
    """Validate one built zip; returns a one-line summary."""
    run_tool(tool, "validate", str(path))
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        manifest = tomllib.loads(archive.read("blender_manifest.toml").decode("utf-8"))
    missing = [name for name in REQUIRED_FILES if name not in names]
    if missing:
        raise BuildError(f"{path.name}: {missing} missing at the root of the zip")
    leaked = [name for name in names if name.startswith(FORBIDDEN_PREFIXES) or "__pycache__" in name]
    if leaked:
        raise BuildError(f"{path.name}: development files in the zip: {leaked[:5]}")
    # Blender 4.2's split build keeps the full platforms list in each zip; newer tools narrow it.
    platforms = manifest.get("platforms", [])
    if not any(platform.replace("-", "_") in path.name for platform in platforms):
        raise BuildError(f"{path.name}: manifest platforms {platforms} do not match the file name")
    wheels = sorted(name for name in names if name.endswith(".whl"))
    for package in BUNDLED:
        count = sum(Path(name).name.lower().startswith(f"{package}-") for name in wheels)
        if count != 1:
            raise BuildError(f"{path.name}: expected one {package} wheel, found {count}: {wheels}")
    if len(wheels) != len(BUNDLED):
        raise BuildError(f"{path.name}: unexpected wheels {wheels}")
    return f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, {len(names)} files, wheels ok, validated"


def build(output_dir: Path, from_worktree: bool) -> list[Path]:
    tool = blender_ext_tool()
    output_dir.mkdir(parents=True, exist_ok=True)
    for old in output_dir.glob("*.zip"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="dust3r-build-") as tmp:
        source = ROOT
        if not from_worktree:
            source = Path(tmp) / "dust3r"
            stage_tracked_files(source)
        run_tool(tool, "validate", str(source))
        output = run_tool(
            tool, "build", "--source-dir", str(source), "--output-dir", str(output_dir), "--split-platforms"
        )
    print(output)
    zips = sorted(output_dir.glob("*.zip"))
    if not zips:
        raise BuildError(f"no zip was written to {output_dir}")
    for path in zips:
        print(check_zip(tool, path))
    return zips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--from-worktree", action="store_true", help="build from the working tree as is")
    args = parser.parse_args(argv)
    try:
        zips = build(args.output_dir.resolve(), args.from_worktree)
    except (BuildError, subprocess.CalledProcessError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"built {len(zips)} extension zips in {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
