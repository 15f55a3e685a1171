"""Fault injection: a build that fails at ANY step leaves all of bpy.data exactly as it was.

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
    """Wraps ``BuildRecord.new`` and ``BuildRecord.load_image``: counts calls, fails at call ``target``."""

    def __init__(self, record_cls, monkeypatch) -> None:
        self.calls: list[str] = []
        self.target: int | None = None
        self.after = False
        for name in ("new", "load_image"):
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
    builder = addon.submodule("operators.scene_builder")
    datablocks = addon.submodule("operators.datablocks")
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
    builder = addon.submodule("operators.scene_builder")
    before = data_state()
    for module, name in (
        (builder.geonodes, "add_points_modifier"),
        (builder.surfaces, "photo_material"),
        (builder.cameras, "apply_camera_render_settings"),
        (builder.points, "gather_points"),
    ):

        def fail(*_args, _name=name, **_kwargs):
            raise InjectedFault(_name)

        with monkeypatch.context() as patch:
            patch.setattr(module, name, fail)
            with pytest.raises(InjectedFault):
                builder.build_reconstruction(bpy.context.scene, recon, builder.BuildOptions(surfaces=True))
        assert data_state() == before, name
