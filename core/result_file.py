"""Reading a ``RESULT.npz`` that may come from anywhere: every check in ONE place, for the CLI and Blender.

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

Any failure is one :class:`ResultFileError` whose message says what is wrong; a damaged member (bad CRC,
truncated) is reported the same way.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import Dust3rError
from .result import Reconstruction

RESULT_HINT = "write one with `python -m core reconstruct`"
MIN_INFLATE_BUDGET = 1 << 30  # bytes: any result up to ~30 M points fits, whatever its compression
MAX_INFLATE_RATIO = 64  # declared/compressed: float arrays deflate by < 2, a zip bomb by ~1000
PER_VIEW = ("depth", "pts3d", "conf", "colors")
_REAL = "fiu"  # float, signed and unsigned integers (numpy dtype kinds); never complex, never objects


class ResultFileError(Dust3rError):
    """A file that is not a usable RESULT.npz (damaged, crafted, or another kind of file)."""


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
        raise ResultFileError(f"{path} not found: give a RESULT.npz ({RESULT_HINT})")
    members: dict[str, Member] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            declared = sum(info.file_size for info in infos)
            budget = inflate_budget(path)
            if declared > budget:
                raise ResultFileError(
                    f"{path.name} would inflate to {declared / 2**30:.1f} GiB, far more than a result of its "
                    f"size holds ({budget / 2**30:.1f} GiB at most): refused as a damaged or crafted file"
                )
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise ResultFileError(f"{path.name} holds {info.filename!r}, which is not an array")
                with archive.open(info) as stream:
                    members[info.filename[:-4]] = _read_header(stream, info, path.name)
    except ResultFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise ResultFileError(
            f"{path.name} is not a readable .npz file ({_first_line(exc)}): {RESULT_HINT}"
        ) from None
    return members


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (numpy's header errors run over three lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _read_header(stream, info: zipfile.ZipInfo, file_name: str) -> Member:
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
        raise ResultFileError(f"{file_name}: array {name!r} holds Python objects, which are never loaded")
    size = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    header = stream.tell() if stream.seekable() else None
    if size > info.file_size or (header is not None and header + size != info.file_size):
        raise ResultFileError(
            f"{file_name}: array {name!r} claims {shape} {dtype} ({size:,} bytes) but its member holds "
            f"{info.file_size:,} bytes: the file is damaged or crafted"
        )
    return Member(tuple(int(v) for v in shape), dtype, size)


def check_layout(members: dict[str, Member], file_name: str) -> int:
    """Check the arrays' dtypes and shapes against the RESULT.npz layout; return the number of views.

    Raises:
        ResultFileError: a required array missing, a wrong dtype (complex numbers, strings where numbers
            belong), a wrong shape, no view, a view of no pixel.
    """

    def fail(text: str) -> ResultFileError:
        return ResultFileError(f"{file_name} is not a valid RESULT.npz: {text}")

    required = ("image_paths", "cam2world", "K_photo", "photo_size", "K_net", "net_size")
    missing = [name for name in required if name not in members]
    if missing:
        raise ResultFileError(
            f"{file_name} is not a RESULT.npz (it lacks {', '.join(missing)}): {RESULT_HINT}"
        )
    paths = members["image_paths"]
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
        for name in PER_VIEW:
            key = f"{name}_{k}"
            member = members.get(key)
            if member is None:
                raise fail(f"it lacks {key} ({RESULT_HINT})")
            if member.dtype.kind not in _REAL:
                raise fail(f"{key} has dtype {member.dtype}, expected {_kind_words(_REAL)}")
    return n


def _kind_words(kinds: str) -> str:
    words = {"f": "real numbers", "i": "integers", "u": "integers", "b": "a boolean", "U": "text"}
    return " or ".join(dict.fromkeys(words[k] for k in kinds))


def check_values(rec: Reconstruction, file_name: str) -> None:
    """Cameras finite, focals, photo and network sizes positive, and per-view arrays of that size.

    Raises:
        ResultFileError: which view and what is wrong.
    """

    def fail(text: str) -> ResultFileError:
        return ResultFileError(f"{file_name} is not a valid RESULT.npz: {text}; the file is damaged")

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


def read_result(path: str | Path) -> Reconstruction:
    """A checked :class:`~core.result.Reconstruction` from the ``RESULT.npz`` at ``path`` (see the module).

    Raises:
        ResultFileError: the file is missing, unreadable, damaged, crafted or not a RESULT.npz.
    """
    path = Path(path)
    members = inspect_npz(path)
    check_layout(members, path.name)
    try:
        rec = Reconstruction.load_npz(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ResultFileError(f"{path.name} is damaged ({_first_line(exc)}): {RESULT_HINT}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultFileError(f"{path.name} is not a valid RESULT.npz: {_first_line(exc)}") from None
    check_values(rec, path.name)
    return rec
