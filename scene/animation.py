"""Keyframes written in bulk (``foreach_set``), the same way in Blender 4.2 and in 4.4+/5.x.

Blender 4.4 introduced layered ("slotted") actions and 5.0 removed ``Action.fcurves``: F-Curves then live in
a channel bag of the action's first layer and strip, for the slot the animated ID uses. :func:`new_fcurves`
hides the difference. Every key is LINEAR: a camera keyed on every frame must not overshoot between keys
(sub-frames, motion blur) as Bezier handles would.
"""

from __future__ import annotations

from collections.abc import Sequence

import bpy
import numpy as np


def _linear() -> int:
    return bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value


def new_fcurves(record, id_data: bpy.types.ID, name: str, channels: Sequence[tuple[str, int]]) -> list:
    """A new action (registered with the build's ``record``) assigned to ``id_data``, with one F-Curve per
    ``(data_path, index)`` of ``channels``; returns the F-Curves in that order."""
    action = record.new("actions", name)
    anim = id_data.animation_data or id_data.animation_data_create()
    anim.action = action
    if "layers" in action.bl_rna.properties:  # Blender 4.4+: layered actions
        slot = action.slots.new(id_data.id_type, id_data.name)
        anim.action_slot = slot
        strip = action.layers.new("Layer").strips.new(type="KEYFRAME")
        fcurves = strip.channelbag(slot, ensure=True).fcurves
    else:
        fcurves = action.fcurves
    return [fcurves.new(path, index=index) for path, index in channels]


def set_keys(fcurve, frames: np.ndarray, values: np.ndarray) -> None:
    """Key ``fcurve`` at ``frames`` (N,) with ``values`` (N,), LINEAR, in one call each."""
    frames = np.asarray(frames, dtype=np.float32).reshape(-1)
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    if frames.shape != values.shape:
        raise ValueError(f"{len(frames)} frames but {len(values)} values")
    points = fcurve.keyframe_points
    points.add(len(frames))
    points.foreach_set("co", np.stack([frames, values], axis=-1).reshape(-1))
    points.foreach_set("interpolation", np.full(len(frames), _linear(), dtype=np.int32))
    fcurve.update()


def key_channels(record, id_data, name: str, channels, frames, values: np.ndarray) -> None:
    """Key ``channels`` (list of ``(data_path, index)``) of ``id_data`` at ``frames`` with the columns of
    ``values`` ``(N, len(channels))``."""
    values = np.asarray(values, dtype=np.float64).reshape(len(frames), len(channels))
    for column, fcurve in enumerate(new_fcurves(record, id_data, name, channels)):
        set_keys(fcurve, frames, values[:, column])


def fcurves_of(id_data: bpy.types.ID) -> list:
    """The F-Curves animating ``id_data`` (its action's, for its slot in layered actions)."""
    anim = id_data.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        return []
    if "layers" not in action.bl_rna.properties:
        return list(action.fcurves)
    out = []
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(anim.action_slot) if anim.action_slot is not None else None
            if bag is not None:
                out += list(bag.fcurves)
    return out


def keyed_frames(id_data: bpy.types.ID, data_path: str) -> list[int]:
    """The frames keyed on ``data_path`` of ``id_data`` (sorted, integers)."""
    frames: set[int] = set()
    for fcurve in fcurves_of(id_data):
        if fcurve.data_path == data_path:
            co = np.zeros(2 * len(fcurve.keyframe_points), dtype=np.float32)
            fcurve.keyframe_points.foreach_get("co", co)
            frames.update(int(round(f)) for f in co[0::2])
    return sorted(frames)
