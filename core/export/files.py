"""Where an export writes: the output folder's checks, and atomic writes (temp file + rename, same folder)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import Dust3rError


class ExportError(Dust3rError):
    """An export cannot be written: not a RESULT.npz, a folder that is not empty or not writable, ..."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def prepare_folder(folder: Path, overwrite: bool) -> Path:
    """Make sure ``folder`` can receive an export and return it (created with its parents when missing).

    Raises:
        ExportError: ``folder`` is a file, is not empty and ``overwrite`` is False, or cannot be created or
            written to (read-only, a parent that is a file, no permission).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder} is a file, not a folder: choose a folder for the export")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ExportError(f"{folder} is not empty: choose an empty or new folder, or pass --overwrite")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ExportError(f"cannot write to {folder}: {_reason(exc)}") from exc
    return folder


def prepare_file(path: Path, overwrite: bool) -> Path:
    """Make sure the single file ``path`` can be written (its folder created) and return it.

    Raises:
        ExportError: ``path`` is a folder, exists and ``overwrite`` is False, or its folder is not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{path} is a folder: give a file name ending in .ply, or another format")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} exists: choose another name, or pass --overwrite")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise ExportError(f"cannot write to {path.parent}: {_reason(exc)}") from exc
    return path


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path`` for binary writing; on success it replaces ``path`` at once.

    Readers never see a half-written file: the data goes to ``.<name>.<random>.tmp`` in the same folder and
    is renamed over ``path`` (``os.replace``, atomic on one file system) only after it was closed without an
    error; on an error the temporary file is removed and ``path`` is left as it was.

    Raises:
        ExportError: the file cannot be created or written (the OS reason in the message).
    """
    path = Path(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {_reason(exc)}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {_reason(exc)}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with :func:`atomic_write`."""
    with atomic_write(path) as handle:
        handle.write(data)


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` with :func:`atomic_write` (``\\n`` line ends on every platform)."""
    write_bytes_atomic(path, text.encode("utf-8"))
