"""Hostile inputs in Blender (issue 20): a crafted RESULT.npz never brings a local file into the .blend,
damaged files are one report with bpy.data untouched, non-UTF-8 file names work end to end, and folders
that are traps (a symbolic-link loop, a PNG whose header claims 20000x20000) are one report."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.hostile_npz import bad_crc, lying_header, rewrite

CHECKPOINT_224 = (
    Path(__file__).resolve().parents[2] / "tests" / "data" / "tiny_linear_224" / "tiny_linear_224.pth"
)


def _cameras():
    return sorted(
        (o for o in bpy.data.objects if o.get("dust3r_role") == "camera"), key=lambda o: o["dust3r_index"]
    )


@pytest.mark.parametrize("target", ["text file", "other size", "truncated", "folder", "device"])
def test_a_result_naming_a_file_that_is_not_its_photo_never_loads_it(
    addon, synthetic_result, tmp_path, capfd, target
) -> None:
    recon, _case, path = synthetic_result("room", n=2, size=(48, 36))
    secret = tmp_path / "token.txt"
    secret.write_text("SECRET-TOKEN-1234\n")
    other = tmp_path / "other.png"
    from PIL import Image

    Image.new("RGB", (64, 64)).save(other)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(Path(recon.image_paths[1]).read_bytes()[:200])
    named = {"text file": secret, "other size": other, "truncated": truncated, "folder": tmp_path,
             "device": Path("/dev/zero")}[target]  # fmt: skip
    crafted = rewrite(
        path, tmp_path / "crafted.npz", {"image_paths": np.array([str(named), recon.image_paths[1]])}
    )
    capfd.readouterr()
    assert bpy.ops.dust3r.import_result(filepath=str(crafted)) == {"FINISHED"}
    cams = _cameras()
    assert len(cams) == 2
    assert len(cams[0].data.background_images) == 0  # skipped...
    assert cams[1].data.background_images[0].image is not None  # ...the real photo is still shown
    loaded = {os.path.realpath(bpy.path.abspath(i.filepath)) for i in bpy.data.images if i.filepath}
    assert str(named.resolve()) not in loaded
    out = capfd.readouterr().out
    assert named.name in out or "not found" in out  # named in a warning


def _footage_result(recon, path: Path, tmp_path: Path) -> Path:
    """A footage result (fps > 0) made from an ordinary one."""
    n = recon.num_views
    return rewrite(
        path, tmp_path / "footage.npz", {"fps": np.float64(24.0), "frame_numbers": np.arange(1, n + 1)}
    )


@pytest.mark.parametrize(
    "arrays, words",
    [
        ({"frame_status": np.full((2, 2), "reconstructed")}, "frame_status must have shape"),
        ({"fps_rational": np.array([24, 1, 5])}, "fps_rational must have shape"),
        ({"fps_rational": np.array([24 + 1j, 1])}, "fps_rational has dtype"),
        ({"footage_path": np.array(["a", "b"])}, "footage_path must have shape"),
        ({"footage_kind": np.float64(3.0)}, "footage_kind has dtype"),
        ({"sensor_width_mm": np.array("wide")}, "sensor_width_mm has dtype"),
        ({"focal_mm": np.array([35.0, 50.0])}, "focal_mm must have shape"),
        ({"messages": np.zeros((2, 2), dtype=str)}, "messages must be a 1-D array"),
    ],
)
def test_footage_keys_of_the_wrong_shape_or_type_are_one_report(
    addon, synthetic_result, tmp_path, data_state, arrays, words
) -> None:
    recon, _case, path = synthetic_result("room", n=2, size=(48, 36))
    footage = _footage_result(recon, path, tmp_path)
    bad = rewrite(footage, tmp_path / "bad_footage.npz", arrays)
    before = data_state()
    with pytest.raises(RuntimeError, match=words):
        bpy.ops.dust3r.import_result(filepath=str(bad))
    assert data_state() == before


@pytest.mark.parametrize(
    "case", ["huge header", "bad CRC", "complex cam2world", "0-d image_paths", "no view"]
)
def test_damaged_results_are_one_report_and_nothing_built(
    addon, synthetic_result, tmp_path, data_state, case
):
    recon, _case, path = synthetic_result("room", n=2, size=(48, 36))
    bad = tmp_path / "bad.npz"
    if case == "huge header":
        rewrite(path, bad, raw={"pts3d_0": lying_header((10**6, 10**6, 3))})
    elif case == "bad CRC":
        bad_crc(path, bad)
    elif case == "complex cam2world":
        rewrite(path, bad, {"cam2world": recon.world_from_cam.astype(np.complex128)})
    elif case == "0-d image_paths":
        rewrite(path, bad, {"image_paths": np.array(recon.image_paths[0])})
    else:
        rewrite(path, bad, {"image_paths": np.array([], dtype=str)})
    before = data_state()
    with pytest.raises(RuntimeError, match="RESULT.npz|readable|damaged|not a valid DUSt3R result"):
        bpy.ops.dust3r.import_result(filepath=str(bad))
    assert data_state() == before


def test_a_latin_1_photo_name_imports_end_to_end(addon, synthetic_result, tmp_path, capfd) -> None:
    recon, _case, path = synthetic_result("room", n=2, size=(48, 36))
    source = Path(recon.image_paths[0])
    latin = Path(os.fsdecode(os.fsencode(str(source.parent)) + b"/caf\xe9.png"))
    source.rename(latin)
    result = rewrite(
        path, tmp_path / "latin.npz", {"image_paths": np.array([str(latin), recon.image_paths[1]])}
    )
    capfd.readouterr()
    assert bpy.ops.dust3r.import_result(filepath=str(result)) == {"FINISHED"}
    cams = _cameras()
    assert "café" in cams[0].name
    assert cams[0].data.background_images[0].image is not None
    assert "Traceback" not in capfd.readouterr().err


def _png_header_claiming(path: Path, width: int, height: int) -> None:
    """A PNG file whose IHDR says ``width x height`` (a few bytes of data: a decompression trap)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)))


