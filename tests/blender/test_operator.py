"""``bpy.ops.dust3r.reconstruct`` end to end with the tiny test model, and every failure path.

The synchronous path is what scripts and background mode get. The interactive path (worker thread + modal
timer) cannot run headless (no event loop), so it is driven by hand: start the job, join its thread, call
the poll function the timer calls, and check the scene.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import bpy
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT_224 = REPO_ROOT / "tests" / "data" / "tiny_linear_224" / "tiny_linear_224.pth"
FAST = {
    "image_size": "224",
    "device": "cpu",
    "clean_depth": False,
    "refine": False,
}  # refinement: its own tests


def _data_counts() -> dict[str, int]:
    names = ("objects", "meshes", "cameras", "collections", "images", "node_groups", "materials")
    return {name: len(getattr(bpy.data, name)) for name in names}


@pytest.fixture
def photo_folder(tmp_path, photo_writer) -> Path:
    folder = tmp_path / "my shoot"
    folder.mkdir()
    # Natural order: img2 before img10 (a plain sort would put img10 first).
    for k, name in enumerate(("img10.png", "img2.png", "img1.png")):
        photo_writer(folder / name, (96, 72), seed=k)
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_sync_operator_builds_the_scene(addon, photo_folder) -> None:
    result = bpy.ops.dust3r.reconstruct(directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **FAST)
    assert result == {"FINISHED"}
    coll = bpy.data.collections["my shoot"]
    points = [o for o in coll.objects if o.get("dust3r_role") == "points"]
    cams = sorted(
        (o for o in coll.objects if o.get("dust3r_role") == "camera"), key=lambda o: o["dust3r_index"]
    )
    assert len(points) == 1 and len(points[0].data.polygons) > 0  # one triangle per point
    assert [Path(c["dust3r_image"]).name for c in cams] == ["img1.png", "img2.png", "img10.png"]
    assert all(Path(c["dust3r_image"]).is_absolute() for c in cams)
    assert bpy.context.scene.camera == cams[0]
    assert (bpy.context.scene.render.resolution_x, bpy.context.scene.render.resolution_y) == (96, 72)
    assert bpy.context.scene.dust3r.last_summary.startswith(
        f"3 photos, {len(points[0].data.polygons):,} points"
    )


def test_settings_default_from_the_scene_and_files_selection(addon, photo_folder) -> None:
    settings = bpy.context.scene.dust3r
    settings.image_size = "224"
    settings.clean_depth = False
    settings.photo_folder = str(photo_folder)
    settings.conf_threshold = 1.5
    prefs = bpy.context.preferences.addons[addon.module_name].preferences
    prefs.checkpoint = str(CHECKPOINT_224)
    prefs.device = "cpu"
    files = [{"name": "img2.png"}, {"name": "img1.png"}]
    assert bpy.ops.dust3r.reconstruct(directory=str(photo_folder), files=files, refine=False) == {"FINISHED"}
    cams = [o for o in bpy.data.objects if o.get("dust3r_role") == "camera"]
    assert sorted(Path(c["dust3r_image"]).name for c in cams) == ["img1.png", "img2.png"]
    pts = next(o for o in bpy.data.objects if o.get("dust3r_role") == "points")
    mod = pts.modifiers[0]
    geonodes = addon.submodule("scene.geonodes")
    assert mod[geonodes.input_identifier(mod.node_group, geonodes.THRESHOLD_INPUT)] == pytest.approx(1.5)


def test_thread_and_poll_path_driven_by_hand(addon, photo_folder) -> None:
    reconstruct = addon.submodule("jobs.reconstruct")
    photos = addon.submodule("jobs.photos")
    settings = addon.submodule("properties.settings")
    tasks = addon.submodule("jobs.tasks")
    scene = bpy.context.scene
    scene.dust3r.image_size = "224"
    scene.dust3r.clean_depth = False
    paths, warnings = photos.resolve_photos(str(photo_folder), [])
    assert any("notes.txt" in w for w in warnings)
    request = reconstruct.JobRequest(
        image_paths=tuple(paths),
        checkpoint=str(CHECKPOINT_224),
        config=settings.make_config(scene.dust3r, "cpu"),
        build=addon.submodule("properties.build_options").BuildOptions(),
        scene_name=scene.name,
    )
    before = _data_counts()
    job = reconstruct.start_job(request)
    # A second start while one runs is refused, from the operator too.
    with pytest.raises(RuntimeError, match="already running"):
        bpy.ops.dust3r.reconstruct(directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **FAST)
    assert tasks.status_snapshot(tasks.RECONSTRUCT) is job.status
    assert job.join(120)
    stages = []
    while True:
        outcome = reconstruct.poll_job(bpy.context)
        stages.append(job.status.stage)
        if outcome.done:
            break
    assert outcome.finished_ok, outcome.messages
    assert job.status.fraction == 1.0
    assert tasks.current(tasks.RECONSTRUCT) is None
    assert _data_counts()["cameras"] == before["cameras"] + 3
    assert outcome.report.collection.name == "my shoot"


def _gated_job(addon, started: threading.Event):
    """A real job whose work waits until it is cancelled (stands in for a long reconstruction)."""
    reconstruct = addon.submodule("jobs.reconstruct")
    tasks = addon.submodule("jobs.tasks")
    errors = addon.submodule("core.errors")

    def work(progress, cancel, _line):
        started.set()
        progress("Waiting", 0.5)
        if not cancel.wait(20):
            raise AssertionError("never cancelled")
        raise errors.Cancelled()

    request = reconstruct.JobRequest((), "", None, None, bpy.context.scene.name)
    job = tasks.Task("test", work, (errors.Dust3rError,), errors.Cancelled, request=request)
    tasks.start(tasks.RECONSTRUCT, job)
    assert started.wait(10)
    return job


def test_cancelled_job_builds_nothing(addon, photo_folder) -> None:
    reconstruct = addon.submodule("jobs.reconstruct")
    started = threading.Event()
    before = _data_counts()
    job = _gated_job(addon, started)
    assert bpy.ops.dust3r.cancel() == {"FINISHED"}
    assert job.join(20)
    outcome = reconstruct.poll_job(bpy.context)
    assert outcome.done and not outcome.finished_ok
    assert outcome.messages == [("WARNING", "DUSt3R reconstruction cancelled.")]
    assert job.status.cancelled
    assert _data_counts() == before


def test_real_pipeline_cancelled_at_once_builds_nothing(addon, photo_folder) -> None:
    reconstruct = addon.submodule("jobs.reconstruct")
    settings = addon.submodule("properties.settings")
    bpy.context.scene.dust3r.image_size = "224"
    request = reconstruct.JobRequest(
        image_paths=tuple(str(p) for p in sorted(photo_folder.glob("*.png"))),
        checkpoint=str(CHECKPOINT_224),
        config=settings.make_config(bpy.context.scene.dust3r, "cpu"),
        build=addon.submodule("properties.build_options").BuildOptions(),
        scene_name=bpy.context.scene.name,
    )
    before = _data_counts()
    job = reconstruct.start_job(request)
    job.cancel()
    assert job.join(120)
    outcome = reconstruct.poll_job(bpy.context)
    assert not outcome.finished_ok and job.status.cancelled
    assert _data_counts() == before


def test_opening_a_file_cancels_and_drops_the_job(addon) -> None:
    tasks = addon.submodule("jobs.tasks")
    job = _gated_job(addon, threading.Event())
    bpy.ops.wm.read_homefile(use_empty=True)  # fires load_pre, keeps the add-on enabled
    assert not job.is_alive()
    assert job.discarded
    assert tasks.current(tasks.RECONSTRUCT) is None


def test_disabling_the_addon_cancels_and_joins_the_job(addon) -> None:
    tasks = addon.submodule("jobs.tasks")
    job = _gated_job(addon, threading.Event())
    addon.disable()
    assert not job.is_alive()
    assert tasks.current(tasks.RECONSTRUCT) is None


def _assert_fails(match: str, **props) -> None:
    before = _data_counts()
    with pytest.raises(RuntimeError, match=match):
        bpy.ops.dust3r.reconstruct(**props)
    assert _data_counts() == before


def test_no_photos(addon, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    _assert_fails(
        "No photos found", directory=str(tmp_path / "empty"), checkpoint=str(CHECKPOINT_224), **FAST
    )


def test_no_folder(addon) -> None:
    _assert_fails("Choose a folder", checkpoint=str(CHECKPOINT_224), **FAST)


def test_unreadable_photo(addon, photo_folder) -> None:
    (photo_folder / "img3.png").write_bytes(b"definitely not a png")
    _assert_fails("img3", directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **FAST)


def test_missing_checkpoint(addon, photo_folder, tmp_path) -> None:
    _assert_fails(
        "Checkpoint not found", directory=str(photo_folder), checkpoint=str(tmp_path / "nope.pth"), **FAST
    )
    _assert_fails("No checkpoint set", directory=str(photo_folder), **FAST)


def test_corrupt_checkpoint(addon, photo_folder, tmp_path) -> None:
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"\x00garbage" * 100)
    _assert_fails("(?i)checkpoint", directory=str(photo_folder), checkpoint=str(bad), **FAST)


def test_torch_missing(addon, photo_folder, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # what `import torch` sees when it is not installed
    _assert_fails("(?i)pytorch|torch", directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **FAST)


def test_device_unavailable(addon, photo_folder) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    _assert_fails(
        "cuda", directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **{**FAST, "device": "cuda"}
    )


def _finished_job(addon, work):
    """Run ``work`` as the current job to its end (a real job and thread) and return poll_job's outcome."""
    reconstruct = addon.submodule("jobs.reconstruct")
    tasks = addon.submodule("jobs.tasks")
    errors = addon.submodule("core.errors")
    request = reconstruct.JobRequest((), "", None, None, bpy.context.scene.name)
    job = tasks.Task("test", work, (errors.Dust3rError,), errors.Cancelled, request=request)
    tasks.start(tasks.RECONSTRUCT, job)
    assert job.join(20)
    return reconstruct.poll_job(bpy.context)


