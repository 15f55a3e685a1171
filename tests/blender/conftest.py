"""Real-Blender test setup: the add-on enabled as an extension (``bl_ext.<repo>.dust3r``), a clean file per test.

TESTING.md option (c): a local extension repository whose folder holds a symlink named ``dust3r`` to the
repository root, so the add-on gets its real package name and ``AddonPreferences`` lookups work.
``read_factory_settings`` resets the preferences (repository and add-on included), so each test re-adds
the repository and re-enables the add-on afterwards (a few milliseconds).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

bpy = pytest.importorskip("bpy")
import addon_utils  # noqa: E402  (only exists once bpy is imported)

REPO_ROOT = Path(__file__).resolve().parents[2]
ADDON_ID = "dust3r"
REPO_NAME = "dust3r_tests"


class AddonHandle:
    """Enables/disables the add-on as Blender would, through a local extension repository."""

    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = repo_dir
        self.module_name: str | None = None

    def _ensure_repo(self) -> str:
        prefs = bpy.context.preferences
        for repo in prefs.extensions.repos:
            if Path(repo.directory).resolve() == self.repo_dir.resolve():
                return repo.module
        bpy.ops.preferences.extension_repo_add(
            name=REPO_NAME, type="LOCAL", use_custom_directory=True, custom_directory=str(self.repo_dir)
        )
        for repo in prefs.extensions.repos:
            if Path(repo.directory).resolve() == self.repo_dir.resolve():
                return repo.module
        raise RuntimeError("could not add the test extension repository")

    def enable(self) -> ModuleType:
        self.module_name = f"bl_ext.{self._ensure_repo()}.{ADDON_ID}"
        module = addon_utils.enable(self.module_name, default_set=True, handle_error=_raise)
        if module is None:
            raise RuntimeError(f"could not enable {self.module_name}")
        return module

    def disable(self) -> None:
        if self.module_name is not None:
            addon_utils.disable(self.module_name, default_set=True, handle_error=_raise)

    def is_enabled(self) -> bool:
        return self.module_name is not None and self.module_name in bpy.context.preferences.addons

    @property
    def module(self) -> ModuleType:
        return sys.modules[self.module_name]

    def submodule(self, name: str) -> ModuleType:
        """``core.result`` etc. as the add-on itself imported it (same class identities)."""
        import importlib

        return importlib.import_module(f"{self.module_name}.{name}")


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.fixture(scope="session")
def addon_repo_dir():
    with tempfile.TemporaryDirectory(prefix="dust3r-ext-repo-") as tmp:
        (Path(tmp) / ADDON_ID).symlink_to(REPO_ROOT, target_is_directory=True)
        yield Path(tmp)


@pytest.fixture(scope="session")
def addon_handle(addon_repo_dir) -> AddonHandle:
    return AddonHandle(addon_repo_dir)


@pytest.fixture
def clean_file():
    """A factory-fresh empty file (the add-on is NOT enabled)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield bpy.context


@pytest.fixture
def addon(addon_handle, clean_file):
    """A factory-fresh empty file with the add-on enabled; disabled again afterwards."""
    addon_handle.enable()
    yield addon_handle
    if addon_handle.is_enabled():
        addon_handle.disable()
