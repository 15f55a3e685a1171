"""Reading footage: video files (PyAV), numbered image sequences (PNG, EXR), selection, clear errors."""

from __future__ import annotations

import fractions
import sys
import threading

import numpy as np
import pytest

from core.color import srgb_from_linear
from core.errors import Cancelled, ConfigError, DependencyError
from core.footage import ArraySource, open_footage, read_footage_info
from core.footage.read.av_support import rgb8_from_float
from core.footage.read.errors import FootageError
from core.footage.read.sequence import format_ranges, parse_numbered
from core.footage.selection import select_frames, spread
from tests.footage_support import shot_frames, write_exr, write_sequence, write_video

pytest.importorskip("av")


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return shot_frames(n=10, size=(64, 48))


def test_lossless_video_gives_back_every_frame_with_its_number_and_rate(tmp_path, frames) -> None:
    path = write_video(tmp_path / "plate.mkv", frames, codec="ffv1")
    info = read_footage_info(path)
    assert (info.kind, info.codec, info.width, info.height) == ("video", "ffv1", 64, 48)
    assert info.fps_rational == (24000, 1001) and info.fps == pytest.approx(23.976, abs=1e-3)
    assert (info.first_frame, info.last_frame) == (1, 10)  # Matroska stores no count: estimated, exact here
    decoded = dict(open_footage(path).read([2, 5, 10]))
    assert sorted(decoded) == [2, 5, 10]
    for number, rgb in decoded.items():
        np.testing.assert_array_equal(rgb, frames[number - 1])


def test_h264_mp4_frame_count_is_exact_and_frames_match(tmp_path, frames) -> None:
    path = write_video(tmp_path / "plate.mp4", frames, codec="libx264", rate=fractions.Fraction(25))
    info = read_footage_info(path)
    assert info.codec == "h264" and info.frame_count == 10 and info.frame_count_exact and info.fps == 25.0
    decoded = dict(open_footage(path).read(range(1, 11)))
    worst = max(int(np.abs(decoded[k + 1].astype(int) - frames[k]).max()) for k in range(10))
    assert worst <= 3  # crf 0 in YUV 4:4:4: only the colour-space rounding


@pytest.mark.parametrize(
    ("codec", "name", "suffix", "tolerance"),
    [("libx265", "hevc", ".mp4", 3), ("prores_ks", "prores", ".mov", 32), ("libx264", "h264", ".mkv", 3)],
)
def test_h265_and_prores_in_mp4_mov_mkv(tmp_path, frames, codec, name, suffix, tolerance) -> None:
    path = write_video(tmp_path / f"plate{suffix}", frames[:4], codec=codec)
    info = read_footage_info(path)
    assert info.codec == name and (info.first_frame, info.last_frame) == (1, 4)
    decoded = dict(open_footage(path).read(range(1, 5)))
    errors = [np.abs(decoded[k + 1].astype(int) - frames[k]) for k in range(4)]
    assert max(int(e.max()) for e in errors) <= tolerance  # ProRes is lossy at its edges
    assert max(float(e.mean()) for e in errors) < 3.0
    shifted = float(
        np.abs(decoded[2].astype(int) - frames[0]).mean()
    )  # a neighbouring frame differs far more
    assert shifted > 3 * max(float(e.mean()) for e in errors)


def test_display_rotation_is_applied(tmp_path, frames) -> None:
    path = write_video(tmp_path / "phone.mp4", frames[:2], codec="libx264", rotation=90)
    (_, rgb), *_ = open_footage(path).read([1])
    assert rgb.shape == (64, 48, 3)  # stored landscape, shown portrait
    expected = np.rot90(frames[0], k=1)  # 90 degrees counter-clockwise
    assert np.abs(rgb.astype(int) - expected).max() <= 3


def test_decoding_reports_progress_and_honours_cancel(tmp_path, frames) -> None:
    source = open_footage(write_video(tmp_path / "p.mkv", frames))
    stages = []
    list(source.read(range(1, 11), progress=lambda s, f: stages.append((s, f))))
    assert stages[0] == ("Decoding 0/10", 0.0) and stages[-1] == ("Decoding 10/10", 1.0)
    cancel = threading.Event()
    reader = source.read(range(1, 11), cancel=cancel)
    next(reader)
    cancel.set()
    with pytest.raises(Cancelled):
        next(reader)


def test_png_sequence_keeps_its_frame_numbers(tmp_path, frames) -> None:
    paths = write_sequence(tmp_path / "seq", frames, first=1001)
    for source in (tmp_path / "seq", paths[3], [str(p) for p in paths]):
        info = read_footage_info(source)
        assert (info.kind, info.first_frame, info.last_frame, info.frame_count) == (
            "sequence",
            1001,
            1010,
            10,
        )
        assert info.path.endswith("plate.####.png") and info.codec == "png" and info.missing_frames == ()
    decoded = dict(open_footage(paths).read([1001, 1007]))
    np.testing.assert_array_equal(decoded[1007], frames[6])
    assert open_footage(paths).frame_path(1004) == str(paths[3].resolve())


def test_sequence_gap_is_reported(tmp_path, frames) -> None:
    paths = write_sequence(tmp_path / "seq", frames, first=1)
    paths[4].unlink()
    paths[5].unlink()
    info = read_footage_info(tmp_path / "seq")
    assert info.missing_frames == (5, 6) and info.frame_count == 8
    from core.config import FootageConfig
    from core.footage.plan import plan_frames

    source = open_footage(tmp_path / "seq")
    with pytest.raises(FootageError, match=r"2 frame\(s\) missing between 1 and 10 \(5-6\)"):
        plan_frames(source, FootageConfig())
    plan = plan_frames(source, FootageConfig(allow_gaps=True))
    assert 5 not in plan.output and "reconstructed without them" in plan.messages[0]
    assert plan_frames(source, FootageConfig(end=4)).keys == [1, 2, 3, 4]  # a range without the gap