@pytest.mark.parametrize(
    "failure",
    [
        MemoryError(),
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: 9 GB"),
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    ],
    ids=["MemoryError", "torch-cpu", "cuda"],
)
def test_out_of_memory_is_reported_with_advice(addon, photo_folder, monkeypatch, failure) -> None:
    """Whatever allocator runs out, the artist gets the advice, not 'internal error', and nothing is built."""
    pipeline = addon.submodule("core.jobs.photos")
    reconstruct = addon.submodule("jobs.reconstruct")

    def out_of_memory(*_args, **_kwargs):
        raise failure

    monkeypatch.setattr(pipeline, "reconstruct", out_of_memory)
    _assert_fails("Out of memory", directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **FAST)
    assert "Use fewer photos" in reconstruct.OUT_OF_MEMORY


def test_other_runtime_errors_stay_bugs(addon, photo_folder, monkeypatch) -> None:
    pipeline = addon.submodule("core.jobs.photos")

    def broken(*_args, **_kwargs):
        raise RuntimeError("shape mismatch in a matmul")

    monkeypatch.setattr(pipeline, "reconstruct", broken)
    _assert_fails(
        "internal error.*shape mismatch", directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **FAST
    )


def test_unexpected_exception_is_logged_and_reported_as_a_bug(addon, caplog) -> None:
    def work(progress, cancel, _line):
        raise ZeroDivisionError("a bug")

    before = _data_counts()
    with caplog.at_level("ERROR"):
        outcome = _finished_job(addon, work)
    assert not outcome.finished_ok
    level, text = outcome.messages[0]
    assert level == "ERROR" and "internal error" in text and "ZeroDivisionError" in text
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)
    assert _data_counts() == before


