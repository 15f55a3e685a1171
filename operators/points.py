"""The point-cloud mesh: vertices only, with ``color``, ``confidence`` and ``view`` point attributes.

Everything goes through flat numpy arrays and ``foreach_set`` (CONVENTIONS.md section 5): no Python loop
per point.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.geometry.blender_camera import blender_world_from_opencv_world

COLOR_ATTRIBUTE = "color"
CONFIDENCE_ATTRIBUTE = "confidence"
VIEW_ATTRIBUTE = "view"


@dataclass(frozen=True)
class PointArrays:
    """All points of a reconstruction, ready for Blender.

    Attributes:
        positions: ``(M, 3)`` float32, Blender world.
        colors: ``(M, 4)`` float32 RGBA, LINEAR (scene-referred) values, as FLOAT_COLOR attributes store them.
        confidence: ``(M,)`` float32, the network's confidence (never thresholded here).
        view: ``(M,)`` int32, index of the source photo.
    """

    positions: np.ndarray
    colors: np.ndarray
    confidence: np.ndarray
    view: np.ndarray

    def __len__(self) -> int:
        return len(self.positions)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """The sRGB transfer function's inverse (IEC 61966-2-1), elementwise on values in ``[0, 1]``."""
    c = np.asarray(c, dtype=np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def gather_points(pts3d, colors, conf) -> PointArrays:
    """Stack per-view arrays (``(H, W, 3)`` world points, ``(H, W, 3)`` sRGB colours, ``(H, W)`` confidence).

    Points with a non-finite coordinate are dropped; everything else is kept, whatever its confidence.
    """
    positions, rgba, confidence, view = [], [], [], []
    for k, (p, c, w) in enumerate(zip(pts3d, colors, conf, strict=True)):
        p = np.asarray(p, dtype=np.float32).reshape(-1, 3)
        keep = np.isfinite(p).all(axis=1)
        n = int(keep.sum())
        positions.append(blender_world_from_opencv_world(p[keep]))
        col = np.ones((n, 4), dtype=np.float32)
        col[:, :3] = srgb_to_linear(np.clip(np.asarray(c, dtype=np.float32).reshape(-1, 3)[keep], 0.0, 1.0))
        rgba.append(col)
        confidence.append(np.asarray(w, dtype=np.float32).reshape(-1)[keep])
        view.append(np.full(n, k, dtype=np.int32))
    if not positions:
        empty = np.zeros((0, 3), np.float32)
        return PointArrays(
            empty, np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32)
        )
    return PointArrays(
        positions=np.concatenate(positions),
        colors=np.concatenate(rgba),
        confidence=np.concatenate(confidence),
        view=np.concatenate(view),
    )


def create_point_mesh(name: str, points: PointArrays) -> bpy.types.Mesh:
    """A vertices-only mesh holding ``points`` and its attributes; the colour attribute is the active one."""
    mesh = bpy.data.meshes.new(name)
    n = len(points)
    mesh.vertices.add(n)
    mesh.attributes["position"].data.foreach_set("vector", np.ascontiguousarray(points.positions).ravel())
    color = mesh.attributes.new(COLOR_ATTRIBUTE, "FLOAT_COLOR", "POINT")
    color.data.foreach_set("color", np.ascontiguousarray(points.colors).ravel())
    conf = mesh.attributes.new(CONFIDENCE_ATTRIBUTE, "FLOAT", "POINT")
    conf.data.foreach_set("value", np.ascontiguousarray(points.confidence))
    view = mesh.attributes.new(VIEW_ATTRIBUTE, "INT", "POINT")
    view.data.foreach_set("value", np.ascontiguousarray(points.view))
    mesh.color_attributes.active_color_name = COLOR_ATTRIBUTE
    mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index
    mesh.update()
    return mesh
