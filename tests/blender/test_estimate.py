"""The sidebar's memory and time estimate (issue 12): computed in update callbacks from the folder and the
settings, the same estimate as the run's memory guard, and a refusal shown before the button is pressed and
given by the run itself with the same words."""

from __future__ import annotations

import textwrap
from pathlib import Path

import bpy
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT_224 = REPO_ROOT / "tests" / "data" / "tiny_linear_224" / "tiny_linear_224.pth"


@pytest.fixture
def three_photos(tmp_path, photo_writer) -> Path:
    folder = tmp_path / "shoot"
    folder.mkdir()
    for k in range(3):
        photo_writer(folder / f"p{k}.png", (96, 72), seed=k)
    return folder


def _tiny_free_memory(addon, monkeypatch) -> None:
    guard = addon.submodule("core.resources.guard")
    hardware = addon.submodule("core.resources.hardware")
    tiny = hardware.MemoryInfo(total_bytes=2**30, available_bytes=1_000_000, source="test")
    monkeypatch.setattr(guard, "available_memory", lambda: tiny)


def test_choosing_a_folder_estimates_the_run_as_the_guard_does(addon, three_photos) -> None:
    settings = bpy.context.scene.dust3r
    settings.photo_folder = str(three_photos)
    assert settings.photo_count == 3
    # auto = complete for 3 photos: 6 ordered pairs; the text is the core's estimate of the same run
    plan = addon.submodule("core.jobs.plan")
    config = addon.submodule("properties.settings").make_config(settings, "cpu")
    photos = sorted(str(p) for p in three_photos.iterdir())
    expected = plan.plan_run(
        plan.photo_sizes(photos), config.inference, config.align, device="cpu", refine=config.refine.enabled
    ).explanation
    assert settings.estimate_text == expected and expected.startswith("6 pairs, about ")
    assert settings.estimate_problem == ""


def test_changing_the_pairs_re_estimates(addon, three_photos) -> None:
    settings = bpy.context.scene.dust3r
    settings.photo_folder = str(three_photos)
    settings.scene_graph = "oneref"
    settings.graph_window = 0  # oneref-0: photo 0 with each other photo, both ways
    assert settings.estimate_text.startswith("4 pairs, ")
    settings.graph_window = 7  # no photo 7: no estimate (the run itself explains the mistake)
    assert settings.estimate_text == ""
    settings.scene_graph = "complete"
    assert settings.estimate_text.startswith("6 pairs, ")
    settings.photo_folder = ""
    assert (settings.estimate_text, settings.photo_count) == ("", 0)


def test_a_run_that_does_not_fit_is_shown_and_refused_with_the_same_words(
    addon, three_photos, monkeypatch, data_state
) -> None:
    _tiny_free_memory(addon, monkeypatch)
    settings = bpy.context.scene.dust3r
    settings.image_size = "224"
    settings.photo_folder = str(three_photos)
    assert "needs about" in settings.estimate_problem and "only 1 MB are free" in settings.estimate_problem
    before = data_state()
    with pytest.raises(RuntimeError) as refused:
        bpy.ops.dust3r.reconstruct(
            checkpoint=str(CHECKPOINT_224), image_size="224", device="cpu", clean_depth=False
        )
    assert settings.estimate_problem in str(refused.value)  # the same run, the same estimate
    assert data_state() == before


def test_the_preferences_precision_reaches_the_estimate_and_the_run(addon, three_photos, monkeypatch) -> None:
    prefs = bpy.context.preferences.addons[addon.module_name].preferences
    settings = bpy.context.scene.dust3r
    settings.photo_folder = str(three_photos)
    settings.estimate_text = ""
    pipeline, errors = addon.submodule("core.jobs.photos"), addon.submodule("core.errors")
    seen = []

    def capture(_paths, _checkpoint, config, **_kwargs):
        seen.append(config.inference.precision)
        raise errors.Cancelled()

    monkeypatch.setattr(pipeline, "reconstruct", capture)
    try:
        prefs.precision = "bf16"
        assert settings.estimate_text.startswith("6 pairs, ")  # refreshed by the preference's update
        bpy.ops.dust3r.reconstruct(checkpoint=str(CHECKPOINT_224))
        bpy.ops.dust3r.reconstruct(checkpoint=str(CHECKPOINT_224), precision="fp32")  # the operator's own
    finally:
        prefs.precision = "auto"
    assert seen == ["bf16", "fp32"]


def test_the_sidebar_draws_the_estimate_or_the_problem(addon, three_photos, monkeypatch) -> None:
    from tests.blender.test_panels import _draw, _panel_class

    settings = bpy.context.scene.dust3r
    settings.photo_folder = str(three_photos)
    labels = [c[1] for c in _draw(_panel_class(), bpy.context) if c[0] == "label"]
    assert settings.estimate_text in labels
    _tiny_free_memory(addon, monkeypatch)
    settings.scene_graph = "complete"  # any change re-estimates
    labels = [c[1] for c in _draw(_panel_class(), bpy.context) if c[0] == "label"]
    lines = textwrap.wrap(settings.estimate_problem, addon.submodule("panels.sidebar").ESTIMATE_WRAP)
    assert len(lines) > 1 and lines[0].startswith("this run (3 photos, 6 pairs) needs about")
    start = labels.index(lines[0])
    assert labels[start : start + len(lines)] == lines
    assert settings.estimate_text not in labels