def test_sequence_file_errors_are_clear(tmp_path, frames) -> None:
    seq = write_sequence(tmp_path / "a", frames[:3], first=1)
    other = write_sequence(tmp_path / "a", frames[:2], first=1, name="other")
    with pytest.raises(FootageError, match="several image sequences"):
        read_footage_info(tmp_path / "a")
    with pytest.raises(FootageError, match="not frames of one sequence"):
        read_footage_info([seq[0], other[1]])
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("x")
    with pytest.raises(FootageError, match="no numbered image sequence"):
        read_footage_info(tmp_path / "b")
    seq[1].write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(FootageError, match=r"unreadable frame: .*plate\.0002\.png"):
        list(open_footage(seq).read([1, 2, 3]))


def test_exr_sequence_is_shown_through_the_srgb_transfer(tmp_path) -> None:
    rng = np.random.default_rng(3)
    linear = [rng.random((12, 16, 3), dtype=np.float32) * 1.4 for _ in range(3)]  # some values above 1
    folder = tmp_path / "exr"
    folder.mkdir()
    for k, img in enumerate(linear):
        write_exr(folder / f"plate.{k + 1001}.exr", img)
    info = read_footage_info(folder)
    assert (info.codec, info.first_frame, info.width, info.height) == ("exr", 1001, 16, 12)
    decoded = dict(open_footage(folder).read([1001, 1003]))
    expected = rgb8_from_float(linear[2].astype(np.float16))  # half-float file
    assert np.abs(decoded[1003].astype(int) - expected).max() <= 1
    assert decoded[1003].max() == 255  # clipped highlights


def test_srgb_transfer_function() -> None:
    x = np.array([0.0, 0.0031308, 0.18, 0.5, 1.0, 2.0, np.nan], np.float32)
    y = srgb_from_linear(x)
    np.testing.assert_allclose(y[:5], [0.0, 0.04045, 0.46135, 0.73536, 1.0], atol=1e-4)
    assert y[5] == pytest.approx(1.0) and y[6] == 0.0


def test_truncated_videos_give_one_clear_message(tmp_path) -> None:
    frames = np.random.default_rng(0).integers(0, 255, (24, 48, 64, 3)).astype(np.uint8)
    data = write_video(tmp_path / "full.mp4", frames, codec="libx264").read_bytes()  # index first
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    source = open_footage(tmp_path / "cut.mp4")
    assert source.info.frame_count == 24
    with pytest.raises(FootageError, match=r"ends after frame \d+ of the 24 its header announces.*truncated"):
        list(source.read(range(1, 25)))
    import av

    with av.open(str(tmp_path / "late.mp4"), "w") as out:  # index (moov) written last: lost when cut
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    data = (tmp_path / "late.mp4").read_bytes()
    (tmp_path / "late_cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(FootageError, match="cannot be opened as a video.*damaged, truncated"):
        read_footage_info(tmp_path / "late_cut.mp4")


def test_unsupported_codec_gives_one_clear_message(tmp_path, frames) -> None:
    data = write_video(tmp_path / "ok.mkv", frames[:3]).read_bytes()
    assert data.count(b"V_FFV1") == 1
    (tmp_path / "odd.mkv").write_bytes(data.replace(b"V_FFV1", b"V_QQQ1"))  # a Matroska codec id nobody knows
    with pytest.raises(FootageError, match="unknown video codec, which the bundled FFmpeg cannot decode"):
        read_footage_info(tmp_path / "odd.mkv")
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(FootageError, match="cannot be opened as a video"):
        read_footage_info(tmp_path / "notes.mp4")


def test_missing_pyav_is_a_dependency_error(tmp_path, frames, monkeypatch) -> None:
    path = write_video(tmp_path / "p.mkv", frames[:2])
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(DependencyError, match="pip install av=="):
        read_footage_info(path)


def test_frames_given_by_the_caller(frames) -> None:
    source = ArraySource({1001 + k: frames[k] for k in range(3)}, fps=25.0, name="clip.mov")
    assert (source.info.first_frame, source.info.fps, source.info.kind) == (1001, 25.0, "frames")
    np.testing.assert_array_equal(dict(source.read([1002]))[1002], frames[1])
    assert open_footage(source) is source


def test_frame_selection() -> None:
    frames = list(range(1001, 1049))
    assert select_frames(frames) == frames
    assert select_frames(frames, every=4)[:3] == [1001, 1005, 1009]
    assert select_frames(frames, start=1010, end=1020, every=5) == [1010, 1015, 1020]
    picked = select_frames(frames, max_frames=5)
    assert picked[0] == 1001 and picked[-1] == 1048 and len(picked) == 5
    assert spread([1, 2, 3], 1) == [1] and spread([1, 2], 5) == [1, 2]
    with pytest.raises(
        ConfigError, match="no frame between 2000 and 2010: the footage has frames 1001 to 1048"
    ):
        select_frames(frames, start=2000, end=2010)


def test_numbered_names() -> None:
    assert parse_numbered("plate.1001.exr") == parse_numbered("plate.1001.exr")
    p = parse_numbered("shot010_v2.0042.png")
    assert (p.prefix, p.number, p.digits, p.suffix) == ("shot010_v2.", 42, 4, ".png")
    assert parse_numbered("notes.txt") is None
    assert format_ranges([3, 4, 5, 9, 11, 12]) == "3-5, 9, 11-12"
