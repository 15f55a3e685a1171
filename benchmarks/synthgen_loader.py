"""The shared synthetic generator ``../shared/tools/synthgen.py`` (version 2), loaded by path: the issues
state their targets on its cases, so the benchmarks measure on it (the tests use ``tests/synthetic``)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

# ../shared beside the checkout; SYNTHGEN=/path/to/synthgen.py overrides it (worktrees elsewhere)
SYNTHGEN = Path(
    os.environ.get("SYNTHGEN")
    or Path(__file__).resolve().parents[1].parent / "shared" / "tools" / "synthgen.py"
)


def load_synthgen():
    """The ``synthgen`` module (registered in ``sys.modules``, as its dataclasses need)."""
    spec = importlib.util.spec_from_file_location("synthgen", SYNTHGEN)
    module = importlib.util.module_from_spec(spec)
    sys.modules["synthgen"] = module
    spec.loader.exec_module(module)
    return module
