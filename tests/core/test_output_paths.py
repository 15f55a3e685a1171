"""The output path is checked before any work: one line, exit 2, and nothing done or written.

Each command runs in a subprocess, as a user runs it. The checkpoint and the photos given do not exist, so
an error about ``--out`` proves that the output was checked before the photos, the model or anything else.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.io.output_paths import check_output_file, check_output_folder
from tests.cli_support import message_lines
from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT

REPO_ROOT = Path(__file__).resolve().parents[2]


def _core(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *argv], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = message_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.fixture()
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("a regular file")
    return path


def _bad_outputs(tmp_path: Path, a_file: Path) -> dict[str, tuple[Path, str]]:
    folder = tmp_path / "some_folder"
    folder.mkdir()
    return {
        "under /proc": (Path("/proc/result.npz"), "cannot create files in /proc"),
        "under a regular file": (a_file / "result.npz", "is a file, not a folder"),
        "an existing folder": (folder, "is a folder"),
        "no .npz suffix": (tmp_path / "result", "must be a .npz file name"),
        "another suffix": (tmp_path / "result.txt", "must be a .npz file name"),
    }


@pytest.mark.parametrize(
    "case", ["under /proc", "under a regular file", "an existing folder", "no .npz suffix", "another suffix"]
)
def test_reconstruct_checks_out_before_anything(tmp_path: Path, a_file: Path, case: str) -> None:
    out, needle = _bad_outputs(tmp_path, a_file)[case]
    before = sorted(tmp_path.rglob("*"))
    proc = _core("reconstruct", "--checkpoint", str(tmp_path / "missing.pth"),
                 "--images", str(tmp_path / "missing.jpg"), "--out", str(out))  # fmt: skip
    line = _one_error_line(proc)
    assert "--out" in line and needle in line, line
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, not even a folder


def test_align_checks_output_before_reading_the_input(tmp_path: Path) -> None:
    proc = _core("align", "--input", str(tmp_path / "missing.npz"), "--output", str(tmp_path / "est"))
    line = _one_error_line(proc)
    assert "--output" in line and "must be a .npz file name" in line, line
    assert not (tmp_path / "est.npz").exists()


@pytest.mark.parametrize("where", ["under /proc", "a file"])
def test_infer_checks_its_folder_before_loading_the_model(tmp_path: Path, a_file: Path, where: str) -> None:
    out = Path("/proc/pairs") if where == "under /proc" else a_file
    proc = _core("infer", "--checkpoint", str(tmp_path / "missing.pth"), "--images", str(PHOTOS[0]),
                 "--out", str(out))  # fmt: skip
    line = _one_error_line(proc)
    assert "--out" in line and ("/proc" in line or "is a file" in line), line


def test_read_only_folder_is_refused_before_any_work(tmp_path: Path) -> None:
    """A real read-only folder (chmod 555); as root permission bits do not stop a write, so the check must
    agree with what really happens: refused where a file cannot be created, accepted where it can."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        writable = _can_create_a_file_in(folder)
        proc = _core("reconstruct", "--checkpoint", str(tmp_path / "missing.pth"), "--images",
                     str(tmp_path / "missing.jpg"), "--out", str(folder / "result.npz"))  # fmt: skip
        line = _one_error_line(proc)
        if writable:  # root: the folder is writable after all, so the next problem is reported
            assert "missing.jpg" in line, line
        else:
            assert "--out" in line and "cannot create files in" in line, line
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def _can_create_a_file_in(folder: Path) -> bool:
    try:
        (folder / "probe").write_bytes(b"")
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


def test_reconstruct_reports_the_real_path_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "RESULT.npz"  # folders that do not exist yet are made at the end
    proc = _core("reconstruct", "--checkpoint", str(TINY_CHECKPOINT), "--device", "cpu", "--no-clean", "--no-refine",
                 "--images", *map(str, PHOTOS[:2]), "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out}:") and out.is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["RESULT.npz"]


def test_checks_in_process(tmp_path: Path, a_file: Path) -> None:
    assert check_output_file(tmp_path / "a" / "b.npz") == tmp_path / "a" / "b.npz"
    assert not (tmp_path / "a").exists()  # checking creates nothing
    assert check_output_folder(tmp_path / "pairs") == tmp_path / "pairs"
    relative = check_output_file("result.npz")
    assert relative.is_absolute() and relative.name == "result.npz"
    with pytest.raises(ConfigError, match="--output .* is a file, not a folder"):
        check_output_file(a_file / "x" / "y.npz", "--output")
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        check_output_file(fifo)
