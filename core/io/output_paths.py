"""Checks of where the results will go, made BEFORE any work (a model load, an inference, an alignment).

A run that fails at the very end because its output cannot be written loses all its work; these checks
catch it in milliseconds with a one-line :class:`~core.errors.ConfigError`:

* a result FILE must end with ``.npz``: the name is used exactly as given, never changed silently (numpy
  would append ``.npz`` to ``--out result`` and the tool would report a file that does not exist);
* it must not be an existing folder or a non-regular file (a FIFO, a device);
* its name must be one the file system accepts (:func:`check_name`): encodable, no component longer than
  ``NAME_MAX`` bytes, the whole path not longer than ``PATH_MAX``: temporary names are short (see
  :func:`core.io.atomic.temp_prefix`), so a name that passes here can be written at the end of the run;
* its folder, or the nearest existing folder above it when it is still to be made, must be a folder (not a
  file) in which this process can really create a file: a probe file is created and removed, which also
  catches read-only mounts and pseudo file systems such as ``/proc``, where permission bits say nothing.

Folders that do not exist yet are not created here (a failed run leaves nothing behind); the writer creates
them when it writes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import ConfigError

RESULT_SUFFIX = ".npz"
DEFAULT_NAME_MAX = 255  # bytes; where os.pathconf cannot say (Windows)
DEFAULT_PATH_MAX = 4096


def _pathconf(folder: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(folder, name)
    except (OSError, ValueError, AttributeError):  # AttributeError: no pathconf on Windows
        return default
    return value if value and value > 0 else default


def check_name(path: str | Path, option: str = "--out") -> Path:
    """The absolute ``path`` when the file system can hold its name, else a one-line :class:`ConfigError`.

    Checked: the name can be encoded for the file system (``os.fsencode``), no component is longer than
    ``NAME_MAX`` bytes and the whole path not longer than ``PATH_MAX`` (asked of the nearest existing folder).
    """
    given = str(path)
    path = Path(os.path.abspath(Path(path).expanduser()))
    try:
        encoded = os.fsencode(str(path))
    except UnicodeError:
        raise ConfigError(f"{option} {given!r}: the file system cannot encode this name") from None
    if b"\0" in encoded:
        raise ConfigError(f"{option} {given!r}: a name cannot hold a NUL character")
    existing = _nearest_existing(path)
    name_max = _pathconf(existing, "PC_NAME_MAX", DEFAULT_NAME_MAX)
    path_max = _pathconf(existing, "PC_PATH_MAX", DEFAULT_PATH_MAX)
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > name_max:
            raise ConfigError(
                f"{option}: the name {part[:40]}... is {size} bytes long, the file system allows {name_max}; "
                "choose a shorter name"
            )
    if len(encoded) >= path_max:
        raise ConfigError(
            f"{option}: the path is {len(encoded)} bytes long, the file system allows {path_max - 1}; "
            "choose a shorter path"
        )
    return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long to even ask about (ENAMETOOLONG): not there
        return False


def _nearest_existing(folder: Path) -> Path:
    existing = folder
    while not _exists(existing):
        if existing.parent == existing:
            break
        existing = existing.parent
    return existing


def check_output_file(path: str | Path, option: str = "--out", suffix: str = RESULT_SUFFIX) -> Path:
    """The absolute path of a result file that can be written, or a :class:`ConfigError` saying why not.

    Args:
        path: the file the user asked for.
        option: how the user gave it (``--out``), for the message.
        suffix: the required file name suffix (case-insensitive).
    """
    given = str(path)
    path = check_name(path, option)
    if path.is_dir():
        raise ConfigError(
            f"{option} {given} is a folder: give a file name, e.g. {Path(given) / ('result' + suffix)}"
        )
    if path.suffix.lower() != suffix:
        raise ConfigError(f"{option} {given} must be a {suffix} file name, e.g. {given}{suffix}")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{option} {given} exists and is not a regular file")
    _check_can_create_in(path.parent, option, given)
    return path


def check_output_folder(path: str | Path, option: str = "--out") -> Path:
    """The absolute path of a folder that results can be written into, or a :class:`ConfigError`."""
    given = str(path)
    path = check_name(path, option)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {given} must be a folder, but it is a file")
    _check_can_create_in(path, option, given)
    return path


def _check_can_create_in(folder: Path, option: str, given: str) -> None:
    """``folder`` (or its nearest existing ancestor) is a folder where this process can create files."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise ConfigError(f"{option} {given} cannot be written: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".dust3r-write-check-", dir=existing)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"{option} {given} cannot be written: cannot create files in {existing} ({reason}); "
            "choose a folder you can write to"
        ) from None
    os.close(fd)
    os.unlink(probe)
