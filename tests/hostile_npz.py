"""Crafted RESULT.npz files for the hostile-input tests (tests/core/test_hostile_*.py, tests/blender/...).

Each helper copies a real RESULT.npz and changes one thing, as someone crafting a file would: an array
replaced, a member whose header lies about its size, a member whose CRC is wrong, a zip bomb.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def lying_header(shape: tuple[int, ...], dtype=np.float32, payload: int = 64) -> bytes:
    """An .npy member whose header claims ``shape`` (hundreds of GB) but holds ``payload`` bytes."""
    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + b"\0" * payload


def rewrite(src: Path, dst: Path, arrays: dict | None = None, raw: dict | None = None, drop=()) -> Path:
    """``src`` copied to ``dst`` with ``arrays`` (name -> array) or ``raw`` (name -> member bytes) put in
    and the members named in ``drop`` left out."""
    arrays, raw = arrays or {}, raw or {}
    members = {name: npy_bytes(value) for name, value in arrays.items()} | dict(raw)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            name = info.filename[:-4]
            if name in drop or name in members:
                continue
            zout.writestr(info.filename, zin.read(info))
        for name, data in members.items():
            zout.writestr(f"{name}.npy", data)
    return dst


def bad_crc(src: Path, dst: Path, member: str = "cam2world") -> Path:
    """``src`` with one byte of ``member``'s data flipped in a stored (uncompressed) copy: its CRC fails."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    data = bytearray(dst.read_bytes())
    with zipfile.ZipFile(dst) as archive:
        info = archive.getinfo(f"{member}.npy")
    offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + info.compress_size - 3
    data[offset] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def zip_bomb(src: Path, dst: Path, gib: float = 1.5) -> Path:
    """``src`` plus a member of zeros that inflates to ``gib`` GiB (written in chunks, never held)."""
    size = int(gib * 2**30)
    with (
        zipfile.ZipFile(src) as zin,
        zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout,
    ):
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "|u1", "fortran_order": False, "shape": (size,)}
        )
        with zout.open("padding.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            chunk = bytes(1 << 24)
            for _ in range(size // len(chunk)):
                member.write(chunk)
            member.write(bytes(size % len(chunk)))
    return dst
