"""What command-line tests share: stderr without the progress display.

Off a terminal, ``python -m core`` reports progress as plain ``progress: ...`` lines on stderr (issue 21);
a user error is still exactly one ``error: ...`` line among them, with no traceback.
"""

from __future__ import annotations

from core.cli.console import PROGRESS_PREFIX


def message_lines(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not progress reports (stripped, empty lines dropped)."""
    return [
        line for line in stderr.strip().splitlines() if line.strip() and not line.startswith(PROGRESS_PREFIX)
    ]
