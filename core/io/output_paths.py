"""Checks of where the results will go, made BEFORE any work (a model load, an inference, an alignment).

A run that fails at the very end because its output cannot be written loses all its work; these checks
catch it in milliseconds with a one-line :class:`~core.errors.ConfigError`:

* a result FILE must end with ``.npz``: the name is used exactly as given, never changed silently (numpy
  would append ``.npz`` to ``--out result`` and the tool would report a file that does not exist);
* it must not be an existing folder or a non-regular file (a FIFO, a device);
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


def check_output_file(path: str | Path, option: str = "--out", suffix: str = RESULT_SUFFIX) -> Path:
    """The absolute path of a result file that can be written, or a :class:`ConfigError` saying why not.

    Args:
        path: the file the user asked for.
        option: how the user gave it (``--out``), for the message.
        suffix: the required file name suffix (case-insensitive).
    """
    given = str(path)
    path = Path(os.path.abspath(Path(path).expanduser()))
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
    path = Path(os.path.abspath(Path(path).expanduser()))
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {given} must be a folder, but it is a file")
    _check_can_create_in(path, option, given)
    return path


def _check_can_create_in(folder: Path, option: str, given: str) -> None:
    """``folder`` (or its nearest existing ancestor) is a folder where this process can create files."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
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
