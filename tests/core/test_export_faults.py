"""An ``export --overwrite`` interrupted at any moment leaves the previous export or the new one, byte for
byte, never a mix; a full disk leaves the previous export and nothing else (issue 20).

The export runs in a subprocess, as a user runs it, through a launcher that stops it at a chosen moment
(the k-th file written, the carry-over of the previous export's other files, just before and just after
the staging folder takes the target's place) and waits; the test then kills (``kill -9``) or interrupts
(``SIGINT``) it there, with no timing involved. The full disk is a real one: a small tmpfs mounted for the
test (the tests run as root in CI and here), else an injected ``ENOSPC``.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from core.cli import main
from core.cli.reconstruct_cmd import resume_folder
from core.export import staging
from tests.cli_support import launch_until, message_lines
from tests.core.test_export_scenes import make_result

# argv: MOMENT, then the command line of `python -m core`. MOMENT is "write:K" (entering the K-th file
# write), "carry" (copying the previous export's other files), "swap" (before the exchange) or "swapped"
# (after it, before the previous export is removed).
LAUNCHER = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (nohup)
import core.io.atomic as atomic
import core.export.staging as staging

moment = sys.argv[1]
calls = 0

def pause():
    print("STOPPED-HERE", flush=True)
    sys.stdin.readline()

real_write, real_carry, real_exchange = atomic.atomic_write, staging.carry_over, staging._exchange

def write(path, *args, **kwargs):
    global calls
    calls += 1
    if moment == f"write:{calls}":
        pause()
    return real_write(path, *args, **kwargs)

def carry(*args, **kwargs):
    if moment == "carry":
        pause()
    return real_carry(*args, **kwargs)

def exchange(a, b):
    if moment == "swap":
        pause()
    done = real_exchange(a, b)
    if moment == "swapped":
        pause()
    return done

atomic.atomic_write, staging.carry_over, staging._exchange = write, carry, exchange
sys.argv = ["python -m core", *sys.argv[2:]]
from core.cli import main
sys.exit(main())
"""


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _export_argv(result: Path, out: Path, max_points: int) -> list[str]:
    return ["export", "--input", str(result), "--format", "colmap", "--out", str(out), "--overwrite",
            "--max-points", str(max_points)]  # fmt: skip


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict:
    """A RESULT.npz, the previous export (with a file of the user's in it) and what the new one must be."""
    root = tmp_path_factory.mktemp("exports")
    rec = make_result(root / "photos")
    result = root / "RESULT.npz"
    rec.save_npz(result)
    old = root / "old"
    assert main(_export_argv(result, old, 300)) == 0
    (old / "notes.txt").write_text("the user's notes, kept by an overwrite\n")
    new = root / "new"
    shutil.copytree(old, new)
    assert main(_export_argv(result, new, 900)) == 0
    trees = {"old": _tree(old), "new": _tree(new)}
    assert trees["old"]["points3D.txt"] != trees["new"]["points3D.txt"]
    assert trees["new"]["notes.txt"] == trees["old"]["notes.txt"]
    return {"result": result, "old_folder": old, **trees}


def _stopped(moment: str, argv: list[str]) -> subprocess.Popen:
    return launch_until(LAUNCHER, [moment, *argv], "STOPPED-HERE", moment)


# 6 files (cameras, images, points3D, 3 photos), then the carry-over and the exchange.
MOMENTS = ["write:1", "write:2", "write:3", "write:5", "carry", "swap", "swapped"]


@pytest.mark.parametrize("how", ["kill -9", "Ctrl-C"])
@pytest.mark.parametrize("moment", MOMENTS)
def test_an_interrupted_overwrite_leaves_the_old_export_or_the_new_one(exports, tmp_path, moment, how):
    out = tmp_path / "export"
    shutil.copytree(exports["old_folder"], out)
    proc = _stopped(moment, _export_argv(exports["result"], out, 900))
    if how == "kill -9":
        proc.kill()
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
    else:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130 and err.strip().splitlines() == ["error: interrupted"], err
    expected = "new" if moment == "swapped" else "old"
    assert _tree(out) == exports[expected], f"{how} at {moment}: not the {expected} export"
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p != out)
    if how == "Ctrl-C":
        assert leftovers == []  # a clean failure leaves no staging folder
    else:
        assert all(name.endswith(staging.STAGE_SUFFIX) for name in leftovers), leftovers


