"""Atomic writes of the export: a failed write leaves the previous file as it was and no temporary file."""

from __future__ import annotations

import pytest

from core.export.files import ExportError, atomic_write, prepare_folder


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path) -> None:
    path = tmp_path / "points3D.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk"):
        with atomic_write(path) as f:
            f.write(b"half of the new")
            assert path.read_bytes() == b"old"  # readers see the old file until the rename
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points3D.bin"]
    with atomic_write(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new" and len(list(tmp_path.iterdir())) == 1


def test_folder_checks(tmp_path) -> None:
    assert prepare_folder(tmp_path / "a" / "b", overwrite=False).is_dir()  # parents created
    (tmp_path / "a" / "b" / "x").write_text("x")
    with pytest.raises(ExportError, match="not empty"):
        prepare_folder(tmp_path / "a" / "b", overwrite=False)
    assert prepare_folder(tmp_path / "a" / "b", overwrite=True) == tmp_path / "a" / "b"
    with pytest.raises(ExportError, match="cannot write"):
        with atomic_write(tmp_path / "missing" / "f.txt"):
            pass
