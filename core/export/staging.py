"""An export appears as a whole or not at all: it is built in a staging folder and moved into place.

The rule for every export folder (COLMAP, nerfstudio, PLY in a folder, the ``--images-dir`` folder):

* the target is checked first (its name, that it is a folder, empty unless ``overwrite``, that files can be
  created where it goes); nothing is created for a refused export;
* the export is written into a hidden staging folder BESIDE the target (same file system), named
  ``.<first 16 characters of the target's name>.<random>.stage`` (short whatever the target's name is);
* when every file is written, the files of the previous export that the new one does not replace and does
  not declare stale (a user's notes, other photos in ``images/``) are hard-linked (or copied) into the
  staging folder, and the staging folder takes the target's place in ONE step: ``rename`` when there was no
  target, else an atomic exchange (Linux ``renameat2(RENAME_EXCHANGE)``) after which the previous export,
  now in the staging folder, is removed. Where the exchange is not available (other systems, file systems
  without it) the target is renamed aside and the staging folder renamed in its place, two renames apart;
* any error, Ctrl-C included, removes the staging folder and the folders this export created, and leaves
  the previous export as it was. A ``kill -9`` leaves the previous export (or, after the exchange, the new
  one) in place and at most a hidden ``*.stage`` folder beside it.

The files inside the staging folder are written without ``fsync`` (it becomes visible only as a whole).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..io.atomic import FOLDER_MODE, temp_prefix
from ..io.output_paths import check_name, check_output_folder
from ..io.paths import resolve_path
from .files import ExportError, reason

STAGE_SUFFIX = ".stage"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def check_target_folder(folder: str | Path, overwrite: bool, option: str = "--out") -> Path:
    """The absolute path of an export folder that can be written, or a one-line error; creates nothing.

    Raises:
        ConfigError: the name is too long or cannot be encoded, or no file can be created where it goes.
        ExportError: ``folder`` is a file, or a non-empty folder and ``overwrite`` is False.
    """
    given = Path(folder)
    path = check_name(given, option)
    if path.exists() and not path.is_dir():
        raise ExportError(f"{given} is a file, not a folder: choose a folder for the export")
    path = check_output_folder(given, option)
    if path.is_symlink():  # replace the folder it points to, not the link (the link stays where it is)
        path = resolve_path(path)
    if path.is_dir() and not overwrite:
        try:
            empty = not any(path.iterdir())
        except OSError as exc:
            raise ExportError(f"cannot read {given}: {reason(exc)}") from exc
        if not empty:
            raise ExportError(f"{given} is not empty: choose an empty or new folder, or pass --overwrite")
    return path


def make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the ones created, deepest first (for cleanup)."""
    missing = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    try:
        for path in reversed(missing):
            path.mkdir()
    except OSError as exc:
        remove_empty(missing)
        raise ExportError(f"cannot create {folder}: {reason(exc)}") from exc
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove the folders of :func:`make_parents` again, deepest first, where they are still empty."""
    for path in folders:
        with contextlib.suppress(OSError):
            path.rmdir()


@contextlib.contextmanager
def staged_folder(target: Path, stale: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Yield an empty staging folder for the export to ``target``; on success it becomes ``target``.

    Args:
        target: an absolute folder checked by :func:`check_target_folder`.
        stale: paths relative to ``target`` (``/``-separated) of the previous export that must not be kept
            (e.g. a binary COLMAP model when a text one is written).

    Raises:
        ExportError: the staging folder cannot be made, or the export cannot be moved into place.
    """
    created = make_parents(target.parent)
    try:
        stage = Path(
            tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=STAGE_SUFFIX, dir=target.parent)
        )
    except OSError as exc:
        remove_empty(created)
        raise ExportError(f"cannot write beside {target}: {reason(exc)}") from exc
    try:
        with contextlib.suppress(OSError):
            os.chmod(stage, FOLDER_MODE)  # mkdtemp makes it private; the export gets the user's umask
        yield stage
        try:
            if target.is_dir():
                carry_over(target, stage, stale)
            publish(stage, target)
        except OSError as exc:
            raise ExportError(f"cannot move the export into {target}: {reason(exc)}") from exc
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        remove_empty(created)
        raise


def carry_over(old: Path, new: Path, stale: frozenset[str], rel: str = "") -> None:
    """Hard-link (or copy) into ``new`` every entry of ``old`` that ``new`` lacks and ``stale`` does not
    name, folders recursively (the previous export's files that the new one neither replaces nor drops)."""
    for entry in os.scandir(old):
        name = f"{rel}{entry.name}"
        if name in stale or entry.name.endswith(STAGE_SUFFIX):
            continue
        dest = new / entry.name
        present = dest.exists() or dest.is_symlink()
        if entry.is_dir(follow_symlinks=False):
            if not present:
                dest.mkdir()
                shutil.copystat(entry.path, dest)
            elif not dest.is_dir() or dest.is_symlink():
                continue  # the new export has a file of that name: it replaces the folder
            carry_over(Path(entry.path), dest, stale, name + "/")
        elif not present:
            try:
                os.link(entry.path, dest, follow_symlinks=False)
            except OSError:
                shutil.copy2(entry.path, dest, follow_symlinks=False)


def publish(stage: Path, target: Path) -> None:
    """Put the folder ``stage`` in the place of ``target`` in one step where the system allows it.

    Raises:
        OSError: the rename fails.
    """
    if not target.exists():
        os.rename(stage, target)
        return
    if _exchange(stage, target):
        shutil.rmtree(stage, ignore_errors=True)  # the previous export
        return
    aside = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".old", dir=target.parent))
    os.rmdir(aside)
    os.rename(target, aside)
    try:
        os.rename(stage, target)
    except OSError:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _renameat2():
    """``renameat2`` of the C library (glibc >= 2.28), or None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _renameat2() if os.name == "posix" else None


def _exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` atomically; False where the system or file system cannot.

    Raises:
        OSError: the exchange was possible but failed (no permission, ...).
    """
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))
