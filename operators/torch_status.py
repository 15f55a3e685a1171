"""Is PyTorch importable, and which version: a cached one-line summary for the preferences (no torch import)."""

from __future__ import annotations

import importlib.metadata
import importlib.util

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
