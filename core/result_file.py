"""The checks of a ``RESULT.npz`` that may come from anywhere, in ONE place for the CLI and Blender (used by
:func:`core.result.read_result`, THE reader), with its key list and its error.

A result file is data from outside (a farm, a download, a colleague): it is checked before it is trusted.

1. **Before anything is inflated** (:func:`inspect_npz`): the zip members' declared sizes against a budget
   (:func:`inflate_budget`; a member cannot inflate beyond its declared size, so a zip bomb is refused
   without being inflated), every ``.npy`` header read (numpy's header size limit; no object array, i.e.
   no pickle) and its shape times item size compared with the member's declared size (a header claiming
   hundreds of GB in a small member is refused before numpy allocates it).
2. **The layout** (:func:`check_layout`, headers only): the arrays of INTERFACES.md section 1 present, with
   the dtypes and shapes that layout says (``image_paths`` a 1-D string array of at least one view;
   numbers real, never complex; the per-view arrays matching ``net_size``; the footage arrays too).
3. **The values** (:func:`check_values`, after loading): cameras finite, focals and sizes positive.

Any failure is one :class:`ResultFileError` whose ``problem`` says what kind (``missing``, ``unreadable``,
``arrays``, ``invalid``) and whose ``detail`` says what is wrong, for the caller's own words; a damaged member
(bad CRC, truncated) is ``unreadable``. This module does not import :mod:`core.result` (which imports it).
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ConfigError

MIN_INFLATE_BUDGET = 1 << 30  # bytes: any result up to ~30 M points fits, whatever its compression
MAX_INFLATE_RATIO = 64  # declared/compressed: float arrays deflate by < 2, a zip bomb by ~1000
# THE key list of a RESULT.npz: the arrays every result has, and the per-view arrays ``<name>_<i>``.
RESULT_ARRAYS = ("image_paths", "cam2world", "K_photo", "photo_size", "K_net", "net_size")
PER_VIEW_ARRAYS = ("depth", "pts3d", "conf", "colors")
_REAL = "fiu"  # float, signed and unsigned integers (numpy dtype kinds); never complex, never objects


class ResultFileError(ConfigError):
    """A file that is not a usable RESULT.npz (damaged, crafted, or another kind of file). ``problem`` says
    what, for the caller's own wording: ``missing`` (no such file), ``unreadable`` (not an npz, a damaged or
    crafted archive; ``detail`` why), ``arrays`` (``missing_arrays`` names what it lacks, the required ones
    first) or ``invalid`` (wrong dtypes, shapes or values; ``detail``)."""

    def __init__(
        self, path: Path, problem: str, detail: str = "", missing_arrays: Sequence[str] = ()
    ) -> None:
        self.path, self.problem, self.detail = Path(path), problem, detail
        self.missing_arrays = tuple(missing_arrays)
        super().__init__(f"{path}: not a readable RESULT.npz ({problem}{': ' + detail if detail else ''})")


@dataclass(frozen=True)
class Member:
    """One array of an npz, as its header declares it: ``shape``, ``dtype`` and bytes when inflated."""

    shape: tuple[int, ...]
    dtype: np.dtype
    size: int


def inflate_budget(path: Path) -> int:
    """How many bytes the members of ``path`` may declare in all: the larger of
    :data:`MIN_INFLATE_BUDGET` and :data:`MAX_INFLATE_RATIO` times the file's size."""
    return max(MIN_INFLATE_BUDGET, MAX_INFLATE_RATIO * path.stat().st_size)