def test_scene_settings_win_over_the_previous_call(addon, photo_folder) -> None:
    """Settings are SKIP_SAVE on the operator: a later call without them reads scene.dust3r again."""
    assert bpy.ops.dust3r.reconstruct(
        directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), conf_threshold=7.0, **FAST
    ) == {"FINISHED"}
    op_props = bpy.ops.dust3r.reconstruct.get_rna_type().properties
    assert op_props["conf_threshold"].is_skip_save
    bpy.context.scene.dust3r.conf_threshold = 2.0
    assert bpy.ops.dust3r.reconstruct(
        directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **FAST
    ) == {"FINISHED"}
    geonodes = addon.submodule("scene.geonodes")
    values = []
    for obj in bpy.data.objects:
        if obj.get("dust3r_role") == "points":
            mod = obj.modifiers[geonodes.MODIFIER_NAME]
            values.append(round(mod[geonodes.input_identifier(mod.node_group, geonodes.THRESHOLD_INPUT)], 3))
    assert sorted(values) == [2.0, 7.0]


def test_invoke_in_background_mode_runs_synchronously(addon, photo_folder) -> None:
    """Scripts that pass 'INVOKE_DEFAULT' in background mode (no event loop) still get the scene built."""
    assert bpy.app.background
    result = bpy.ops.dust3r.reconstruct(
        "INVOKE_DEFAULT", directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **FAST
    )
    assert result == {"FINISHED"}
    assert len([o for o in bpy.data.objects if o.get("dust3r_role") == "camera"]) == 3
    tasks = addon.submodule("jobs.tasks")
    assert tasks.current(tasks.RECONSTRUCT) is None


