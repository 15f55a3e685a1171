"""The packaging scripts: manifest rewriting, wheel pins, shell syntax (no network, no build)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load(relative: str):
    path = REPO_ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def build_wheels():
    return _load("wheels/build_wheels.py")


MANIFEST_WITHOUT_KEYS = """schema_version = "1.0.0"
id = "x"

[permissions]
files = "y"
"""


def test_set_top_level_array_inserts_before_the_first_table(build_wheels) -> None:
    text = build_wheels.set_top_level_array(MANIFEST_WITHOUT_KEYS, "wheels", ["./wheels/a.whl"])
    parsed = tomllib.loads(text)
    assert parsed["wheels"] == ["./wheels/a.whl"] and parsed["permissions"] == {"files": "y"}
    again = build_wheels.set_top_level_array(text, "wheels", ["./wheels/b.whl", "./wheels/c.whl"])
    assert tomllib.loads(again)["wheels"] == ["./wheels/b.whl", "./wheels/c.whl"]
    assert again.count("wheels = [") == 1
    same = build_wheels.set_top_level_array(again, "wheels", ["./wheels/b.whl", "./wheels/c.whl"])
    assert same == again


def test_array_inside_a_table_is_not_taken_for_the_top_level_key(build_wheels) -> None:
    text = MANIFEST_WITHOUT_KEYS + 'wheels = ["inside-permissions"]\n'
    result = build_wheels.set_top_level_array(text, "wheels", ["./wheels/a.whl"])
    assert tomllib.loads(result)["wheels"] == ["./wheels/a.whl"]


def test_committed_manifest_matches_sha256sums_and_pins(build_wheels) -> None:
    manifest = tomllib.loads((REPO_ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
    listed = sorted(Path(w).name for w in manifest["wheels"])
    sums = (REPO_ROOT / "wheels" / "SHA256SUMS").read_text(encoding="utf-8").split()
    assert listed == sorted(sums[1::2])
    assert manifest["platforms"] == list(build_wheels.PLATFORMS)
    pins = build_wheels.read_pins(REPO_ROOT / "tests" / "requirements.txt", build_wheels.BUNDLED)
    for name, version in pins.items():
        matching = [w for w in listed if w.lower().startswith(f"{name}-{version}-")]
        assert len(matching) == len(build_wheels.PLATFORMS), (name, version, listed)
    text = (REPO_ROOT / "blender_manifest.toml").read_text(encoding="utf-8")
    assert build_wheels.render_manifest(text, listed) == text  # the script would not change it


def test_read_pins_reports_missing_packages(build_wheels, tmp_path: Path) -> None:
    requirements = tmp_path / "r.txt"
    requirements.write_text("scipy==1.0  # comment\npillow>=2\n")
    assert build_wheels.read_pins(requirements, ("scipy",)) == {"scipy": "1.0"}
    with pytest.raises(build_wheels.BuildError, match="pillow"):
        build_wheels.read_pins(requirements, ("scipy", "pillow"))


def test_bundled_packages_agree_between_scripts(build_wheels) -> None:
    build_extension = _load("scripts/build_extension.py")
    assert build_extension.BUNDLED == build_wheels.BUNDLED


@pytest.mark.parametrize(
    "script", [".ci/run", "scripts/test.sh", "scripts/demo.sh", "scripts/lib_venv.sh", "scripts/build.sh"]
)
def test_shell_scripts_parse(script: str) -> None:
    result = subprocess.run(["bash", "-n", str(REPO_ROOT / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_requirements_are_exact_pins() -> None:
    lines = (REPO_ROOT / "tests" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    requirements = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert requirements and all("==" in line for line in requirements), requirements
    names = {line.split("==")[0] for line in requirements}
    assert {"torch", "numpy", "bpy", "pytest", "ruff"} <= names


def test_the_licence_is_the_gpl3_text_and_ships_in_the_zip() -> None:
    text = (REPO_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split("\n", 2)[:2] == [
        " " * 20 + "GNU GENERAL PUBLIC LICENSE",
        " " * 23 + "Version 3, 29 June 2007",
    ]
    assert "END OF TERMS AND CONDITIONS" in text and len(text) > 30_000
    manifest = tomllib.loads((REPO_ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    excluded = [p for p in manifest["build"]["paths_exclude_pattern"] if "LICENSE" in p.upper()]
    assert excluded == []
    build_extension = _load("scripts/build_extension.py")
    assert "LICENSE" in build_extension.REQUIRED_FILES  # check_zip fails a zip without it


def test_readme_install_step_uses_the_build_script() -> None:
    """A plain `python scripts/build_extension.py` fails without bpy and the wheels: the README must give
    the command that sets them up (scripts/build.sh), and build_extension.py must point to it."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    install = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "bash scripts/build.sh" in install and "python scripts/build_extension.py" not in install
    script = (REPO_ROOT / "scripts" / "build.sh").read_text(encoding="utf-8")
    commands = ('ensure_venv "$VENV"', '"$VENV/bin/python" wheels/build_wheels.py --ensure',
                '"$VENV/bin/python" scripts/build_extension.py "$@"')  # fmt: skip
    steps = [script.index(command) for command in commands]
    assert steps == sorted(steps)
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(REPO_ROOT / "scripts" / "build_extension.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "bash scripts/build.sh" in proc.stderr, proc.stderr


def test_the_depth_exports_writer_is_bundled_at_the_pinned_version(build_wheels) -> None:
    # core.export.depth names the pin in its "install it with" message; the extension must ship that version
    from core.export.depth import OPENEXR_PIN

    name, version = OPENEXR_PIN.split("==")
    assert name in build_wheels.BUNDLED
    assert build_wheels.read_pins(REPO_ROOT / "tests" / "requirements.txt", (name,)) == {name: version}


@pytest.mark.parametrize("preset", [True, False])
def test_ci_install_check_leaves_no_user_folder_in_the_temp_directory(tmp_path, monkeypatch, preset) -> None:
    """With BLENDER_USER_RESOURCES set (as .ci/run sets it) or not, no dust3r-ci-user-* folder is left."""
    import tempfile

    script = _load("scripts/ci_install_check.py")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen = []
    monkeypatch.setattr(script, "check", lambda args: seen.append(os.environ["BLENDER_USER_RESOURCES"]) or 0)
    if preset:
        monkeypatch.setenv("BLENDER_USER_RESOURCES", str(tmp_path / "given"))
    else:
        monkeypatch.delenv("BLENDER_USER_RESOURCES", raising=False)
    assert script.run(None) == 0
    assert len(seen) == 1 and Path(seen[0]).name.startswith("given" if preset else "dust3r-ci-user-")
    assert list(tmp_path.iterdir()) == []
