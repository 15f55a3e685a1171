"""What the end-to-end core tests share: the tiny random-weight 224 model, the example photos, and a config
that runs them fast and exactly (CPU, float32). The model itself is the ``tiny_model`` fixture of
tests/core/conftest.py."""

from __future__ import annotations

from pathlib import Path

from core.config import InferenceConfig, ReconstructConfig, RefineConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY_CHECKPOINT = REPO_ROOT / "tests" / "data" / "tiny_linear_224"
PHOTOS = sorted((REPO_ROOT / "examples" / "photos").glob("*.jpg"))
# the refinement (on by default) has its own tests: these are about the rest of the pipeline
FAST_CONFIG = ReconstructConfig(
    inference=InferenceConfig(image_size=224, device="cpu", precision="fp32"),
    refine=RefineConfig(enabled=False),
)