@pytest.mark.parametrize(
    ("props", "match"),
    [
        ({"focal_prior": "mm", "focal_mm": 0.0}, "(?i)focal"),
        ({"focal_prior": "mm", "focal_mm": -5.0}, "(?i)focal"),
    ],
)
def test_out_of_range_settings_are_refused_not_clamped(addon, photo_folder, props, match) -> None:
    """A script passing focal_mm=0 gets an error naming the setting; Blender does not clamp it silently."""
    _assert_fails(match, directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **FAST, **props)


def test_image_size_defaults_to_the_model(addon, photo_folder) -> None:
    """No size given anywhere: the 224 checkpoint's own size is used (no "size does not match" error)."""
    assert bpy.context.scene.dust3r.image_size == "model"
    props = {k: v for k, v in FAST.items() if k != "image_size"}
    assert bpy.ops.dust3r.reconstruct(
        directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **props
    ) == {"FINISHED"}


def test_the_runs_warnings_reach_the_user(addon, make_reconstruction) -> None:
    """Warnings of the core (e.g. a pair left out) are reported after the build, with the builder's."""
    reconstruct = addon.submodule("jobs.reconstruct")
    tasks = addon.submodule("jobs.tasks")
    result = addon.submodule("core.result")
    recon, _crops = make_reconstruction([(64, 48), (64, 48)])
    recon = result.Reconstruction(**{**recon.__dict__, "warnings": ("Left out the pair img0/img1.",)})
    build = addon.submodule("properties.build_options").BuildOptions()
    request = reconstruct.JobRequest((), "", None, build, bpy.context.scene.name, warnings=("Skipped a.txt",))
    status = tasks.TaskStatus(finished=True, result=recon)
    outcome = request.finish(bpy.context, status)
    assert outcome.finished_ok
    assert ("WARNING", "Skipped a.txt") in outcome.messages
    assert ("WARNING", "Left out the pair img0/img1.") in outcome.messages
