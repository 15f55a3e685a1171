"""Fault injection: a build that fails at ANY step leaves all of bpy.data exactly as it was (photos and
footage: for footage also the scene's frame range, rate and active clip, and an existing clip's frame
mapping and tracking camera).

Every datablock the builder makes goes through ``BuildRecord`` (``new``, ``load_image``). A dry run counts
those calls; then the build is run again once per call, failing just before it and just after it (the
datablock then exists and must still go), in a fresh file and in a file that already holds an earlier build
(whose shared node group, material and photos must stay). Every collection of ``bpy.data`` (names and
counts) and the scene's camera, resolution and collections are compared with the state before.
"""

from __future__ import annotations

import bpy
import pytest


class InjectedFault(Exception):
    pass


def _all_id_pointers() -> set[int]:
    return {
        id_.as_pointer()
        for prop in bpy.data.bl_rna.properties
        if prop.type == "COLLECTION"
        for id_ in getattr(bpy.data, prop.identifier)
    }


class FaultInjector:
    """Wraps ``BuildRecord.new``, ``load_image`` and ``load_clip``: counts calls, fails at call ``target``."""

    def __init__(self, record_cls, monkeypatch) -> None:
        self.calls: list[str] = []
        self.target: int | None = None
        self.after = False
        for name in ("new", "load_image", "load_clip"):
            monkeypatch.setattr(record_cls, name, self._wrap(getattr(record_cls, name), name))

    def _wrap(self, original, name):
        injector = self

        def wrapper(record, *args, **kwargs):
            injector.calls.append(f"{name}{args[:1]}")
            hit = injector.target is not None and len(injector.calls) - 1 == injector.target
            if hit and not injector.after:
                raise InjectedFault(f"before {injector.calls[-1]}")
            out = original(record, *args, **kwargs)
            if hit:
                raise InjectedFault(f"after {injector.calls[-1]}")
            return out

        return wrapper

    def arm(self, target: int | None, after: bool = False) -> None:
        self.calls.clear()
        self.target, self.after = target, after


@pytest.mark.parametrize("earlier_build", [False, True], ids=["fresh file", "after an earlier build"])
def test_a_failure_at_every_step_leaves_bpy_data_as_it_was(
    addon, make_reconstruction, monkeypatch, earlier_build, data_state
) -> None:
    # Two views (one EXIF-rotated), surfaces on: every kind of datablock the builder makes.
    recon, _ = make_reconstruction([(64, 48), ((48, 64), 6)], seed=8, image_size=224, smooth=True)
    builder = addon.submodule("scene.build")
    datablocks = addon.submodule("scene.datablocks")
    options = builder.BuildOptions(surfaces=True, conf_threshold=0.0)
    injector = FaultInjector(datablocks.BuildRecord, monkeypatch)
    registered: list[int] = []
    register = datablocks.BuildRecord.register
    monkeypatch.setattr(
        datablocks.BuildRecord,
        "register",
        lambda rec, d: registered.append(d.as_pointer()) or register(rec, d),
    )

    def prepare() -> None:
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        if earlier_build:
            builder.build_reconstruction(bpy.context.scene, recon, options)

    # A dry run counts the steps; nothing is created behind the record's back.
    prepare()
    registered.clear()
    ids_before = _all_id_pointers()
    injector.arm(None)
    report = builder.build_reconstruction(bpy.context.scene, recon, options)
    steps = list(injector.calls)
    assert len(steps) >= 15, steps  # collection, root, points, camera data and objects, photos, surfaces...
    assert report.surface_objects and len(report.camera_objects) == 2
    assert _all_id_pointers() - ids_before == set(registered)

    prepare()
    before = data_state()
    failures = 0
    for target in range(len(steps)):
        for after in (False, True):
            injector.arm(target, after)
            with pytest.raises(InjectedFault):
                builder.build_reconstruction(bpy.context.scene, recon, options)
            assert data_state() == before, f"failure {'after' if after else 'before'} {steps[target]}"
            failures += 1
    assert failures == 2 * len(steps)


def test_a_failure_outside_datablock_creation_also_cleans_up(
    addon, make_reconstruction, monkeypatch, data_state
) -> None:
    recon, _ = make_reconstruction([(64, 48), (64, 48)], seed=3, image_size=224)
    builder = addon.submodule("scene.build")
    before = data_state()
    for module, name in (
        (builder.geonodes, "add_points_modifier"),
        (builder.surfaces, "photo_material"),
        (builder.cameras, "apply_camera_render_settings"),
        (builder.points, "PointViews"),
    ):

        def fail(*_args, _name=name, **_kwargs):
            raise InjectedFault(_name)

        with monkeypatch.context() as patch:
            patch.setattr(module, name, fail)
            with pytest.raises(InjectedFault):
                builder.build_reconstruction(bpy.context.scene, recon, builder.BuildOptions(surfaces=True))
        assert data_state() == before, name


