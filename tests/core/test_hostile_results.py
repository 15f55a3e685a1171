"""Crafted and damaged RESULT.npz files, hostile photo paths and hostile output names (issue 20).

Every case goes through the real command line (``core.cli.main``) and must end with ONE line on stderr and
exit code 2, nothing written: a result is checked in one place (``core.result_file``) before anything
uses it, the photos it names are decoded and measured before they are copied, and an output name the file
system cannot hold is refused before any work.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.result import ResultFileError, read_result
from core.result_file import MIN_INFLATE_BUDGET
from tests.core.test_export_scenes import make_result
from tests.hostile_npz import bad_crc, lying_header, rewrite, zip_bomb


@pytest.fixture
def good(tmp_path) -> tuple:
    rec = make_result(tmp_path / "photos")
    path = tmp_path / "RESULT.npz"
    rec.save_npz(path)
    return rec, path


def _export(capsys, result: Path, out: Path, fmt: str = "colmap", *extra: str) -> str:
    """Run the export; assert exit 2 with one line and no traceback; return that line."""
    capsys.readouterr()
    code = main(["export", "--input", str(result), "--format", fmt, "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _n(rec) -> int:
    return rec.num_views


CRAFTED = {
    # name: (arrays to put in, members to drop, raw members, expected words)
    "no view": (
        lambda r: {
            "image_paths": np.array([], dtype=str),
            "cam2world": np.zeros((0, 4, 4)),
            "K_photo": np.zeros((0, 3, 3)),
            "K_net": np.zeros((0, 3, 3)),
            "photo_size": np.zeros((0, 2), np.int64),
            "net_size": np.zeros((0, 2), np.int64),
        },
        "holds no view",
    ),
    "0-d image_paths": (lambda r: {"image_paths": np.array("/x.png")}, "image_paths must be a 1-D array"),
    "numeric image_paths": (lambda r: {"image_paths": np.arange(_n(r))}, "image_paths must be a 1-D array"),
    "complex cam2world": (
        lambda r: {"cam2world": r.world_from_cam.astype(np.complex128)},
        "cam2world has dtype complex128",
    ),
    "text K_photo": (lambda r: {"K_photo": np.full((_n(r), 3, 3), "1")}, "K_photo has dtype"),
    "2-D cam2world": (lambda r: {"cam2world": np.eye(4)}, "cam2world must have shape"),
    "NaN cam2world": (lambda r: {"cam2world": r.world_from_cam * np.nan}, "NaN or infinite"),
    "inf K_photo": (
        lambda r: {"K_photo": np.where(np.eye(3, dtype=bool), np.inf, r.K_photo)},
        "K_photo of view 0 holds NaN or infinite",
    ),
    "NaN K_net": (lambda r: {"K_net": r.K_net * np.nan}, "K_net of view 0 holds NaN"),
    "negative focal": (
        lambda r: {"K_photo": r.K_photo * np.array([-1, 1, 1])[:, None]},
        "focal length that is not positive",
    ),
    "zero focal K_net": (lambda r: {"K_net": r.K_net * np.array([0, 1, 1])[:, None]}, "not positive"),
    "0x0 view": (
        lambda r: (
            {"net_size": np.zeros((_n(r), 2), np.int64)}
            | {
                f"{name}_{k}": np.zeros((0, 0, 3)[:ndim], np.float32)
                for k in range(_n(r))
                for name, ndim in (("depth", 2), ("conf", 2), ("pts3d", 3), ("colors", 3))
            }
        ),  # fmt: skip
        "not a valid RESULT.npz",
    ),
    "NaN dist": (lambda r: {"dist": np.full((_n(r), 2), np.nan)}, "dist of view 0 holds NaN"),
    "fps as text": (lambda r: {"fps": np.array("25")}, "fps has dtype"),
    "frame_status 2-D": (
        lambda r: {"frame_status": np.full((_n(r), 2), "x")},
        "frame_status must have shape",
    ),
    "fps_rational complex": (lambda r: {"fps_rational": np.array([1 + 1j, 2])}, "fps_rational has dtype"),
    "footage_path numeric": (lambda r: {"footage_path": np.arange(3)}, "footage_path has dtype"),
    "sensor width as text": (lambda r: {"sensor_width_mm": np.array("36")}, "sensor_width_mm has dtype"),
    "complex depth": (lambda r: {"depth_0": r.depth[0].astype(np.complex64)}, "depth_0 has dtype complex64"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_results_are_refused_in_one_line(good, tmp_path, capsys, case) -> None:
    rec, path = good
    make, words = CRAFTED[case]
    crafted = rewrite(path, tmp_path / "crafted.npz", make(rec))
    err = _export(capsys, crafted, tmp_path / "out")
    assert words in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ResultFileError):
        read_result(crafted)


@pytest.mark.parametrize(
    "member, shape",
    [("cam2world", (10**6, 4, 4)), ("depth_0", (10**6, 10**6)), ("pts3d_1", (2**31, 2**31, 3))],
)
def test_a_header_claiming_hundreds_of_gb_is_refused_before_allocating(good, tmp_path, capsys, member, shape):
    _, path = good
    crafted = rewrite(path, tmp_path / "huge.npz", raw={member: lying_header(shape)})
    assert "damaged or crafted" in _export(capsys, crafted, tmp_path / "out")


def test_an_oversized_npy_header_is_refused(good, tmp_path, capsys) -> None:
    _, path = good
    header = b"\x93NUMPY\x01\x00" + (60000).to_bytes(2, "little") + b"{" + b" " * 59998 + b"\n"
    crafted = rewrite(path, tmp_path / "header.npz", raw={"cam2world": header})
    assert "not a readable .npz" in _export(capsys, crafted, tmp_path / "out")


def test_a_bad_crc_is_one_clear_error(good, tmp_path, capsys) -> None:
    _, path = good
    for member in ("cam2world", "depth_1"):
        crafted = bad_crc(path, tmp_path / f"crc_{member}.npz", member)
        err = _export(capsys, crafted, tmp_path / "out")
        assert "damaged" in err or "not a readable" in err
        assert "CRC" in err


def test_truncated_and_foreign_files(good, tmp_path, capsys) -> None:
    _, path = good
    truncated = tmp_path / "cut.npz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert "not a readable .npz" in _export(capsys, truncated, tmp_path / "out")
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    assert "not a readable .npz" in _export(capsys, text, tmp_path / "out")
    other = rewrite(path, tmp_path / "extra.npz", raw={"readme.txt"[:-4]: b"plain text"})
    assert "not a readable .npz" in _export(capsys, other, tmp_path / "out")


def test_a_zip_bomb_is_refused_before_it_is_inflated(good, tmp_path, capsys) -> None:
    _, path = good
    bomb = zip_bomb(path, tmp_path / "bomb.npz", gib=1.25 * MIN_INFLATE_BUDGET / 2**30)
    assert bomb.stat().st_size < MIN_INFLATE_BUDGET / 100
    assert "would inflate to" in _export(capsys, bomb, tmp_path / "out")


def test_a_result_naming_a_text_file_as_a_photo_is_not_exported(good, tmp_path, capsys) -> None:
    rec, path = good
    secret = tmp_path / "token.txt"
    secret.write_text("SECRET-TOKEN-1234\n")
    cases = {
        "text file": str(secret),
        "folder": str(tmp_path),
        "device": "/dev/zero",
        "other photo size": rec.image_paths[1],
    }
    for name, target in cases.items():
        paths = list(rec.image_paths)
        paths[0] = target
        crafted = rewrite(path, tmp_path / "crafted.npz", {"image_paths": np.array(paths)})
        for fmt in ("colmap", "nerfstudio"):
            out = tmp_path / f"out_{fmt}"
            err = _export(capsys, crafted, out, fmt)
            assert "not" in err, name
            assert not out.exists(), name
    assert not any(
        b"SECRET-TOKEN" in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p != secret
    )


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_truncated_photo_is_refused(tmp_path, capsys, suffix) -> None:
    rec = make_result(tmp_path / "photos", suffix=suffix)
    path = tmp_path / "RESULT.npz"
    rec.save_npz(path)
    photo = Path(rec.image_paths[2])
    photo.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])
    assert "truncated" in _export(capsys, path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["export", "reconstruct", "infer"])
def test_overlong_output_names_are_refused_up_front(good, tmp_path, capsys, command) -> None:
    _, path = good
    long_name = "x" * 300 + (".npz" if command == "reconstruct" else "")
    deep = tmp_path.joinpath(*(["d" * 200] * 25))  # > PATH_MAX
    for out in (tmp_path / long_name, deep / "r.npz"):
        capsys.readouterr()
        if command == "export":
            argv = ["export", "--input", str(path), "--format", "colmap", "--out", str(out)]
        else:
            argv = [command, "--checkpoint", "/nonexistent.pth", "--images", *map(str, good[0].image_paths)]
            argv += ["--out", str(out)]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and ("bytes long" in err), err


def test_a_250_character_name_is_accepted_and_written(good, tmp_path) -> None:
    rec, path = good
    name = "r" * 246 + ".npz"  # 250 bytes: the file system takes it, and so must the temporary name
    rec.save_npz(tmp_path / name)
    assert read_result(tmp_path / name).num_views == rec.num_views
    assert (
        main(["export", "--input", str(path), "--format", "ply", "--out", str(tmp_path / ("p" * 250))]) == 0
    )
    assert (
        main(
            ["export", "--input", str(path), "--format", "ply", "--out", str(tmp_path / ("q" * 246 + ".ply"))]
        )
        == 0
    )


def test_a_symlink_loop_among_the_photos_is_one_line(good, tmp_path, capsys) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    argv = ["reconstruct", "--checkpoint", "/nonexistent.pth", "--out", str(tmp_path / "r.npz"), "--images",
            str(tmp_path / "a"), *good[0].image_paths[:2]]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and ("loop" in err or "not found" in err or "not a file" in err), err


def test_exported_files_take_the_umask(good, tmp_path) -> None:
    _, path = good
    old = os.umask(0o022)
    try:
        out = tmp_path / "out"
        assert main(["export", "--input", str(path), "--format", "colmap", "--out", str(out)]) == 0
        modes = {p.relative_to(out).as_posix(): p.stat().st_mode & 0o777 for p in out.rglob("*")}
    finally:
        os.umask(old)
    assert modes and all(m == (0o755 if (out / n).is_dir() else 0o644) for n, m in modes.items()), modes
    assert (out.stat().st_mode & 0o777) == 0o755


def test_a_latin_1_photo_name_exports_in_every_format(good, tmp_path) -> None:
    """A photo whose name is not UTF-8 (``café`` written in Latin-1): the export names its copy in UTF-8,
    and the model names that copy."""
    import json

    rec, path = good
    latin = Path(os.fsdecode(str(Path(rec.image_paths[0]).parent).encode() + b"/caf\xe9 0.png"))
    Path(rec.image_paths[0]).rename(latin)
    crafted = rewrite(
        path, tmp_path / "latin.npz", {"image_paths": np.array([str(latin), *rec.image_paths[1:]])}
    )
    for fmt in ("colmap", "colmap-bin", "nerfstudio"):
        out = tmp_path / fmt
        assert main(["export", "--input", str(crafted), "--format", fmt, "--out", str(out)]) == 0
        assert (out / "images" / "café_0.png").read_bytes() == latin.read_bytes()
    assert "café_0.png" in (tmp_path / "colmap" / "images.txt").read_text(encoding="utf-8")
    frames = json.loads((tmp_path / "nerfstudio" / "transforms.json").read_text(encoding="utf-8"))["frames"]
    assert frames[0]["file_path"] == "images/café_0.png"


@pytest.mark.parametrize("exif_mm", [65535.0, 6000.0, 0.5, 0.01])
def test_an_absurd_exif_focal_is_ignored_with_a_warning(exif_mm, caplog) -> None:
    """EXIF FocalLengthIn35mmFilm outside the range --focal-mm accepts (core.config.FOCAL_MM_RANGE) is not
    trusted: that view's focal is estimated, and the log says so; a sane one beside it is kept."""
    from core.config import FOCAL_MM_RANGE, ReconstructConfig
    from core.geometry.photo import PhotoCrop
    from core.jobs.photos import focal_priors

    crop = PhotoCrop(
        photo_size=(4000, 3000), resized_size=(512, 384), crop_offset=(0, 0), net_size=(512, 384)
    )
    config = ReconstructConfig(focal_prior="exif")
    with caplog.at_level("WARNING"):
        known = focal_priors([crop, crop], [exif_mm, 26.0], config)
    assert not FOCAL_MM_RANGE[0] <= exif_mm <= FOCAL_MM_RANGE[1]
    assert known[0] is None and known[1] is not None and 100 < known[1] < 2000
    assert "ignoring the EXIF focal length" in caplog.text and f"{exif_mm:g}" in caplog.text