def inspect_npz(path: str | Path) -> dict[str, Member]:
    """The arrays of the npz ``path`` by name, from their headers only (nothing large is inflated).

    Raises:
        ResultFileError: not a zip file, a member that is not ``.npy``, members declaring more than
            :func:`inflate_budget`, an object (pickle) array, an unreadable or oversized header, a header
            whose array does not fit its member.
    """
    path = Path(path)
    if not path.is_file():
        raise ResultFileError(path, "missing")
    if not zipfile.is_zipfile(path):
        raise ResultFileError(path, "unreadable", "not a zip archive")
    members: dict[str, Member] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            declared = sum(info.file_size for info in infos)
            budget = inflate_budget(path)
            if declared > budget:
                raise ResultFileError(
                    path,
                    "unreadable",
                    f"it would inflate to {declared / 2**30:.1f} GiB, far more than a result of its size holds "
                    f"({budget / 2**30:.1f} GiB at most): refused as a damaged or crafted file",
                )
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise ResultFileError(
                        path, "unreadable", f"it holds {info.filename!r}, which is not an array"
                    )
                with archive.open(info) as stream:
                    members[info.filename[:-4]] = _read_header(stream, info, path)
    except ResultFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise ResultFileError(path, "unreadable", first_line(exc)) from None
    return members


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (numpy's header errors run over three lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_header(stream, info: zipfile.ZipInfo, path: Path) -> Member:
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise ValueError(f"unknown .npy version {version}")
    del fortran
    name = info.filename[:-4]
    if dtype.hasobject:
        raise ResultFileError(path, "invalid", f"array {name!r} holds Python objects, which are never loaded")
    size = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    header = stream.tell() if stream.seekable() else None
    if size > info.file_size or (header is not None and header + size != info.file_size):
        raise ResultFileError(
            path,
            "unreadable",
            f"array {name!r} claims {shape} {dtype} ({size:,} bytes) but its member holds "
            f"{info.file_size:,} bytes: the file is damaged or crafted",
        )
    return Member(tuple(int(v) for v in shape), dtype, size)


def check_layout(members: dict[str, Member], path: Path) -> int:
    """Check the arrays' dtypes and shapes against the RESULT.npz layout; return the number of views.

    Raises:
        ResultFileError: a required array missing, a wrong dtype (complex numbers, strings where numbers
            belong), a wrong shape, no view, a view of no pixel.
    """

    def fail(text: str) -> ResultFileError:
        return ResultFileError(path, "invalid", text)

    missing = [name for name in RESULT_ARRAYS if name not in members]
    paths = members.get("image_paths")
    if paths is not None and len(paths.shape) == 1:  # the per-view arrays it lacks, after the required ones
        missing += [
            f"{k}_{i}" for i in range(paths.shape[0]) for k in PER_VIEW_ARRAYS if f"{k}_{i}" not in members
        ]
    if missing:
        raise ResultFileError(path, "arrays", missing_arrays=missing)
    if paths.dtype.kind != "U" or len(paths.shape) != 1:
        raise fail(f"image_paths must be a 1-D array of text, got {paths.dtype} of shape {paths.shape}")
    n = paths.shape[0]
    if n == 0:
        raise fail("it holds no view")
    spec: dict[str, tuple[str, tuple[int, ...] | None]] = {
        "cam2world": (_REAL, (n, 4, 4)),
        "K_photo": (_REAL, (n, 3, 3)),
        "K_net": (_REAL, (n, 3, 3)),
        "photo_size": ("iu", (n, 2)),
        "net_size": ("iu", (n, 2)),
        "frame_numbers": ("iu", (n,)),
        "fps": (_REAL, ()),
        "dist": (_REAL, (n, 2)),
        "solve_error_px": (_REAL, (n,)),
        "uncertainty_px": (_REAL, (n,)),
        "solve_error_total_px": (_REAL, ()),
        "resized_size": (_REAL, (n, 2)),
        "crop_offset": (_REAL, (n, 2)),
        "refine_status": ("U", (n,)),
        "refine_warnings": ("U", None),
        "warnings": ("U", None),
        # footage results (core.footage.result)
        "frame_status": ("U", (n,)),
        "frame_notes": ("U", (n,)),
        "sensor_width_mm": (_REAL, ()),
        "sensor_width_assumed": ("b", ()),
        "focal_mm": (_REAL, ()),
        "fps_rational": ("iu", (2,)),
        "footage_path": ("U", ()),
        "footage_kind": ("U", ()),
        "messages": ("U", None),
    }
    for name, (kinds, shape) in spec.items():
        member = members.get(name)
        if member is None:
            continue
        if member.dtype.kind not in kinds:
            raise fail(f"{name} has dtype {member.dtype}, expected {_kind_words(kinds)}")
        if shape is None and len(member.shape) != 1:
            raise fail(f"{name} must be a 1-D array, got shape {member.shape}")
        if shape is not None and member.shape != shape:
            raise fail(f"{name} must have shape {shape}, got {member.shape}")
    for k in range(n):
        for name in PER_VIEW_ARRAYS:
            key = f"{name}_{k}"
            member = members[key]
            if member.dtype.kind not in _REAL:
                raise fail(f"{key} has dtype {member.dtype}, expected {_kind_words(_REAL)}")
    return n


def _kind_words(kinds: str) -> str:
    words = {"f": "real numbers", "i": "integers", "u": "integers", "b": "a boolean", "U": "text"}
    return " or ".join(dict.fromkeys(words[k] for k in kinds))


def check_values(rec, path: Path) -> None:
    """Cameras finite, focals, photo and network sizes positive (``rec``: a loaded
    :class:`~core.result.Reconstruction`).

    Raises:
        ResultFileError: which view and what is wrong.
    """

    def fail(text: str) -> ResultFileError:
        return ResultFileError(path, "invalid", f"{text}; the file is damaged")

    for name in ("world_from_cam", "K_photo", "K_net", "dist"):
        bad = ~np.isfinite(getattr(rec, name)).reshape(rec.num_views, -1).all(axis=1)
        if bad.any():
            label = "cam2world" if name == "world_from_cam" else name
            raise fail(f"{label} of view {int(np.argmax(bad))} holds NaN or infinite values")
    for name in ("K_photo", "K_net"):
        K = getattr(rec, name)
        bad = ~((K[:, 0, 0] > 0) & (K[:, 1, 1] > 0))
        if bad.any():
            raise fail(f"{name} of view {int(np.argmax(bad))} has a focal length that is not positive")
    for name in ("photo_size", "net_size"):
        bad = ~(np.asarray(getattr(rec, name)) > 0).all(axis=1)
        if bad.any():
            raise fail(f"{name} of view {int(np.argmax(bad))} is not a positive size (a view of no pixel)")
