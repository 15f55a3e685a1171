"""``python -m core export``: the command works end to end, and every bad input is one line on stderr with
exit code 2 (a foreign npz, an unwritable or non-empty folder, no confident point, bad options)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pycolmap
import pytest

from core.cli import main
from tests.conftest import REPO_ROOT
from tests.core.test_export_scenes import make_result


@pytest.fixture
def result_npz(tmp_path):
    rec = make_result(tmp_path / "photos")
    path = tmp_path / "RESULT.npz"
    rec.save_npz(path)
    return rec, path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_command_line_round_trip(result_npz, tmp_path) -> None:
    rec, path = result_npz
    out = tmp_path / "scene" / "sparse" / "0"
    proc = subprocess.run(
        [sys.executable, "-m", "core", "export", "--input", str(path), "--format", "colmap-bin", "--out",
         str(out), "--images-dir", str(tmp_path / "scene" / "images"), "--max-points", "1000"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "3 images, 3 cameras, 1000 points" in proc.stdout
    model = pycolmap.Reconstruction(str(out))
    assert model.num_points3D() == 1000
    for image in model.images.values():
        assert (tmp_path / "scene" / "images" / image.name).is_file()
    np.testing.assert_allclose(
        model.image(1).cam_from_world().matrix(), np.linalg.inv(rec.world_from_cam[0])[:3], atol=1e-6
    )


def test_foreign_npz_is_refused(tmp_path, capsys) -> None:
    np.savez(tmp_path / "other.npz", pts3d=np.zeros((2, 3)))
    assert (
        main(
            [
                "export",
                "--input",
                str(tmp_path / "other.npz"),
                "--format",
                "ply",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "is not a RESULT.npz (it lacks image_paths, cam2world" in _one_line_error(capsys)
    (tmp_path / "text.npz").write_text("hello")
    assert (
        main(
            ["export", "--input", str(tmp_path / "text.npz"), "--format", "ply", "--out", str(tmp_path / "o")]
        )
        == 2
    )
    assert "not a readable .npz" in _one_line_error(capsys)
    assert (
        main(
            ["export", "--input", str(tmp_path / "none.npz"), "--format", "ply", "--out", str(tmp_path / "o")]
        )
        == 2
    )
    assert "not found" in _one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_unwritable_folder_is_refused(result_npz, tmp_path, capsys) -> None:
    _, path = result_npz
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for fmt in ("colmap", "ply"):
        assert main(["export", "--input", str(path), "--format", fmt, "--out", str(blocker / "out")]) == 2
        assert f"{blocker / 'out'} cannot be written" in _one_line_error(capsys)
    assert main(["export", "--input", str(path), "--format", "nerfstudio", "--out", str(blocker)]) == 2
    assert "is a file, not a folder" in _one_line_error(capsys)


def test_non_empty_folder_needs_overwrite(result_npz, tmp_path, capsys) -> None:
    _, path = result_npz
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    args = ["export", "--input", str(path), "--format", "nerfstudio", "--out", str(out)]
    assert main(args) == 2
    err = _one_line_error(capsys)
    assert "is not empty" in err and "pass --overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main([*args, "--overwrite"]) == 0
    assert (out / "transforms.json").is_file() and (out / "notes.txt").read_text() == "mine"
    # an existing .ply file is also kept unless --overwrite
    ply = tmp_path / "cloud.ply"
    ply.write_text("old")
    assert main(["export", "--input", str(path), "--format", "ply", "--out", str(ply)]) == 2
    assert "exists" in _one_line_error(capsys)
    assert main(["export", "--input", str(path), "--format", "ply", "--out", str(ply), "--overwrite"]) == 0
    assert ply.read_bytes().startswith(b"ply\n")


def test_zero_confident_points(result_npz, tmp_path, capsys) -> None:
    _, path = result_npz
    # COLMAP and nerfstudio: cameras and images without points, and a warning
    assert (
        main(
            [
                "export",
                "--input",
                str(path),
                "--format",
                "colmap",
                "--out",
                str(tmp_path / "c"),
                "--min-conf",
                "50",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert (
        "warning: no point is above the confidence threshold" in captured.err and "0 points" in captured.out
    )
    model = pycolmap.Reconstruction(str(tmp_path / "c"))
    assert model.num_images() == 3 and model.num_points3D() == 0
    assert (
        main(
            [
                "export",
                "--input",
                str(path),
                "--format",
                "nerfstudio",
                "--out",
                str(tmp_path / "n"),
                "--min-conf",
                "50",
            ]
        )
        == 0
    )
    assert "ply_file_path" not in (tmp_path / "n" / "transforms.json").read_text()
    assert not (tmp_path / "n" / "points3D.ply").exists()
    capsys.readouterr()
    # PLY: nothing to write is an error that says what to change
    assert (
        main(
            [
                "export",
                "--input",
                str(path),
                "--format",
                "ply",
                "--out",
                str(tmp_path / "p"),
                "--min-conf",
                "50",
            ]
        )
        == 2
    )
    assert "no point has a confidence above 50 (the highest is 8): lower --min-conf" in _one_line_error(
        capsys
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max-points", "0"], "--max-points must be at least 1"),
        (["--min-conf", "nan"], "--min-conf must be a finite number"),
        (["--format", "ply", "--images-dir", "x"], "--images-dir applies to the colmap"),
    ],
)
def test_bad_options(result_npz, tmp_path, capsys, extra, message) -> None:
    _, path = result_npz
    args = ["export", "--input", str(path), "--format", "colmap", "--out", str(tmp_path / "o"), *extra]
    assert main(args) == 2
    assert message in _one_line_error(capsys)


def test_missing_photo_is_one_line(result_npz, tmp_path, capsys) -> None:
    rec, path = result_npz
    (tmp_path / "photos" / "photo 1.png").unlink()
    assert main(["export", "--input", str(path), "--format", "colmap", "--out", str(tmp_path / "o")]) == 2
    assert "photo not found" in _one_line_error(capsys)
    assert main(["export", "--input", str(path), "--format", "ply", "--out", str(tmp_path / "p.ply")]) == 0
