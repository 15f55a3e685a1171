"""``bpy.ops.dust3r.reconstruct_footage`` end to end with the tiny test model (INTERFACES.md section 3).

A real video (PyAV, from ``tests.synthetic`` ``shot`` frames) and the same frames as a PNG sequence from
frame 1001; a movie clip already in the file; the worker-thread path driven by hand (staged progress, the
built camera reprojecting the job's own result at every keyed frame); and every way a run is refused or
fails with the scene untouched.
"""

from __future__ import annotations

import fractions
import threading
from pathlib import Path

import bpy
import numpy as np
import pytest

from tests.blender.footage_checks import camera_agreement_px, footage_camera
from tests.footage_support import shot_frames, write_sequence, write_video

pytest.importorskip("av")
REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = str(REPO_ROOT / "tests" / "data" / "tiny_linear_224" / "tiny_linear_224.pth")
FAST = {"checkpoint": CHECKPOINT, "image_size": "224", "device": "cpu", "clean_depth": False, "refine": False}


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return shot_frames(n=6, size=(128, 96))


@pytest.fixture
def video(tmp_path, frames) -> Path:
    return write_video(tmp_path / "plate.mp4", frames, codec="libx264", rate=fractions.Fraction(24000, 1001))


@pytest.fixture
def sequence(tmp_path, frames) -> Path:
    write_sequence(tmp_path / "seq", frames, first=1001)
    return tmp_path / "seq"


def _keyed(addon, obj, path="location") -> list[int]:
    return addon.submodule("scene.animation").keyed_frames(obj, path)


def test_a_video_gives_one_animated_camera_with_its_plate(addon, video, capfd) -> None:
    capfd.readouterr()
    result = bpy.ops.dust3r.reconstruct_footage(filepath=str(video), every=2, fill="interpolate", **FAST)
    out = capfd.readouterr().out
    assert result == {"FINISHED"}
    cam = footage_camera()
    assert _keyed(addon, cam) == [1, 2, 3, 4, 5, 6]
    # every=2 with a fill: 1, 3, 5 reconstructed, and the range's last frame; the rest interpolated.
    status = list(cam["dust3r_frame_status"])
    assert status == ["reconstructed", "interpolated"] * 2 + ["reconstructed"] * 2
    assert "6 frames: 4 reconstructed, 2 interpolated" in out
    assert "Sensor width unknown: 36 mm assumed" in out and "film back unknown" not in out
    assert cam["dust3r_sensor_width_assumed"] and cam.data.sensor_width == pytest.approx(36.0)
    scene = bpy.context.scene
    assert (scene.frame_start, scene.frame_end) == (1, 6)
    assert scene.render.fps == 24 and scene.render.fps_base == pytest.approx(1.001, abs=1e-6)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (128, 96)
    clip = cam.data.background_images[0].clip
    assert Path(bpy.path.abspath(clip.filepath)) == video.resolve()
    assert (clip.frame_start, clip.frame_offset) == (1, 0) and scene.camera == cam
    assert scene.dust3r.last_summary.startswith("6 frames, ")


def test_a_sequence_from_1001_at_the_scene_rate_with_a_known_sensor(addon, sequence) -> None:
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    assert bpy.ops.dust3r.reconstruct_footage(directory=str(sequence), sensor_width=23.76, **FAST) == {
        "FINISHED"
    }
    cam = footage_camera()
    assert _keyed(addon, cam) == list(range(1001, 1007))
    assert list(cam["dust3r_frame_numbers"]) == list(range(1001, 1007))
    assert cam["dust3r_fps"] == pytest.approx(25.0) and (scene.render.fps, scene.render.fps_base) == (25, 1.0)
    assert cam.data.sensor_width == pytest.approx(23.76) and not cam["dust3r_sensor_width_assumed"]
    clip = cam.data.background_images[0].clip
    assert Path(bpy.path.abspath(clip.filepath)).name == "plate.1001.png"
    assert (clip.frame_start, clip.frame_offset) == (1001, 0)
    assert (scene.frame_start, scene.frame_end) == (1001, 1006)


def test_a_loaded_movie_clip_is_used_as_the_plate(addon, video) -> None:
    clip = bpy.data.movieclips.load(str(video))
    clip.frame_start = 50  # the artist's offset: the build aligns it so that scene frame k is plate frame k
    assert bpy.ops.dust3r.reconstruct_footage(clip=clip.name, max_frames=3, fill="localise", **FAST) == {
        "FINISHED"
    }
    cam = footage_camera()
    assert len(bpy.data.movieclips) == 1 and cam.data.background_images[0].clip == clip
    assert clip.frame_start == 1 and bpy.context.scene.active_clip == clip
    status = list(cam["dust3r_frame_status"])
    assert len(status) == 6 and status.count("reconstructed") == 3
    assert set(status) <= {"reconstructed", "localised", "flagged"}