def test_the_launcher_works_with_sigint_ignored(exports, tmp_path) -> None:
    """Started as `nohup ... &` starts it (SIGINT ignored), the child still stops on Ctrl-C."""
    out = tmp_path / "export"
    shutil.copytree(exports["old_folder"], out)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = _stopped("write:2", _export_argv(exports["result"], out, 900))
    finally:
        signal.signal(signal.SIGINT, previous)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert _tree(out) == exports["old"]


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs at ``tmp_path / "disk"`` (unmounted afterwards), or None where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def _fill(folder: Path, keep_free: int) -> None:
    """Fill the file system of ``folder`` until about ``keep_free`` bytes are left."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    (folder / f".filler-{uuid.uuid4().hex[:6]}").write_bytes(b"\0" * max(0, free - keep_free))


def test_a_full_disk_during_an_overwrite_keeps_the_old_export(
    exports, tmp_path, small_disk, capsys, monkeypatch
):
    if small_disk is None:  # no tmpfs here: the disk fills up by an injected ENOSPC on the 3rd file
        disk = tmp_path / "disk"
        from core.io import atomic

        calls = {"n": 0}
        real_write = atomic.atomic_write

        def full(path, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            return real_write(path, *args, **kwargs)

        monkeypatch.setattr(atomic, "atomic_write", full)
    else:
        disk = small_disk
    out = disk / "export"
    shutil.copytree(exports["old_folder"], out)
    _fill(disk, keep_free=64 * 1024)  # room for the small model files, not for the photos
    capsys.readouterr()
    assert main(_export_argv(exports["result"], out, 900)) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "No space left on device" in err, err
    assert _tree(out) == exports["old"]
    assert sorted(p.name for p in disk.iterdir() if not p.name.startswith(".filler-")) == ["export"]


def test_a_full_disk_for_a_new_export_leaves_nothing(exports, small_disk, tmp_path, capsys) -> None:
    disk = small_disk or pytest.fail("this test needs a tmpfs (run as root)")
    _fill(disk, keep_free=64 * 1024)
    out = disk / "a" / "b" / "export"
    assert main(_export_argv(exports["result"], out, 900)) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert sorted(p.name for p in disk.iterdir() if not p.name.startswith(".filler-")) == []


def test_a_full_disk_while_reconstruct_writes_its_result_is_one_line(small_disk, capsys) -> None:
    """RESULT.npz on a full disk at the very end of a real run: one line, exit 2, the old file kept."""
    from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT

    disk = small_disk or pytest.fail("this test needs a tmpfs (run as root)")
    out = disk / "RESULT.npz"
    out.write_bytes(b"the previous result")
    _fill(disk, keep_free=16 * 1024)
    argv = ["reconstruct", "--checkpoint", str(TINY_CHECKPOINT), "--device", "cpu", "--no-clean",
            "--images", *map(str, PHOTOS[:2]), "--out", str(out)]  # fmt: skip
    capsys.readouterr()
    assert main(argv) == 2
    err = message_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("error: No space left on device"), err
    assert out.read_bytes() == b"the previous result"
    # no temporary file left; the pairs finished before the disk filled stay for --resume
    kept = sorted(p.name for p in disk.iterdir() if not p.name.startswith(".filler-"))
    assert kept in (["RESULT.npz"], [resume_folder(out).name, "RESULT.npz"]), kept


def test_a_refused_export_leaves_no_folder(exports, tmp_path, capsys) -> None:
    out = tmp_path / "new" / "deeper" / "export"
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert main(["export", "--input", str(bad), "--format", "colmap", "--out", str(out)]) == 2
    assert main(["export", "--input", str(exports["result"]), "--format", "ply", "--out", str(out),
                 "--min-conf", "1e9"]) == 2  # fmt: skip
    assert main(["export", "--input", str(exports["result"]), "--format", "ply", "--out",
                 str(out / "cloud.ply"), "--min-conf", "1e9"]) == 2  # fmt: skip
    assert not (tmp_path / "new").exists()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")  # --images-dir below a file: refused before --out is made
    assert main(["export", "--input", str(exports["result"]), "--format", "colmap", "--out", str(out),
                 "--images-dir", str(blocker / "images")]) == 2  # fmt: skip
    assert not (tmp_path / "new").exists()
    photos = exports["result"].parent / "photos"
    hidden = photos.with_name("photos-away")
    photos.rename(hidden)
    try:
        assert (
            main(["export", "--input", str(exports["result"]), "--format", "colmap", "--out", str(out)]) == 2
        )
    finally:
        hidden.rename(photos)
    assert not (tmp_path / "new").exists()


def test_an_overwrite_through_a_symbolic_link_replaces_the_folder_it_points_to(exports, tmp_path) -> None:
    real = tmp_path / "real"
    shutil.copytree(exports["old_folder"], real)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert main(_export_argv(exports["result"], link, 900)) == 0
    assert link.is_symlink() and _tree(real) == exports["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]
