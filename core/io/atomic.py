"""Atomic file writes: a result is either the complete new file or the previous one, never half a file.

Every file the core writes for the user (``RESULT.npz``, ``EST.npz``, ``pair_<i>_<j>.npz``) goes through
:func:`atomic_write`: the bytes go to a temporary file in the SAME folder (so the final rename stays on one
file system), which is flushed, ``fsync``-ed and then renamed over the final name with :func:`os.replace`
(atomic on POSIX and Windows). An exception, ``Ctrl-C`` included, removes the temporary file and leaves the
previous file untouched; a ``kill -9`` or a power cut can leave a hidden ``.<start of name>.<random>.part``
file behind, never a broken file under the final name.

Temporary names are SHORT (:func:`temp_prefix`: at most the first 16 characters of the final name), so
that any final name the file system accepts (up to its 255-byte limit) can be written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

TEMP_SUFFIX = ".part"
TEMP_NAME_CHARS = 16  # characters of the final name kept in a temporary name (4 bytes each at most)


def _current_umask() -> int:
    """The process umask (read once; :func:`os.umask` can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_current_umask()  # what a plain open() would give a new file
FOLDER_MODE = 0o777 & ~_current_umask()  # what a plain mkdir() would give a new folder


def temp_prefix(name: str) -> str:
    """The start of a temporary name derived from the final ``name``: ``.<first 16 characters>.``.

    Short whatever ``name`` is (a 250-byte final name still gets a temporary name far below NAME_MAX), and
    recognisable (``ls -a`` shows which file it was for).
    """
    return f".{name[:TEMP_NAME_CHARS]}."


def apply_file_mode(fd: int) -> None:
    """Give the open file ``fd`` the mode of a plain ``open()`` (``mkstemp`` makes files private, 0600)."""
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no fchmod on Windows
        os.fchmod(fd, FILE_MODE)


@contextlib.contextmanager
def atomic_write(path: str | Path, durable: bool = True) -> Iterator[BinaryIO]:
    """Open a binary temporary file that replaces ``path`` when the ``with`` block ends without error.

    The folder of ``path`` must exist. The new file gets the mode a plain ``open(path, "wb")`` would give.
    ``durable=False`` skips the ``fsync`` calls (files inside an export's staging folder, which only
    becomes visible as a whole: a kill leaves the previous export either way).

    Raises:
        OSError: the folder is missing or not writable, the disk is full, the rename fails.
    """
    path = Path(path)
    fd, temp_name = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        apply_file_mode(fd)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    if durable:
        fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; folders cannot be opened on Windows)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_npz(path: str | Path, arrays: Mapping[str, np.ndarray], compressed: bool = False) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically (see :func:`atomic_write`).

    The file is what :func:`numpy.savez` (or ``savez_compressed``) writes, except that the name is used
    exactly as given (it must end with ``.npz``) and object arrays are refused (no pickles in our files).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``path`` does not end with ``.npz`` (numpy would silently append it).
        OSError: as :func:`atomic_write`.
    """
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"an .npz file name is needed, got {path}")
    compression = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    # The layout of numpy.savez (one .npy member per array), but with the archive closed by a with-block:
    # numpy leaves it open on an exception, and its finaliser then writes into the closed temporary file.
    with atomic_write(path) as handle, zipfile.ZipFile(handle, "w", compression, allowZip64=True) as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
    return path
