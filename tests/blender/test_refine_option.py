"""The "Refine Cameras" option (issue 9) in Blender: it reaches the core's config (photos and footage), and a
refined result shows its solve error in the sidebar's summary and on the cameras, with its lens."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT_224 = REPO_ROOT / "tests" / "data" / "tiny_linear_224" / "tiny_linear_224.pth"


def test_the_option_and_its_distortion_reach_the_config(addon, make_reconstruction, monkeypatch) -> None:
    recon, _ = make_reconstruction([(96, 72), (96, 72)], seed=2)
    pipeline, errors = addon.submodule("core.jobs.photos"), addon.submodule("core.errors")
    seen = []

    def capture(_paths, _checkpoint, config, **_kwargs):
        seen.append((config.refine.enabled, config.refine.distortion))
        raise errors.Cancelled()

    monkeypatch.setattr(pipeline, "reconstruct", capture)
    settings = bpy.context.scene.dust3r
    assert settings.refine is True  # on by default (issue 18), from core.config's RefineConfig
    folder = str(Path(recon.image_paths[0]).parent)
    bpy.ops.dust3r.reconstruct(directory=folder, checkpoint=str(CHECKPOINT_224))
    settings.refine, settings.distortion = True, "k1k2"
    bpy.ops.dust3r.reconstruct(directory=folder, checkpoint=str(CHECKPOINT_224))
    bpy.ops.dust3r.reconstruct(directory=folder, checkpoint=str(CHECKPOINT_224), refine=False)
    assert seen == [(True, "none"), (True, "k1k2"), (False, "none")]  # no distortion without refinement


def test_a_refined_result_reports_its_solve_error(addon, make_reconstruction, monkeypatch) -> None:
    recon, _ = make_reconstruction([(96, 72), (96, 72), (96, 72)], seed=4)
    refined = type(recon)(
        **{
            **recon.__dict__,
            "dist": np.array([[-0.05, 0.01]] * 3),
            "solve_error_px": np.array([0.21, 0.34, np.nan]),
            "solve_error_total_px": 0.27,
            "refine_status": ("refined", "refined", "kept: two-view tracks only"),
            "uncertainty_px": np.array([0.1, 0.2, 3.5], dtype=np.float32),
            "warnings": ("refinement: img2.png kept its aligned camera (4 matches, 30 needed)",),
        }
    )
    pipeline = addon.submodule("core.jobs.photos")
    monkeypatch.setattr(pipeline, "reconstruct", lambda *_args, **_kwargs: refined)
    folder = str(Path(recon.image_paths[0]).parent)
    assert bpy.ops.dust3r.reconstruct(directory=folder, checkpoint=str(CHECKPOINT_224), refine=True) == {
        "FINISHED"
    }
    assert bpy.context.scene.dust3r.last_summary.endswith(", solve error 0.27 px")
    cameras = addon.submodule("scene.cameras")
    cams = sorted(
        (o for o in bpy.data.objects if o.get("dust3r_role") == "camera"), key=lambda o: o["dust3r_index"]
    )
    assert [c.get(cameras.SOLVE_ERROR_KEY) for c in cams] == [pytest.approx(0.21), pytest.approx(0.34), None]
    assert [c[cameras.UNCERTAINTY_KEY] for c in cams] == [
        pytest.approx(0.1),
        pytest.approx(0.2),
        pytest.approx(3.5),
    ]
    assert [c[cameras.REFINE_STATUS_KEY] for c in cams] == [
        "refined",
        "refined",
        "kept: two-view tracks only",
    ]
    summary = addon.submodule("core.refine.summary").refine_summary
    line = summary(refined.solve_error_total_px, refined.solve_error_px, refined.uncertainty_px,
                   refined.refine_status, ["img0", "img1", "img2"])  # fmt: skip
    assert line == "solve error 0.27 px, worst camera 'img2' ±3.5 px (two-view tracks only)"
    assert all(list(c.data[cameras.DISTORTION_KEY]) == pytest.approx([-0.05, 0.01]) for c in cams)


def test_the_footage_operator_takes_the_option(addon, monkeypatch, tmp_path, photo_writer) -> None:
    footage = addon.submodule("core.jobs.footage")
    errors = addon.submodule("core.errors")
    seen = []

    def capture(_source, _checkpoint, config, *_args, **_kwargs):
        seen.append(config.reconstruct.refine.enabled)
        raise errors.Cancelled()

    monkeypatch.setattr(footage, "reconstruct_footage", capture)
    folder = tmp_path / "plate"
    folder.mkdir()
    for k in range(1, 4):
        photo_writer(folder / f"plate.{k:04d}.png", (64, 48), seed=k)
    bpy.ops.dust3r.reconstruct_footage(directory=str(folder), checkpoint=str(CHECKPOINT_224))
    bpy.ops.dust3r.reconstruct_footage(directory=str(folder), checkpoint=str(CHECKPOINT_224), refine=False)
    assert seen == [True, False]  # on by default; refine=False skips it
