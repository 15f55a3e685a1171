"""How an export writes one file: atomically (temp file + rename, same folder), with the user's umask.

Inside an export's staging folder (:mod:`.staging`) the files need no ``fsync``: the folder becomes visible
as a whole. The temporary names are short (:func:`core.io.atomic.temp_prefix`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import Dust3rError
from ..io import atomic


class ExportError(Dust3rError):
    """An export cannot be written: not a RESULT.npz, a folder that is not empty or not writable, ..."""


def reason(exc: OSError) -> str:
    """The OS's words for ``exc`` (``No space left on device``), for a one-line message."""
    return exc.strerror or str(exc)


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; on success it replaces ``path`` at once.

    The file gets the mode of a plain ``open()`` (the user's umask); on an error the temporary file is
    removed and ``path`` is left as it was (:func:`core.io.atomic.atomic_write`, without ``fsync``).

    Raises:
        ExportError: the file cannot be created or written (the OS reason in the message).
    """
    path = Path(path)
    try:
        with atomic.atomic_write(path, durable=False) as handle:
            yield handle
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {reason(exc)}") from exc


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with :func:`atomic_write`."""
    with atomic_write(path) as handle:
        handle.write(data)


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` with :func:`atomic_write` (``\\n`` line ends on every platform)."""
    write_bytes_atomic(path, text.encode("utf-8"))
