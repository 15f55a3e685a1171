"""Shared test setup: import paths, reference data locations, Blender's user folder."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI clones the repository anywhere and puts a copy of shared/ beside it: never depend on folder names.
SHARED_DIR = REPO_ROOT.parent / "shared"
REFERENCE_DIR = SHARED_DIR / "reference"
SYNTHGEN_PATH = SHARED_DIR / "tools" / "synthgen.py"
VENDORED_DIR = REPO_ROOT / "tests" / "data"

# `core` is a top-level package when run from the repository root (INTERFACES.md section 1).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# bpy would otherwise write into ~/.config/blender (TESTING.md).
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="dust3r-blender-user-"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The full reference fixtures of ../shared/reference; skips (with the reason shown) when absent."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"full reference fixtures not found at {REFERENCE_DIR} (vendored subset still tested)")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def synthgen():
    """The shared synthetic-scene generator module (../shared/tools/synthgen.py)."""
    if not SYNTHGEN_PATH.is_file():
        pytest.skip(f"synthgen not found at {SYNTHGEN_PATH}")
    import importlib.util

    spec = importlib.util.spec_from_file_location("synthgen", SYNTHGEN_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["synthgen"] = module
    spec.loader.exec_module(module)
    return module


def _random_world_from_cam(rng, translation_scale: float = 2.0):
    """A random rigid ``(4, 4)`` float64 transform: rotation from a uniform unit quaternion, translation
    ``N(0, translation_scale^2)`` per axis."""
    import numpy as np

    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    R = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = rng.normal(size=3) * translation_scale
    return T


@pytest.fixture(scope="session")
def random_world_from_cam():
    """``random_world_from_cam(rng, translation_scale=2.0)`` -> a random rigid (4, 4) transform."""
    return _random_world_from_cam