@pytest.mark.parametrize("name", ["frame_0001.jpg", "plate.1001.png", "still.JPEG"])
def test_video_given_an_image_is_refused(tmp_path, capsys, name) -> None:
    from PIL import Image

    for k in (1, 2):  # a neighbour: the image would have been taken as a 2-frame sequence
        Image.new("RGB", (64, 48)).save(tmp_path / name.replace("1", str(k), 1), format="PNG")
    image = tmp_path / name
    Image.new("RGB", (64, 48)).save(image, format="PNG")
    argv = [
        "reconstruct",
        "--checkpoint",
        "/nonexistent.pth",
        "--video",
        str(image),
        "--out",
        str(tmp_path / "r.npz"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "is an image, not a video" in err and "\n" not in err


def _tiny_state_dict():
    import torch

    from tests.pipeline_support import TINY_CHECKPOINT

    return torch.load(
        Path(TINY_CHECKPOINT) / "tiny_linear_224.pth" if Path(TINY_CHECKPOINT).is_dir() else TINY_CHECKPOINT,
        map_location="cpu",
        weights_only=False,
    )


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "complex64"])
def test_a_checkpoint_with_non_float_weights_is_one_line(tmp_path, capsys, dtype) -> None:
    import torch

    checkpoint = _tiny_state_dict()
    name = next(iter(checkpoint["model"]))
    checkpoint["model"][name] = checkpoint["model"][name].to(getattr(torch, dtype))
    path = tmp_path / "int.pth"
    torch.save(checkpoint, path)
    photos = [
        str(p)
        for p in sorted((Path(__file__).resolve().parents[2] / "examples" / "photos").glob("*.jpg"))[:2]
    ]
    assert (
        main(
            [
                "infer",
                "--checkpoint",
                str(path),
                "--device",
                "cpu",
                "--images",
                *photos,
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "must be floating-point numbers" in err and "\n" not in err and "internal error" not in err, err


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_deeply_nested_config_json_is_one_line(tmp_path, capsys, depth) -> None:
    import torch

    folder = tmp_path / "hf"
    folder.mkdir()
    torch.save(_tiny_state_dict()["model"], folder / "pytorch_model.pth")
    (folder / "config.json").write_text("[" * depth + "]" * depth)
    photos = [
        str(p)
        for p in sorted((Path(__file__).resolve().parents[2] / "examples" / "photos").glob("*.jpg"))[:2]
    ]
    argv = [
        "infer",
        "--checkpoint",
        str(folder / "pytorch_model.pth"),
        "--device",
        "cpu",
        "--images",
        *photos,
    ]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "config.json" in err and "Traceback" not in err, err


def test_refine_warnings_are_printed_once(tmp_path) -> None:
    """`reconstruct --refine` with the tiny model keeps every view as aligned (no correspondences): each view's
    warning is shown once, not once by the pipeline's log and again by the command."""
    import subprocess
    import sys

    from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT

    argv = [sys.executable, "-m", "core", "reconstruct", "--checkpoint", str(TINY_CHECKPOINT), "--device", "cpu",
            "--no-clean", "--refine", "--images", *map(str, PHOTOS), "--out", str(tmp_path / "r.npz")]  # fmt: skip
    proc = subprocess.run(
        argv, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    names = [Path(p).name for p in PHOTOS]
    counts = {name: text.count(f"{name}: kept:") for name in names}
    assert counts == dict.fromkeys(names, 1), text
