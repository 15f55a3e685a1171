"""Architecture rules that keep the add-on installable and the core reusable."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BLENDER_MODULES = {"bpy", "mathutils", "bmesh", "bpy_extras", "addon_utils", "gpu", "blf"}


def _imported_top_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
            elif node.level > 0 and node.module:
                names.add("." * node.level + node.module.split(".")[0])
    return names


CORE_FILES = sorted((REPO_ROOT / "core").rglob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_core_never_imports_blender(path: Path) -> None:
    forbidden = _imported_top_modules(path) & BLENDER_MODULES
    assert not forbidden, f"{path} imports {forbidden}: core/ must stay usable without Blender"


def test_core_has_files() -> None:
    assert len(CORE_FILES) > 10


def test_addon_init_does_not_import_torch_at_module_level() -> None:
    assert "torch" not in _module_level_imports(REPO_ROOT / "__init__.py")


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "panels").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO_ROOT))
)
def test_panels_never_import_core_or_torch(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not (node.level > 0 and node.module.split(".")[0] == "core"), f"{path} imports core"
        names = _imported_top_modules(path)
        assert "torch" not in names, f"{path} imports torch: drawing must not import torch"
