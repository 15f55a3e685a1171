"""Panel and preferences ``draw()`` against a recording layout that checks every name against RNA.

Panels cannot draw headless (no real UILayout), so a typo in a property name, an operator idname, an icon
or a layout keyword would only show up in a user's console. The recording layout validates each call
against Blender's own RNA definitions instead.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import bpy
import pytest

UILAYOUT = bpy.types.UILayout.bl_rna
ICONS = set(UILAYOUT.functions["label"].parameters["icon"].enum_items.keys())


class RecordingLayout:
    """Accepts the UILayout calls the add-on uses, validating every name, and records them."""

    def __init__(self, calls: list) -> None:
        object.__setattr__(self, "calls", calls)

    def __setattr__(self, name: str, value) -> None:
        assert name in UILAYOUT.properties, f"UILayout has no property {name!r}"
        self.calls.append(("set", name, value))

    def _check_kwargs(self, function: str, kwargs: dict) -> None:
        params = UILAYOUT.functions[function].parameters
        for key, value in kwargs.items():
            assert key in params, f"UILayout.{function}() has no parameter {key!r}"
            if key == "icon":
                assert value in ICONS, f"unknown icon {value!r}"
            if params[key].type == "ENUM" and key != "icon":
                assert value in params[key].enum_items.keys(), f"{function}({key}={value!r})"

    def _sub(self, function: str, kwargs: dict) -> RecordingLayout:
        self._check_kwargs(function, kwargs)
        self.calls.append((function,))
        return RecordingLayout(self.calls)

    def row(self, **kw):
        return self._sub("row", kw)

    def column(self, **kw):
        return self._sub("column", kw)

    def box(self, **kw):
        return self._sub("box", kw)

    def split(self, **kw):
        return self._sub("split", kw)

    def separator(self, **kw):
        self._check_kwargs("separator", kw)

    def label(self, **kw):
        self._check_kwargs("label", kw)
        self.calls.append(("label", kw.get("text", "")))

    def progress(self, **kw):
        self._check_kwargs("progress", kw)
        assert 0.0 <= kw.get("factor", 0.0) <= 1.0
        self.calls.append(("progress", kw.get("text", ""), kw.get("factor", 0.0)))

    def prop(self, data, prop_name: str, **kw):
        self._check_kwargs("prop", kw)
        match = re.fullmatch(r'\["(.+)"\]', prop_name)
        if match:  # an ID property such as a Geometry Nodes modifier input
            assert match.group(1) in data.keys(), f"{data!r} has no ID property {match.group(1)!r}"
        else:
            assert prop_name in data.bl_rna.properties, (
                f"{data.bl_rna.identifier} has no property {prop_name!r}"
            )
        self.calls.append(("prop", prop_name))

    def prop_search(self, data, prop_name: str, search_data, search_prop: str, **kw):
        self._check_kwargs("prop_search", kw)
        assert prop_name in data.bl_rna.properties, f"{data.bl_rna.identifier} has no property {prop_name!r}"
        assert search_prop in search_data.bl_rna.properties, f"nothing to search in {search_prop!r}"
        self.calls.append(("prop_search", prop_name, search_prop))

    def operator(self, idname: str, **kw):
        self._check_kwargs("operator", kw)
        module, _, name = idname.partition(".")
        rna = getattr(getattr(bpy.ops, module), name).get_rna_type()  # raises for an unknown operator
        self.calls.append(("operator", idname))
        return OperatorProperties(rna, self.calls)


class OperatorProperties:
    """What ``layout.operator()`` returns: setting a property checks its name (and enum value) against RNA."""

    def __init__(self, rna, calls: list) -> None:
        object.__setattr__(self, "_rna", rna)
        object.__setattr__(self, "_calls", calls)

    def __setattr__(self, name: str, value) -> None:
        props = self._rna.properties
        assert name in props, f"{self._rna.identifier} has no property {name!r}"
        if props[name].type == "ENUM":
            assert value in props[name].enum_items.keys(), f"{self._rna.identifier}.{name} = {value!r}"
        self._calls.append(("operator_prop", name, value))


class DrawProxy:
    """Stands in for ``self`` in ``draw``: a recording ``layout``, everything else from the real object."""

    def __init__(self, real, layout: RecordingLayout) -> None:
        self._real = real
        self.layout = layout

    def __getattr__(self, name: str):
        return getattr(self._real, name)


def _draw(cls_or_obj, context) -> list:
    calls: list = []
    cls_or_obj_draw = type(cls_or_obj).draw if not isinstance(cls_or_obj, type) else cls_or_obj.draw
    cls_or_obj_draw(DrawProxy(cls_or_obj, RecordingLayout(calls)), context)
    return calls


def _panel_class():
    return bpy.types.Panel.bl_rna_get_subclass_py("DUST3R_PT_reconstruct")


def test_idle_panel_draws_settings_and_the_button(addon) -> None:
    calls = _draw(_panel_class(), bpy.context)
    assert ("operator", "dust3r.reconstruct") in calls
    assert ("prop", "photo_folder") in calls and ("prop", "checkpoint") in calls
    assert not any(c[0] == "progress" for c in calls)
    # Options that only matter for some choices show up with them.
    assert ("prop", "focal_mm") not in calls
    bpy.context.scene.dust3r.focal_prior = "mm"
    bpy.context.scene.dust3r.scene_graph = "swin"
    bpy.context.scene.dust3r.align_method = "paper"
    assert ("prop", "refine") in calls and ("prop", "distortion") in calls  # refinement is on by default
    bpy.context.scene.dust3r.refine = False
    calls = _draw(_panel_class(), bpy.context)
    assert ("prop", "refine") in calls and ("prop", "distortion") not in calls
    bpy.context.scene.dust3r.refine = True
    calls = _draw(_panel_class(), bpy.context)
    assert {("prop", "focal_mm"), ("prop", "graph_window"), ("prop", "niter"), ("prop", "distortion")} <= set(
        calls
    )


def test_running_job_shows_progress_and_cancel(addon) -> None:
    tasks = addon.submodule("jobs.tasks")
    errors = addon.submodule("core.errors")
    release = threading.Event()

    def work(progress, cancel, _line):
        progress("Pairs 3/6", 0.4)
        release.wait(10)
        raise errors.Cancelled()

    job = tasks.Task("test", work, (errors.Dust3rError,), errors.Cancelled)
    try:
        tasks.start(tasks.RECONSTRUCT, job)
        for _ in range(100):
            if job.poll().fraction > 0:
                break
            threading.Event().wait(0.01)
        calls = _draw(_panel_class(), bpy.context)
        progress = [c for c in calls if c[0] == "progress"]
        assert progress and progress[0][1].startswith("Pairs 3/6") and progress[0][2] == pytest.approx(0.4)
        assert ("operator", "dust3r.cancel") in calls
        assert ("operator", "dust3r.reconstruct") not in calls
    finally:
        release.set()
        job.join(10)
        tasks.release(tasks.RECONSTRUCT, job)


def test_active_point_cloud_shows_its_live_filter(addon, make_reconstruction) -> None:
    recon, _ = make_reconstruction([(160, 120)], seed=7)
    builder = addon.submodule("scene.build")
    report = builder.build_reconstruction(bpy.context.scene, recon)
    bpy.context.view_layer.objects.active = report.points_object
    calls = _draw(_panel_class(), bpy.context)
    socket_props = [c for c in calls if c[0] == "prop" and c[1].startswith('["')]
    assert len(socket_props) == 2
    bpy.context.view_layer.objects.active = report.camera_objects[0]
    assert ("operator", "dust3r.activate_camera") in _draw(_panel_class(), bpy.context)


def test_preferences_draw(addon) -> None:
    prefs = bpy.context.preferences.addons[addon.module_name].preferences
    calls = _draw(prefs, bpy.context)
    assert ("prop", "checkpoint") in calls and ("prop", "device") in calls
    # The packaging operators are drawn when they are registered.
    assert ("operator", "dust3r.install_torch") in calls
    assert ("operator", "dust3r.download_checkpoint") in calls
    # The weights' licence beside Download: the one text the command line's `download` prints too.
    notice = addon.submodule("core.io.checkpoints").LICENSE_NOTICE
    assert "CC BY-NC-SA 4.0" in notice and ("label", notice) in calls
    # The PyTorch status line of the set-up box (torch is installed in the test environment).
    assert any(c[0] == "label" and c[1].startswith("PyTorch") for c in calls)


def test_recording_layout_catches_typos(addon) -> None:
    layout = RecordingLayout([])
    with pytest.raises(AssertionError):
        layout.prop(bpy.context.scene.dust3r, "image_sise")
    with pytest.raises((AttributeError, KeyError, RuntimeError)):
        layout.operator("dust3r.reconstrukt")
    with pytest.raises(AssertionError):
        layout.label(text="x", icon="NOT_AN_ICON")
    with pytest.raises(AssertionError):
        layout.column(headng="x")


def test_redo_panel_of_the_operator_only_informs(addon) -> None:
    op_cls = bpy.types.Operator.bl_rna_get_subclass_py("DUST3R_OT_reconstruct")
    calls: list = []
    op_cls.draw(DrawProxy(op_cls, RecordingLayout(calls)), bpy.context)
    assert [c[0] for c in calls] == ["label"]


def test_choosing_a_folder_counts_its_photos_once(addon, tmp_path, photo_writer) -> None:
    folder = tmp_path / "shoot"
    folder.mkdir()
    for k in range(3):
        photo_writer(folder / f"img{k}.png", (32, 24), seed=k)
    (folder / "notes.txt").write_text("not a photo")
    settings = bpy.context.scene.dust3r
    settings.photo_folder = str(folder)  # the update callback counts; draw() only reads
    assert (settings.photo_count, settings.photo_skipped) == (3, 1)
    labels = [c[1] for c in _draw(_panel_class(), bpy.context) if c[0] == "label"]
    assert "3 photos" in labels and "1 unsupported files will be skipped" in labels
    settings.photo_folder = str(tmp_path / "does not exist")
    assert (settings.photo_count, settings.photo_skipped) == (0, 0)
    assert "No photos in this folder" in [c[1] for c in _draw(_panel_class(), bpy.context) if c[0] == "label"]


def test_summary_of_the_last_run_is_shown(addon) -> None:
    bpy.context.scene.dust3r.last_summary = "3 photos, 1,234 points, 5.0 s"
    labels = [c[1] for c in _draw(_panel_class(), bpy.context) if c[0] == "label"]
    assert "3 photos, 1,234 points, 5.0 s" in labels


def _panel(idname: str):
    return bpy.types.Panel.bl_rna_get_subclass_py(idname)


def test_view_and_orientation_panels_follow_the_selection(addon, make_reconstruction) -> None:
    builder = addon.submodule("scene.build")
    viewport = addon.submodule("scene.viewport")
    # Nothing built: the panels say what to select.
    labels = [c[1] for c in _draw(_panel("DUST3R_PT_orientation"), bpy.context) if c[0] == "label"]
    assert labels == ["Select an object of a reconstruction"]
    calls = _draw(_panel("DUST3R_PT_view"), bpy.context)
    assert ("operator_prop", "show", True) in calls

    recon, _ = make_reconstruction([(160, 120), (160, 120)], seed=7)
    report = builder.build_reconstruction(bpy.context.scene, recon)
    viewport.show_point_colors()
    bpy.context.view_layer.objects.active = report.points_object
    calls = _draw(_panel("DUST3R_PT_view"), bpy.context)
    assert ("operator_prop", "show", False) in calls  # the colours are shown: the button restores
    # The scene camera is a DUSt3R camera: compare with previous/next, opacity and depth of its photo.
    assert [c for c in calls if c[0] == "operator_prop" and c[1] == "step"] == [
        ("operator_prop", "step", -1),
        ("operator_prop", "step", 1),
    ]
    assert ("operator_prop", "camera", report.camera_objects[0].name) in calls
    assert ("prop", "alpha") in calls and ("prop", "display_depth") in calls

    calls = _draw(_panel("DUST3R_PT_orientation"), bpy.context)
    assert ("operator", "dust3r.level") in calls and ("prop", "known_distance") in calls
    modes = [c[2] for c in calls if c[:2] == ("operator_prop", "mode")]
    assert modes == ["CAMERAS", "POINTS"]
    assert [c[2] for c in calls if c[:2] == ("operator_prop", "which")] == ["A", "B"]

    # The camera's own properties panel compares too.
    panel = _panel("DUST3R_PT_camera_photo")
    bpy.context.view_layer.objects.active = report.camera_objects[1]
    assert panel.poll(bpy.context)
    calls = _draw(panel, bpy.context)
    assert ("operator_prop", "camera", report.camera_objects[1].name) in calls
    bpy.context.view_layer.objects.active = report.points_object
    assert not panel.poll(bpy.context)


def test_main_panel_offers_import(addon) -> None:
    assert ("operator", "dust3r.import_result") in _draw(_panel_class(), bpy.context)


# ------------------------------------------------------------------------------------- the Footage section
def _labels(calls) -> list[str]:
    return [c[1] for c in calls if c[0] == "label"]


def test_footage_section_draws_its_source_frames_lens_and_button(addon) -> None:
    footage = bpy.context.scene.dust3r.footage
    calls = _draw(_panel("DUST3R_PT_footage"), bpy.context)
    assert ("prop", "source") in calls and ("prop", "filepath") in calls
    assert {("prop", n) for n in ("every", "max_frames", "fill", "use_range", "start", "end")} <= set(calls)
    assert ("prop", "sensor") in calls and ("prop", "sensor_width") not in calls
    assert "Film back unknown: 36 mm is assumed" in _labels(calls)  # said when nothing is known
    assert ("prop", "focal_mm") not in calls and ("operator", "dust3r.reconstruct_footage") in calls
    footage.source, footage.sensor, footage.use_focal = "CLIP", "CUSTOM", True
    calls = _draw(_panel("DUST3R_PT_footage"), bpy.context)
    assert ("prop_search", "clip", "movieclips") in calls and ("prop", "filepath") not in calls
    assert ("prop", "sensor_width") in calls and ("prop", "focal_mm") in calls
    assert not any("36 mm is assumed" in label for label in _labels(calls))
    footage.source = "FOLDER"
    assert ("prop", "directory") in _draw(_panel("DUST3R_PT_footage"), bpy.context)


def test_choosing_footage_probes_it_once(addon, tmp_path) -> None:
    from tests.footage_support import shot_frames, write_sequence

    write_sequence(tmp_path / "plate", shot_frames(n=4, size=(64, 48)), first=1001)
    footage = bpy.context.scene.dust3r.footage
    bpy.context.scene.render.fps = 25
    footage.source = "FOLDER"
    footage.directory = str(tmp_path / "plate")  # the update callback probes; draw() only reads
    assert footage.info_summary == "plate.####.png: 4 frames (1001-1004), 64x48, png, 25 fps", (
        footage.info_error
    )
    assert (footage.start, footage.end) == (1001, 1004)  # an unset range follows the shot
    assert footage.info_summary in _labels(_draw(_panel("DUST3R_PT_footage"), bpy.context))
    footage.directory = str(tmp_path / "nowhere")
    assert footage.info_summary == "" and footage.info_error
    assert footage.info_error in _labels(_draw(_panel("DUST3R_PT_footage"), bpy.context))


def test_the_sensor_dropdown_is_blenders_camera_presets(addon) -> None:
    settings = addon.submodule("properties.footage_settings")
    presets = addon.submodule("properties.camera_presets")
    shipped = [p for folder in bpy.utils.preset_paths("camera") for p in Path(folder).glob("*.py")]
    assert shipped, "Blender ships camera presets"
    keys = [item[0] for item in settings.sensor_items()]
    assert keys[:2] == ["UNKNOWN", "CUSTOM"] and set(keys[2:]) == {p.stem for p in shipped}
    assert all(
        presets.display_name(p.name) == bpy.path.display_name(p.name, title_case=False) for p in shipped
    )
    footage = bpy.context.scene.dust3r.footage
    chosen = presets.read_preset(shipped[0])
    footage.sensor = chosen.key  # the preset fills the width
    assert footage.sensor_width == pytest.approx(chosen.sensor_width)
    base = addon.submodule("core.config").ReconstructConfig()
    assert settings.make_footage_config(footage, base).sensor_width_mm == pytest.approx(chosen.sensor_width)
    footage.sensor_width = chosen.sensor_width + 1.0  # typing another width: Custom
    assert footage.sensor == "CUSTOM"
    assert settings.make_footage_config(footage, base).sensor_width_mm == pytest.approx(
        chosen.sensor_width + 1
    )
    footage.sensor = "UNKNOWN"
    assert settings.make_footage_config(footage, base).sensor_width_mm is None  # the core assumes 36 mm


def test_a_preset_file_is_read_never_run(addon, tmp_path) -> None:
    presets = addon.submodule("properties.camera_presets")
    marker = tmp_path / "ran"
    (tmp_path / "My_Camera_(Super_35).py").write_text(
        "import bpy\n"
        f"open({str(marker)!r}, 'w').write('x')\n"
        "bpy.context.camera.sensor_width = 24.89\n"
        "bpy.context.camera.sensor_height = 18.66\n"
    )
    (tmp_path / "Computed.py").write_text("import bpy\nbpy.context.camera.sensor_width = 10 * 2\n")
    (tmp_path / "Broken.py").write_text("bpy.context.camera.sensor_width = (\n")
    found = presets.read_presets([tmp_path])
    assert [(p.key, p.label, p.sensor_width, p.sensor_height) for p in found] == [
        ("My_Camera_(Super_35)", "My Camera (Super 35)", 24.89, 18.66)
    ]
    assert not marker.exists()
    assert presets.display_name("1_slash_1.8_inch.py") == "1/1.8 inch"


def test_the_scene_and_the_operator_have_every_footage_setting(addon) -> None:
    names = set(addon.submodule("properties.footage_settings").FOOTAGE_SETTING_NAMES)
    assert names <= set(bpy.context.scene.dust3r.footage.bl_rna.properties.keys())
    assert names <= set(bpy.ops.dust3r.reconstruct_footage.get_rna_type().properties.keys())
