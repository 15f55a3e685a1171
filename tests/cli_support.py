"""What command-line tests share: stderr without the progress display, and a child stopped at a moment.

Off a terminal, ``python -m core`` reports progress as plain ``progress: ...`` lines on stderr (issue 21);
a user error is still exactly one ``error: ...`` line among them, with no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.cli.console import PROGRESS_PREFIX
from tests.conftest import REPO_ROOT


def launch_until(launcher: str, args: list[str], marker: str, what: str) -> subprocess.Popen:
    """Run the Python source ``launcher`` with ``args`` (from the repository root, one thread) and return
    the process once it prints ``marker`` on stdout (it then waits there for a signal); fail the test with
    ``what`` it never reached when it exits first."""
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, *args],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    for line in proc.stdout:
        if marker in line:
            return proc
    proc.wait(timeout=60)
    pytest.fail(f"the child never reached {what}: rc {proc.returncode}, {proc.stderr.read()}")


def message_lines(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not progress reports (stripped, empty lines dropped)."""
    return [
        line for line in stderr.strip().splitlines() if line.strip() and not line.startswith(PROGRESS_PREFIX)
    ]
