"""Footage end to end with the vendored tiny model: a real video file and a PNG sequence starting at 1001
through ``python -m core reconstruct``; flagged frames, the lens, progress, cancel and clear errors."""

from __future__ import annotations

import fractions
import threading
from pathlib import Path

import numpy as np
import pytest

from core.cli import main as cli_main
from core.config import FootageConfig, InferenceConfig, ReconstructConfig, RefineConfig
from core.errors import Cancelled
from core.footage import FLAGGED, RECONSTRUCTED, UNKNOWN, read_footage_result
from core.jobs.footage import reconstruct_footage
from core.result import Reconstruction
from tests.cli_support import message_lines
from tests.footage_support import shot_frames, write_sequence, write_video

pytest.importorskip("av")
pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = REPO_ROOT / "tests" / "data" / "tiny_linear_224"
BASE = ["reconstruct", "--checkpoint", str(TINY), "--size", "224", "--device", "cpu", "--no-refine"]
CONFIG = ReconstructConfig(
    inference=InferenceConfig(image_size=224, device="cpu"), refine=RefineConfig(enabled=False)
)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return shot_frames(n=9, size=(128, 96))


def test_cli_video_result_has_frame_numbers_fps_and_the_video_path(tmp_path, frames, capsys) -> None:
    video = write_video(tmp_path / "plate.mp4", frames, codec="libx264", rate=fractions.Fraction(24))
    out = tmp_path / "result.npz"
    assert (
        cli_main([*BASE, "--video", str(video), "--every", "2", "--fill", "interpolate", "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert (
        "film back unknown: 36 mm assumed" in printed
        and "9 frames: 5 reconstructed, 4 interpolated" in printed
    )
    with np.load(out) as data:
        np.testing.assert_array_equal(data["frame_numbers"], np.arange(1, 10))
        assert float(data["fps"]) == 24.0 and list(data["fps_rational"]) == [24, 1]
        assert set(data["image_paths"]) == {str(video.resolve())}
        assert list(data["frame_status"][::2]) == [RECONSTRUCTED] * 5
        assert bool(data["sensor_width_assumed"]) and float(data["sensor_width_mm"]) == 36.0
        assert np.isnan(data["pts3d_1"]).all() and not data["conf_1"].any()  # interpolated: no points
    result = Reconstruction.load_npz(out)
    np.testing.assert_array_equal(result.photo_size, [[128, 96]] * 9)
    assert result.is_footage and result.fps == 24.0


def test_cli_png_sequence_from_1001(tmp_path, frames) -> None:
    paths = write_sequence(tmp_path / "plate", frames[:6], first=1001)
    out = tmp_path / "seq.npz"
    args = [
        *BASE,
        "--images",
        *map(str, paths),
        "--sequence",
        "--fps",
        "25",
        "--start",
        "1002",
        "--out",
        str(out),
    ]
    assert cli_main(args) == 0
    result = Reconstruction.load_npz(out)
    np.testing.assert_array_equal(result.frame_numbers, [1002, 1003, 1004, 1005, 1006])
    assert result.fps == 25.0
    assert result.image_paths == tuple(str(p.resolve()) for p in paths[1:])
    footage = read_footage_result(out, result)
    assert footage.status == (RECONSTRUCTED,) * 5 and footage.notes == ("",) * 5
    assert footage.info.kind == "sequence" and footage.info.fps == 25.0


def test_black_and_duplicated_frames_are_flagged_not_reconstructed(frames, tmp_path, tiny_model) -> None:
    plate = frames.copy()
    plate[3] = 0  # black
    plate[6] = plate[5]  # repeated
    paths = write_sequence(tmp_path / "p", plate, first=1)
    result = reconstruct_footage(paths, None, FootageConfig(reconstruct=CONFIG), model=tiny_model)
    status = dict(zip(result.reconstruction.frame_numbers.tolist(), result.status, strict=True))
    notes = dict(zip(result.reconstruction.frame_numbers.tolist(), result.notes, strict=True))
    assert status[4] == FLAGGED and notes[4] == "black frame: pose interpolated"
    assert (
        status[7] == FLAGGED
        and notes[7].startswith("duplicate of frame 6")
        and notes[7].endswith("pose copied")
    )
    np.testing.assert_array_equal(
        result.reconstruction.world_from_cam[6], result.reconstruction.world_from_cam[5]
    )
    assert sum(s == RECONSTRUCTED for s in result.status) == 7
    assert np.isnan(result.reconstruction.pts3d[3]).all()  # a flagged frame adds no points
    assert any("2 frame(s) flagged" in m for m in result.messages)


def test_the_given_lens_is_kept(frames, tmp_path, tiny_model) -> None:
    paths = write_sequence(tmp_path / "p", frames[:4], first=1)
    config = FootageConfig(reconstruct=CONFIG, focal_mm=24.0, sensor_width_mm=24.0, fps=30.0)
    result = reconstruct_footage(paths, None, config, model=tiny_model)
    K = result.reconstruction.K_photo
    np.testing.assert_allclose(K[:, 0, 0], 128.0)  # 24 mm on a 24 mm film back = the frame's width
    assert result.focal_mm == pytest.approx(24.0) and not result.sensor_width_assumed
    assert not any("film back" in m for m in result.messages) and result.reconstruction.fps == 30.0


def test_progress_stages_and_cancel(frames, tmp_path, tiny_model) -> None:
    paths = write_sequence(tmp_path / "p", frames[:7], first=1)
    stages: list[tuple[str, float]] = []
    config = FootageConfig(reconstruct=CONFIG, every=3)
    reconstruct_footage(paths, None, config, progress=lambda s, f: stages.append((s, f)), model=tiny_model)
    labels = " ".join(s for s, _ in stages)
    for expected in ("Decoding 7/7", "Encoding 3/3", "Pairs", "Aligning", "Localising 4/4", "Done"):
        assert expected in labels
    fractions_seen = [f for _, f in stages]
    assert fractions_seen == sorted(fractions_seen) and fractions_seen[-1] == 1.0
    cancel = threading.Event()

    def stop_when_encoding(stage: str, fraction: float) -> None:
        if stage.startswith("Encoding"):
            cancel.set()

    with pytest.raises(Cancelled):
        reconstruct_footage(paths, None, config, progress=stop_when_encoding, cancel=cancel, model=tiny_model)


def test_cli_footage_errors_are_one_line_with_exit_code_2(tmp_path, frames, capsys) -> None:
    paths = write_sequence(tmp_path / "gap", frames[:5], first=1)
    paths[2].unlink()
    out = str(tmp_path / "r.npz")
    cases = [
        (
            [*BASE, "--images", str(paths[0]), "--sequence", "--out", out],
            "frame(s) missing between 1 and 5 (3)",
        ),
        (
            [*BASE, "--images", str(paths[0]), "--every", "2", "--out", out],
            "--every: footage options need --video",
        ),
        ([*BASE, "--video", str(tmp_path / "none.mp4"), "--out", out], "footage not found"),
    ]
    odd = write_video(tmp_path / "ok.mkv", frames[:2]).read_bytes().replace(b"V_FFV1", b"V_QQQ1")
    (tmp_path / "odd.mkv").write_bytes(odd)
    cases.append(
        ([*BASE, "--video", str(tmp_path / "odd.mkv"), "--out", out], "bundled FFmpeg cannot decode")
    )
    for args, message in cases:
        assert cli_main(args) == 2
        err = capsys.readouterr().err
        assert message in err and len(message_lines(err)) == 1, err
    assert not Path(out).exists()


def test_result_file_round_trip_and_extra_arrays(frames, tmp_path, tiny_model) -> None:
    paths = write_sequence(tmp_path / "p", frames[:3], first=7)
    result = reconstruct_footage(paths, None, FootageConfig(reconstruct=CONFIG, fps=12.0), model=tiny_model)
    out = tmp_path / "r.npz"
    result.save_npz(out)
    loaded = Reconstruction.load_npz(out)
    np.testing.assert_array_equal(loaded.frame_numbers, [7, 8, 9])
    np.testing.assert_allclose(loaded.world_from_cam, result.reconstruction.world_from_cam)
    read = read_footage_result(out, loaded)
    assert (read.status, read.notes) == (result.status, result.notes)
    assert (read.focal_mm, read.sensor_width_mm) == (result.focal_mm, result.sensor_width_mm)
    assert read.sensor_width_assumed == result.sensor_width_assumed
    assert (read.info.path, read.info.kind, read.info.fps_rational) == (result.info.path, "sequence", None)
    with np.load(out) as data:
        assert str(data["footage_kind"]) == "sequence" and list(data["fps_rational"]) == [0, 0]
        assert float(data["focal_mm"]) == pytest.approx(result.focal_mm)
    with pytest.raises(ValueError, match="would overwrite"):
        result.reconstruction.save_npz(tmp_path / "x.npz", extra={"cam2world": np.eye(4)})
    photos = Reconstruction.load_npz(out)
    plain = tmp_path / "plain.npz"
    photos.save_npz(plain)
    # without the footage arrays (another tool's file): frames with points reconstructed, the rest unknown
    bare = read_footage_result(plain, photos)
    assert (
        bare.status == tuple(RECONSTRUCTED if np.isfinite(p).any() else UNKNOWN for p in photos.pts3d)
        and bare.sensor_width_assumed
        and np.isnan(bare.focal_mm)
    )
