"""Is PyTorch importable, and which version: a cached one-line summary for the preferences (no torch import);
an earlier install in the extension's user folder put back on ``sys.path``."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os

import bpy

from ..addon import ADDON_PACKAGE

_cache: dict[str, str] = {}


def torch_summary() -> str:
    """``"PyTorch 2.5.1"``, ``"PyTorch: installed"`` or ``"PyTorch: not installed"`` (cached)."""
    if "torch" not in _cache:
        if importlib.util.find_spec("torch") is None:
            _cache["torch"] = "PyTorch: not installed"
        else:
            try:
                _cache["torch"] = f"PyTorch {importlib.metadata.version('torch')}"
            except importlib.metadata.PackageNotFoundError:
                _cache["torch"] = "PyTorch: installed"
    return _cache["torch"]


def forget_torch_summary() -> None:
    """Drop the cached summary (after an install, or when sys.path changed)."""
    _cache.clear()


def activate_user_site_packages() -> str | None:
    """Put an earlier install of PyTorch on ``sys.path`` (call from ``register()``); returns the folder."""
    from ..core.torch_setup import activate_site_dir, site_packages_subdir

    try:
        path = bpy.utils.extension_path_user(ADDON_PACKAGE, path=site_packages_subdir())
    except ValueError:  # registered without its extension package (development): nothing to add
        return None
    if path and os.path.isdir(path):
        activate_site_dir(path)
        return path
    return None