# ----------------------------------------------------------------------------------------------- footage
def _footage_state(data_state) -> tuple:
    """bpy.data as :func:`data_state` sees it, plus what a footage build sets on the scene and on clips."""
    scene = bpy.context.scene
    clips = {
        clip.name: (
            clip.frame_start,
            clip.frame_offset,
            tuple(
                tuple(v) if hasattr(v, "__len__") else v
                for v in (getattr(clip.tracking.camera, n) for n in _TRACKING)
            ),
        )
        for clip in bpy.data.movieclips
    }
    range_and_rate = (scene.frame_start, scene.frame_end, scene.frame_current, scene.render.fps)
    active = scene.active_clip.name if scene.active_clip else None
    return data_state(), range_and_rate, scene.render.fps_base, active, clips


_TRACKING = ("sensor_width", "focal_length_pixels", "principal_point_pixels", "k1", "k2", "distortion_model")


@pytest.mark.parametrize("mode", ["fresh file", "after an earlier build", "the artist's clip"])
def test_a_footage_build_failing_at_every_step_leaves_everything_as_it_was(
    addon, footage_result, monkeypatch, mode, data_state
) -> None:
    # A zoom (the lens keyed), distortion (the tracking camera), a sequence from 1001 (the clip mapped).
    recon, _case, path, plate = footage_result("sequence", n=3, first=1001, zoom=0.2, k1=-0.05, fps=25.0)
    builder = addon.submodule("scene.build")
    datablocks = addon.submodule("scene.datablocks")
    plates = addon.submodule("scene.plate")
    injector = FaultInjector(datablocks.BuildRecord, monkeypatch)
    footage = addon.submodule("core.footage.result").read_footage_result(path, recon)
    options = builder.BuildOptions()

    def prepare():
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        bpy.context.scene.render.fps, bpy.context.scene.frame_end = 30, 77
        if mode == "after an earlier build":
            builder.build_reconstruction(bpy.context.scene, footage, options)
            bpy.context.scene.frame_start, bpy.context.scene.render.fps = 5, 48
        if mode != "the artist's clip":
            return plates.Plate.of(footage)
        clip = bpy.data.movieclips.load(str(plate))
        clip.frame_start, clip.tracking.camera.k1 = 40, 0.3
        bpy.context.scene.active_clip = None
        return plates.Plate.of(footage, clip_name=clip.name)

    build = prepare()
    injector.arm(None)
    report = builder.build_reconstruction(bpy.context.scene, footage, options, build)
    steps = list(injector.calls)
    assert report.clip is not None and len(steps) >= 8, steps  # collection, root, points, camera, actions...
    assert any(step.startswith("load_clip") for step in steps) == (mode != "the artist's clip")

    build = prepare()
    before = _footage_state(data_state)
    for target in range(len(steps)):
        for after in (False, True):
            injector.arm(target, after)
            with pytest.raises(InjectedFault):
                builder.build_reconstruction(bpy.context.scene, footage, options, build)
            assert _footage_state(data_state) == before, (
                f"failure {'after' if after else 'before'} {steps[target]}"
            )


@pytest.mark.parametrize("artists_clip", [False, True], ids=["plate loaded", "the artist's clip"])
def test_a_footage_build_failing_after_its_datablocks_also_cleans_up(
    addon, footage_result, monkeypatch, data_state, artists_clip
) -> None:
    """Failures in the scene and clip settings at the end of the build (nothing left half-set)."""
    pytest.importorskip("av")  # the plate is a video
    recon, _case, path, plate = footage_result("video", n=3, k1=0.05)
    builder = addon.submodule("scene.build")
    footage = addon.submodule("core.footage.result").read_footage_result(path, recon)
    chosen = None
    if artists_clip:
        clip = bpy.data.movieclips.load(str(plate))
        clip.frame_start, clip.tracking.camera.k1 = 40, 0.3
        chosen = addon.submodule("scene.plate").Plate.of(footage, clip_name=clip.name)
    camera_module = addon.submodule("scene.footage_camera")
    before = _footage_state(data_state)
    for module, name in (
        (camera_module, "_align_clip"),
        (camera_module, "continuous_quaternions"),
        (camera_module, "key_channels"),
        (builder.footage_camera, "apply_to_scene"),
    ):
        original = getattr(module, name)

        def fail(*args, _name=name, _original=original, **kwargs):
            _original(*args, **kwargs)  # it did its work, then something failed
            raise InjectedFault(_name)

        with monkeypatch.context() as patch:
            patch.setattr(module, name, fail)
            with pytest.raises(InjectedFault):
                builder.build_reconstruction(bpy.context.scene, footage, builder.BuildOptions(), chosen)
        assert _footage_state(data_state) == before, name
