"""The add-on registers and unregisters cleanly, twice, and its manifest passes Blender's validator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bpy
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CLASS_NAMES = {
    "DUST3R_PG_settings": bpy.types.PropertyGroup,
    "DUST3R_PG_footage": bpy.types.PropertyGroup,
    "DUST3R_PT_footage": bpy.types.Panel,
    "DUST3R_PT_reconstruct": bpy.types.Panel,
    "DUST3R_AP_preferences": bpy.types.AddonPreferences,
}
OPERATORS = ("reconstruct", "reconstruct_footage", "cancel", "activate_camera")


def _blender_ext_cli() -> Path:
    scripts = Path(bpy.utils.resource_path("LOCAL")) / "scripts"
    return scripts / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"


def test_register_unregister_twice(enabled_addon) -> None:
    addon_handle = enabled_addon
    bpy.ops.wm.read_factory_settings(use_empty=True)  # factory preferences: the add-on is disabled
    assert not addon_handle.is_enabled()
    for _ in range(2):
        addon_handle.enable()
        assert hasattr(bpy.types.Scene, "dust3r")
        assert bpy.context.scene.dust3r.image_size == "model"
        for name, base in CLASS_NAMES.items():
            assert base.bl_rna_get_subclass_py(name) is not None, name
        for op in OPERATORS:
            assert getattr(bpy.ops.dust3r, op).get_rna_type().identifier.startswith("DUST3R_OT_")
        prefs = bpy.context.preferences.addons[addon_handle.module_name].preferences
        assert prefs.device == "auto"
        addon_handle.disable()
        assert not hasattr(bpy.types.Scene, "dust3r")
        for name, base in CLASS_NAMES.items():
            assert base.bl_rna_get_subclass_py(name) is None, name
        assert not any(h.__name__ == "_cancel_on_load" for h in bpy.app.handlers.load_pre)
    addon_handle.enable()


# Enables the add-on in a fresh Python: with ``torch`` absent (``import torch`` fails, as in a Blender without
# PyTorch), or present, and then registering must not have imported it (PyTorch loads on first use only).
_ENABLE_IN_A_FRESH_PYTHON = """
import sys
from pathlib import Path
import bpy
import addon_utils
addon_root, repo_dir, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
if mode == "torch-absent":
    sys.modules["torch"] = None
else:
    import importlib.util
    assert importlib.util.find_spec("torch") is not None, "this check needs torch installed"
    assert "torch" not in sys.modules
(repo_dir / "dust3r").symlink_to(addon_root, target_is_directory=True)
bpy.ops.preferences.extension_repo_add(
    name="fresh", type="LOCAL", use_custom_directory=True, custom_directory=str(repo_dir)
)
repos = bpy.context.preferences.extensions.repos
repo = next(r for r in repos if Path(r.directory).resolve() == repo_dir.resolve())
def fail(exc):
    raise exc
name = f"bl_ext.{repo.module}.dust3r"
assert addon_utils.enable(name, default_set=True, handle_error=fail) is not None
assert hasattr(bpy.types.Scene, "dust3r") and bpy.ops.dust3r.reconstruct.get_rna_type() is not None
if mode == "torch-present":
    assert "torch" not in sys.modules, "registering the add-on imported torch"
addon_utils.disable(name, default_set=True, handle_error=fail)
print("ENABLED", mode)
"""


@pytest.mark.parametrize("mode", ["torch-absent", "torch-present"])
def test_addon_enables_without_importing_torch(tmp_path, mode) -> None:
    user, repo = tmp_path / "user", tmp_path / "repo"
    user.mkdir()
    repo.mkdir()
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(user)}
    proc = subprocess.run(
        [sys.executable, "-c", _ENABLE_IN_A_FRESH_PYTHON, str(REPO_ROOT), str(repo), mode],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0 and f"ENABLED {mode}" in proc.stdout, proc.stdout + proc.stderr


def test_manifest_validates_with_blenders_own_tool() -> None:
    cli = _blender_ext_cli()
    assert cli.is_file(), cli
    proc = subprocess.run(
        [sys.executable, str(cli), "validate", str(REPO_ROOT)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_manifest_does_not_point_to_the_official_project() -> None:
    import tomllib

    manifest = tomllib.loads((REPO_ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
    # An independent re-implementation: no website key rather than someone else's repository.
    assert "naver" not in manifest.get("website", "")


def test_built_zip_excludes_dev_files(tmp_path) -> None:
    out = tmp_path / "dust3r.zip"
    proc = subprocess.run(
        [
            sys.executable,
            str(_blender_ext_cli()),
            "build",
            "--source-dir",
            str(REPO_ROOT),
            "--output-filepath",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import zipfile

    names = zipfile.ZipFile(out).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "operators/reconstruct.py" in names and "core/result.py" in names
    dev_files = (
        ".git/",
        ".venv",
        "tests/",
        "benchmarks/",
        "docs/",
        "scripts/",
        "examples/",
        ".ci/",
        "pyproject.toml",
    )
    for prefix in (*dev_files, "wheels/build_wheels.py"):
        assert not any(n.startswith(prefix) for n in names), prefix
    assert not any("__pycache__" in n for n in names)


def test_every_path_property_takes_the_blend_relative_prefix(addon) -> None:
    """Blender 4.5+ (CI runs 5.0.1 too) warns about a "//" value in a path property that does not say it
    accepts one; every file or folder path of ours is resolved with bpy.path.abspath, so all say so."""
    rna_types = [getattr(bpy.ops.dust3r, name).get_rna_type() for name in dir(bpy.ops.dust3r)]
    rna_types += [
        bpy.types.PropertyGroup.bl_rna_get_subclass_py(name).bl_rna
        for name in ("DUST3R_PG_settings", "DUST3R_PG_footage")
    ]
    prefs = bpy.context.preferences.addons[addon.module_name].preferences
    rna_types.append(prefs.bl_rna)
    paths = [
        (rna.identifier, prop.identifier, getattr(prop, "is_path_supports_blend_relative", False))
        for rna in rna_types
        for prop in rna.properties
        if prop.type == "STRING" and prop.subtype in ("FILE_PATH", "DIR_PATH")
    ]
    assert ("DUST3R_OT_reconstruct_footage", "filepath", bpy.app.version >= (4, 5, 0)) in paths
    assert len(paths) >= 10
    assert all(supports == (bpy.app.version >= (4, 5, 0)) for _, _, supports in paths), paths
