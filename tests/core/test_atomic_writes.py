"""Writers are atomic: a write killed (kill -9) or interrupted (Ctrl-C) leaves the previous file intact.

The command line runs in a subprocess, as a user runs it, through a launcher that makes numpy's
``write_array`` stop in the middle of a chosen array (after writing a part of it) and wait; the test then
kills or interrupts the process at that exact point, with no timing involved.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli.reconstruct_cmd import resume_folder
from core.io.atomic import atomic_write, save_npz
from core.result import Reconstruction
from tests.cli_support import launch_until, message_lines
from tests.exact_pairs import exact_predictions
from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT

REPO_ROOT = Path(__file__).resolve().parents[2]

# argv: STOP_AT_CALL, then the command line of `python -m core`.
LAUNCHER = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # even when the suite runs with SIGINT ignored (nohup)
import numpy.lib.format as fmt

real_write_array = fmt.write_array
calls = 0

def stopping_write_array(fp, array, *args, **kwargs):
    global calls
    calls += 1
    if calls == STOP_AT:
        fp.write(b"half an array" * 1000)
        print("STOPPED-IN-WRITE", flush=True)
        sys.stdin.readline()  # wait here until the test kills or interrupts us
    return real_write_array(fp, array, *args, **kwargs)

STOP_AT = int(sys.argv[1])
fmt.write_array = stopping_write_array
sys.argv = ["python -m core", *sys.argv[2:]]
from core.cli import main
sys.exit(main())
"""


def _run_until_stopped(stop_at: int, *argv: str) -> subprocess.Popen:
    return launch_until(LAUNCHER, [str(stop_at), *argv], "STOPPED-IN-WRITE", f"write #{stop_at}")


def _reconstruct_args(out: Path) -> list[str]:
    return ["reconstruct", "--checkpoint", str(TINY_CHECKPOINT), "--device", "cpu", "--no-clean", "--no-refine",
            "--images", *map(str, PHOTOS[:2]), "--out", str(out)]  # fmt: skip


@pytest.fixture(scope="module")
def previous_result(tmp_path_factory) -> tuple[Path, bytes]:
    """A RESULT.npz of an earlier run (written by the real command), and its bytes."""
    out = tmp_path_factory.mktemp("previous") / "RESULT.npz"
    proc = subprocess.run([sys.executable, "-m", "core", *_reconstruct_args(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out, out.read_bytes()


def _copy_previous(previous_result, folder: Path) -> Path:
    out = folder / "RESULT.npz"
    out.write_bytes(previous_result[1])
    return out


def test_kill_9_while_writing_result_keeps_the_previous_file(previous_result, tmp_path: Path) -> None:
    out = _copy_previous(previous_result, tmp_path)
    proc = _run_until_stopped(5, *_reconstruct_args(out))  # in the middle of the 5th array
    proc.kill()
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert out.read_bytes() == previous_result[1]
    assert Reconstruction.load_npz(out).num_views == 2
    # the finished pairs stay for --resume (core.cli.reconstruct_cmd.resume_folder); nothing else but a .part
    leftovers = [p.name for p in tmp_path.iterdir() if p not in (out, resume_folder(out))]
    assert all(name.startswith(".RESULT.npz.") and name.endswith(".part") for name in leftovers), leftovers


def test_ctrl_c_while_writing_result_keeps_the_previous_file_and_cleans_up(
    previous_result, tmp_path: Path
) -> None:
    out = _copy_previous(previous_result, tmp_path)
    proc = _run_until_stopped(5, *_reconstruct_args(out))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and message_lines(err) == ["error: interrupted"]
    assert out.read_bytes() == previous_result[1]
    # no temporary file left; the finished pairs stay for --resume
    assert sorted(p.name for p in tmp_path.iterdir()) == [resume_folder(out).name, "RESULT.npz"]


def test_kill_9_while_infer_writes_leaves_no_broken_pair_file(tmp_path: Path) -> None:
    out = tmp_path / "pairs"
    argv = ["infer", "--checkpoint", str(TINY_CHECKPOINT), "--device", "cpu",
            "--images", *map(str, PHOTOS[:2]), "--out", str(out)]  # fmt: skip
    proc = _run_until_stopped(7 + 3, *argv)  # 7 arrays per pair file: inside the second file
    proc.kill()
    proc.wait(timeout=60)
    finals = sorted(out.glob("pair_*.npz"))
    assert len(finals) == 1  # the first file is complete, the second never got its final name
    with np.load(finals[0]) as data:
        assert data["pred1_pts3d"].shape == (224, 224, 3)
    # the next run removes the temporary file of the killed one with the other stale files
    proc = subprocess.run([sys.executable, "-m", "core", *argv], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["pair_0_1.npz", "pair_1_0.npz"]


def test_an_exception_inside_the_write_removes_the_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write(b"new, but not complete")
        raise RuntimeError("disk on fire")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_new_files_get_the_usual_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    save_npz(tmp_path / "a.npz", {"x": np.zeros(3)})
    assert (tmp_path / "a.npz").stat().st_mode & 0o777 == 0o666 & ~mask


def test_save_npz_keeps_the_name_exactly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="npz"):
        save_npz(tmp_path / "result", {"x": np.zeros(3)})  # numpy would write result.npz
    assert list(tmp_path.iterdir()) == []
    save_npz(tmp_path / "upper.NPZ", {"x": np.arange(3)}, compressed=True)
    with np.load(tmp_path / "upper.NPZ") as data:
        np.testing.assert_array_equal(data["x"], [0, 1, 2])


def test_align_writes_its_estimate_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.cli import main

    preds, _ = exact_predictions(3)
    case = tmp_path / "case.npz"
    np.savez(case, edges=np.array([(p.i, p.j) for p in preds]), pred_i=np.stack([p.pts3d_i for p in preds]),
             pred_j=np.stack([p.pts3d_j for p in preds]), conf_i=np.stack([p.conf_i for p in preds]),
             conf_j=np.stack([p.conf_j for p in preds]))  # fmt: skip
    est = tmp_path / "EST.npz"
    est.write_bytes(b"previous estimate")
    real_write_array = np.lib.format.write_array
    calls = []

    def interrupted_write_array(member, array, **kwargs):
        calls.append(array.shape)
        if len(calls) == 3:
            member.write(b"partial")
            raise KeyboardInterrupt
        return real_write_array(member, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", interrupted_write_array)
    assert main(["align", "--input", str(case), "--output", str(est)]) == 130
    assert est.read_bytes() == b"previous estimate"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["EST.npz", "case.npz"]
    monkeypatch.setattr(np.lib.format, "write_array", real_write_array)
    assert main(["align", "--input", str(case), "--output", str(est)]) == 0
    with np.load(est) as data:
        assert data["cam2world"].shape == (3, 4, 4)
