"""Fixtures shared by the core tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models are dominated by per-op overhead; one thread avoids oversubscription on busy machines.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")`` (module-wide, restored after).
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def tiny_model():
    """The tiny random-weight 224 model (tests/pipeline_support.TINY_CHECKPOINT), loaded once per module."""
    from core.model.checkpoint import load_model
    from tests.pipeline_support import TINY_CHECKPOINT

    return load_model(TINY_CHECKPOINT)