def test_the_sidebar_settings_are_used_when_not_passed(addon, video) -> None:
    footage = bpy.context.scene.dust3r.footage
    footage.source, footage.filepath = "FILE", str(video)
    footage.use_range, footage.start, footage.end = True, 2, 5
    footage.fill = "none"
    footage.use_focal, footage.focal_mm = True, 30.0
    assert bpy.ops.dust3r.reconstruct_footage(**FAST) == {"FINISHED"}
    cam = footage_camera()
    assert list(cam["dust3r_frame_numbers"]) == [2, 3, 4, 5]
    assert cam.data.lens == pytest.approx(30.0, rel=1e-4) and cam.data.sensor_width == pytest.approx(36.0)


def test_one_bound_given_takes_the_other_from_the_shot(addon, video) -> None:
    assert bpy.ops.dust3r.reconstruct_footage(filepath=str(video), start=4, fill="none", **FAST) == {
        "FINISHED"
    }
    assert list(footage_camera()["dust3r_frame_numbers"]) == [4, 5, 6]


def test_the_thread_path_by_hand_reports_stages_and_builds_the_result(addon, video) -> None:
    """What the modal timer does: start, poll; the camera at every key is the job's own camera of that frame."""
    op_module = addon.submodule("jobs.footage")
    task_operator = addon.submodule("jobs.task_operator")
    settings = addon.submodule("properties.footage_settings")
    config_module = addon.submodule("core.config")
    inference = config_module.InferenceConfig(image_size=224, device="cpu")
    base = config_module.ReconstructConfig(inference=inference, clean_depth=False)
    props = bpy.context.scene.dust3r.footage
    props.fill = "interpolate"
    request = op_module.FootageJobRequest(
        source=op_module.resolve_source(str(video), "", "", props),
        checkpoint=CHECKPOINT,
        config=settings.make_footage_config(props, base),
        build=addon.submodule("properties.build_options").BuildOptions(),
        scene_name=bpy.context.scene.name,
    )
    stages = []

    class Recording(op_module.FootageJobRequest):
        def work(self, progress, cancel, log_line):
            def record(stage, fraction):
                stages.append(stage)
                progress(stage, fraction)

            return super().work(record, cancel, log_line)

    request = Recording(**request.__dict__)
    task = task_operator.start_task(request)
    assert task.join(300)
    outcome = task_operator.poll_task(bpy.context)
    assert outcome.done and outcome.finished_ok, outcome.messages
    assert "Decoding 6/6" in stages and any(s.startswith("Pairs ") for s in stages)
    recon = task.status.result.reconstruction
    cam = footage_camera()
    errors = camera_agreement_px(recon, cam)
    assert sorted(errors) == list(range(1, 7)) and max(errors.values()) < 0.01, errors
    assert list(cam["dust3r_frame_status"]) == list(task.status.result.status)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "Choose the footage first"),
        ({"filepath": "//nowhere.mp4"}, "footage not found"),
        ({"filepath": "A", "directory": "B"}, "one footage source, not filepath and directory"),
        ({"clip": "No Such Clip"}, "no movie clip named 'No Such Clip'"),
        ({"checkpoint": ""}, "No checkpoint set"),
    ],
)
def test_user_mistakes_are_refused_before_anything_starts(addon, kwargs, match, data_state) -> None:
    before = data_state()
    with pytest.raises(RuntimeError, match=match):
        bpy.ops.dust3r.reconstruct_footage(**{**FAST, **kwargs})
    assert data_state() == before
    assert not addon.submodule("jobs.tasks").is_running("reconstruct")


def test_a_failing_run_leaves_the_scene_as_it_was(addon, tmp_path, frames, data_state) -> None:
    paths = write_sequence(tmp_path / "gap", frames, first=1)
    paths[2].unlink()  # a gap in the sequence: the core refuses it with a clear message
    scene = bpy.context.scene
    range_before = (scene.frame_start, scene.frame_end, scene.render.fps)
    before = data_state()
    with pytest.raises(RuntimeError, match="(?i)missing|gap"):
        bpy.ops.dust3r.reconstruct_footage(directory=str(tmp_path / "gap"), **FAST)
    assert data_state() == before and (scene.frame_start, scene.frame_end, scene.render.fps) == range_before


def test_cancel_builds_nothing(addon, video, data_state) -> None:
    op_module = addon.submodule("jobs.footage")
    task_operator = addon.submodule("jobs.task_operator")
    tasks = addon.submodule("jobs.tasks")
    before = data_state()
    started = threading.Event()

    class Request(op_module.FootageJobRequest):
        def work(self, progress, cancel, log_line):
            started.set()
            cancel.wait(20)
            return super().work(progress, cancel, log_line)  # the core stops at its first check

    request = Request(
        source=op_module.resolve_source(str(video), "", "", bpy.context.scene.dust3r.footage),
        checkpoint=CHECKPOINT,
        config=addon.submodule("core.config").FootageConfig(),
        build=addon.submodule("properties.build_options").BuildOptions(),
        scene_name=bpy.context.scene.name,
    )
    task = task_operator.start_task(request)
    assert started.wait(10)
    tasks.cancel(tasks.RECONSTRUCT)
    assert task.join(60)
    outcome = task_operator.poll_task(bpy.context)
    assert outcome.done and not outcome.finished_ok
    assert outcome.messages == [("WARNING", task_operator.CANCELLED_MESSAGE)]
    assert data_state() == before