def test_folders_that_are_traps_are_one_report(addon, tmp_path, data_state, capfd) -> None:
    photos = addon.submodule("jobs.photos")
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop")
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    _png_header_claiming(bomb / "huge.png", 20000, 20000)
    assert photos.folder_photos(str(loop)) == ([], 0)  # the sidebar's chooser: no traceback
    listed, _skipped = photos.folder_photos(str(bomb))
    assert listed is not None
    bpy.context.scene.dust3r.directory = str(loop)  # the update callback of the sidebar's folder field
    bpy.context.scene.dust3r.directory = str(bomb)
    assert "Traceback" not in capfd.readouterr().err
    before = data_state()
    for folder in (loop, bomb):
        with pytest.raises(RuntimeError) as info:
            bpy.ops.dust3r.reconstruct(
                directory=str(folder), checkpoint=str(CHECKPOINT_224), image_size="224"
            )
        text = str(info.value)
        assert "internal error" not in text and "Traceback" not in text, text
    assert data_state() == before


def test_a_folder_with_a_latin_1_photo_name_reconstructs(addon, tmp_path) -> None:
    """The whole job on a folder whose photo names are Latin-1 bytes, then the scene is built."""
    import shutil

    examples = sorted((Path(__file__).resolve().parents[2] / "examples" / "photos").glob("*.jpg"))[:2]
    folder = tmp_path / "photos"
    folder.mkdir()
    for k, photo in enumerate(examples):
        shutil.copy(photo, os.fsdecode(os.fsencode(str(folder)) + f"/caf{k}".encode() + b"\xe9.jpg"))
    result = bpy.ops.dust3r.reconstruct(
        directory=str(folder),
        checkpoint=str(CHECKPOINT_224),
        image_size="224",
        device="cpu",
        clean_depth=False,
    )
    assert result == {"FINISHED"}
    cams = _cameras()
    assert len(cams) == 2 and all("é" in c.name for c in cams)
    assert all(c.data.background_images[0].image is not None for c in cams)


@pytest.mark.parametrize("problem", ["integer weights", "nested config.json"])
def test_a_checkpoint_the_user_got_wrong_is_not_an_internal_error(
    addon, tmp_path, data_state, problem
) -> None:
    import torch

    checkpoint = torch.load(CHECKPOINT_224, map_location="cpu", weights_only=False)
    if problem == "integer weights":
        path = tmp_path / "int.pth"
        checkpoint["model"] = {k: v.to(torch.int32) for k, v in checkpoint["model"].items()}
        torch.save(checkpoint, path)
    else:
        path = tmp_path / "pytorch_model.pth"
        torch.save(checkpoint["model"], path)
        (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    photos = sorted((Path(__file__).resolve().parents[2] / "examples" / "photos").glob("*.jpg"))[:2]
    before = data_state()
    with pytest.raises(RuntimeError) as info:
        bpy.ops.dust3r.reconstruct(
            directory=str(photos[0].parent), files=[{"name": p.name} for p in photos], checkpoint=str(path),
            image_size="224", device="cpu",
        )  # fmt: skip
    text = str(info.value)
    assert "internal error" not in text and ("floating-point" in text or "config.json" in text), text
    assert data_state() == before


def test_a_missing_latin_1_photo_is_reported_without_a_traceback(
    addon, synthetic_result, tmp_path, capfd
) -> None:
    """The warnings name the photo: a name that is not UTF-8 must still reach the report."""
    recon, _case, path = synthetic_result("room", n=2, size=(48, 36))
    latin = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/gone/caf\xe9.png"))
    result = rewrite(
        path, tmp_path / "latin.npz", {"image_paths": np.array([str(latin), recon.image_paths[1]])}
    )
    capfd.readouterr()
    assert bpy.ops.dust3r.import_result(filepath=str(result)) == {"FINISHED"}
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "café.png" in captured.out
    assert len(_cameras()[0].data.background_images) == 0
