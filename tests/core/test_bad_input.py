"""Bad input found by trying what a careful user might type (issue 11, item 6): one clear line, exit 2.

The command-line cases run ``python -m core`` in a subprocess, as a user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main as cli_main
from core.config import AlignConfig, InferenceConfig, ReconstructConfig
from core.errors import AlignmentError, Cancelled, ConfigError, ImageError
from core.inference.images import GIF_REASON, MIN_PHOTO_SIDE, list_photos, load_image
from tests.cli_support import message_lines
from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT

REPO_ROOT = Path(__file__).resolve().parents[2]


def _core(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *argv], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = message_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def _reconstruct(tmp_path: Path, *extra: str, images=None, checkpoint=TINY_CHECKPOINT):
    images = [str(p) for p in (images or PHOTOS[:2])]
    return _core("reconstruct", "--checkpoint", str(checkpoint), "--device", "cpu", "--no-refine", "--images", *images,
                 "--out", str(tmp_path / "r.npz"), *extra)  # fmt: skip


# --- numbers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e-300", "1e300", "0", "0.5", "5001"])
def test_absurd_focal_mm_is_refused_before_any_work(tmp_path: Path, value: str) -> None:
    line = _one_error_line(_reconstruct(tmp_path, f"--focal-mm={value}", checkpoint=tmp_path / "none.pth"))
    assert "focal length must be between 1 and 5000 mm" in line, line


def test_sane_focal_mm_bounds_are_accepted() -> None:
    for focal in (1.0, 24.0, 5000.0):
        assert ReconstructConfig(focal_prior="mm", focal_mm=focal).focal_mm == focal


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_min_conf_must_be_a_finite_number(tmp_path: Path, value: str) -> None:
    line = _one_error_line(_reconstruct(tmp_path, f"--min-conf={value}", checkpoint=tmp_path / "none.pth"))
    assert "minimum confidence must be a finite number" in line
    line = _one_error_line(_core("align", "--input", "x.npz", "--output", str(tmp_path / "e.npz"),
                                 f"--min-conf={value}"))  # fmt: skip
    assert "minimum confidence must be a finite number" in line


def test_known_focals_must_be_finite() -> None:
    with pytest.raises(ConfigError, match="finite"):
        AlignConfig(known_focals=(float("inf"), None))


# --- files that are not what they seem ---------------------------------------------------------------------


def test_fifo_checkpoint_is_refused_instead_of_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "model.pth"
    os.mkfifo(fifo)
    line = _one_error_line(_core("infer", "--checkpoint", str(fifo), "--images", str(PHOTOS[0]),
                                 "--out", str(tmp_path / "o"), timeout=60))  # fmt: skip
    assert "not a regular file" in line and "model.pth" in line
    folder = tmp_path / "folder"  # a folder whose single .pth is a FIFO has no checkpoint
    folder.mkdir()
    os.mkfifo(folder / "only.pth")
    line = _one_error_line(_core("infer", "--checkpoint", str(folder), "--images", str(PHOTOS[0]),
                                 "--out", str(tmp_path / "o"), timeout=60))  # fmt: skip
    assert "is not a checkpoint" in line


def test_a_one_pixel_photo_is_refused_by_name_before_the_model_loads(tmp_path: Path) -> None:
    tiny = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tiny)
    line = _one_error_line(_reconstruct(tmp_path, images=[PHOTOS[0], tiny], checkpoint=tmp_path / "no.pth"))
    assert "dot.png" in line and "1x1 pixels is too small" in line and f"at least {MIN_PHOTO_SIDE}" in line


def _animation(path: Path, fmt: str, frames: int = 3) -> Path:
    images = [Image.new("RGB", (96, 72), (40 * k, 100, 200)) for k in range(frames)]
    images[0].save(path, format=fmt, save_all=frames > 1, append_images=images[1:])
    return path


@pytest.mark.parametrize(("name", "fmt"), [("clip.gif", "GIF"), ("clip.png", "PNG"), ("clip.webp", "WEBP")])
def test_animations_are_footage_for_both_the_listing_and_the_loader(tmp_path: Path, name, fmt) -> None:
    path = _animation(tmp_path / name, fmt)
    listing = list_photos(tmp_path)
    assert listing.photos == []
    ((skipped, reason),) = listing.skipped
    assert skipped == path
    with pytest.raises(ImageError) as info:
        load_image(path, 224)
    assert str(info.value) == f"{path}: {reason}"  # the same words in the sidebar and on the command line


def test_a_still_gif_is_refused_by_both_too(tmp_path: Path) -> None:
    path = _animation(tmp_path / "still.gif", "GIF", frames=1)
    assert list_photos(tmp_path).skipped == [(path, GIF_REASON)]
    line = _one_error_line(_reconstruct(tmp_path, images=[PHOTOS[0], path], checkpoint=tmp_path / "no.pth"))
    assert "still.gif" in line and "GIF is not a photo format" in line
    proc = _core(
        "infer", "--checkpoint", str(tmp_path / "no.pth"), "--images", str(path), "--out", str(tmp_path / "o")
    )
    assert "GIF is not a photo format" in _one_error_line(proc)  # infer too, before the model loads


def test_still_png_webp_and_multipage_tiff_are_photos(tmp_path: Path) -> None:
    for name, fmt in (("a.png", "PNG"), ("b.webp", "WEBP")):
        _animation(tmp_path / name, fmt, frames=1)
    _animation(tmp_path / "c.tif", "TIFF", frames=2)  # pages, not frames: the first page is the photo
    assert [p.name for p in list_photos(tmp_path).photos] == ["a.png", "b.webp", "c.tif"]
    assert load_image(tmp_path / "c.tif", 224).rgb[0, 0].tolist() == [0, 100, 200]


# --- pipeline ----------------------------------------------------------------------------------------------


def test_cancel_during_the_clean_up_stops_the_job(tiny_model) -> None:
    from core.jobs.photos import reconstruct

    cancel = threading.Event()
    stages: list[str] = []

    def progress(stage: str, fraction: float) -> None:
        stages.append(stage)
        if stage == "Cleaning point cloud":
            cancel.set()

    config = ReconstructConfig(inference=InferenceConfig(device="cpu"))
    with pytest.raises(Cancelled):
        reconstruct(PHOTOS, None, config, progress=progress, cancel=cancel, model=tiny_model)
    assert stages[-1] == "Cleaning point cloud"  # nothing after it: no scene is built


def test_image_size_defaults_to_the_model_everywhere(tmp_path: Path) -> None:
    assert InferenceConfig().image_size is None and ReconstructConfig().inference.image_size is None
    out = tmp_path / "r.npz"
    args = [
        "reconstruct",
        "--checkpoint",
        str(TINY_CHECKPOINT),
        "--device",
        "cpu",
        "--no-clean",
        "--no-refine",
    ]
    assert cli_main([*args, "--images", *map(str, PHOTOS[:2]), "--out", str(out)]) == 0  # a 224 model
    with np.load(out) as data:
        np.testing.assert_array_equal(data["net_size"], [[224, 224]] * 2)


def test_alignment_errors_name_the_photos(tiny_model) -> None:
    from core.jobs.photos import reconstruct

    config = ReconstructConfig(inference=InferenceConfig(device="cpu"), align=AlignConfig(min_conf=1e6))
    with pytest.raises(AlignmentError) as info:
        reconstruct(PHOTOS, None, config, model=tiny_model)
    message = str(info.value)
    assert "no pixel has a confidence above 1e+06" in message or "confidence above 1e+06" in message
    assert all(p.name in message for p in PHOTOS) and "view 0" not in message, message


def test_exif_focal_is_converted_on_the_diagonal(tiny_model, tmp_path: Path) -> None:
    """Two 384 x 288 photos with FocalLengthIn35mmFilm = 28: fixed at 28 / 43.27 * 480 px = 310.6 px."""
    from core.jobs.photos import reconstruct

    paths = []
    for k, source in enumerate(PHOTOS[:2]):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0xA405] = 28
        paths.append(tmp_path / f"exif{k}.jpg")
        Image.open(source).save(paths[-1], exif=exif.tobytes(), quality=95)
    config = ReconstructConfig(inference=InferenceConfig(device="cpu"), focal_prior="exif", clean_depth=False)
    result = reconstruct(paths, None, config, model=tiny_model)
    expected = 28.0 / np.hypot(36.0, 24.0) * np.hypot(384, 288)
    np.testing.assert_allclose(result.K_photo[:, 0, 0], expected, rtol=1e-6)  # not 28 / 36 * 384 = 298.7


def test_typed_focal_keeps_its_long_side_meaning(tiny_model) -> None:
    from core.jobs.photos import reconstruct

    config = replace(
        ReconstructConfig(inference=InferenceConfig(device="cpu"), clean_depth=False),
        focal_prior="mm",
        focal_mm=28.0,
    )
    result = reconstruct(PHOTOS[:2], None, config, model=tiny_model)
    np.testing.assert_allclose(result.K_photo[:, 0, 0] * 36.0 / 384, 28.0, rtol=1e-6)  # Blender's lens


# --- infer's output folder ---------------------------------------------------------------------------------


def test_infer_replaces_the_pairs_of_an_earlier_run(tmp_path: Path, capsys) -> None:
    out = tmp_path / "pairs"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "pair_notes.npz").write_bytes(b"not one of ours: another name pattern")
    base = ["infer", "--checkpoint", str(TINY_CHECKPOINT), "--device", "cpu", "--out", str(out)]
    assert cli_main([*base, "--images", *map(str, PHOTOS)]) == 0
    assert len(list(out.glob("pair_*_*.npz"))) == 6
    capsys.readouterr()
    assert cli_main([*base, "--images", *map(str, PHOTOS[:2])]) == 0
    assert "removed 4 pair files of an earlier run" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "notes.txt",
        "pair_0_1.npz",
        "pair_1_0.npz",
        "pair_notes.npz",
    ]
