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


def srgb_to_linear(c: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The sRGB transfer function's inverse (IEC 61966-2-1), elementwise on values in ``[0, 1]`` (float32)."""
    c = np.asarray(c, dtype=np.float32)
    if out is None:
        out = np.empty_like(c)
    low = c <= np.float32(0.04045)
    np.multiply(c, np.float32(1 / 1.055), out=out)
    out += np.float32(0.055 / 1.055)
    np.power(out, np.float32(2.4), out=out)
    np.copyto(out, c * np.float32(1 / 12.92), where=low)
    return out


def gather_points(pts3d, colors, conf) -> PointArrays:
    """Stack per-view arrays (``(H, W, 3)`` world points, ``(H, W, 3)`` sRGB colours, ``(H, W)`` confidence).

    Points with a non-finite coordinate are dropped; everything else is kept, whatever its confidence.
    The output arrays are allocated once and filled view by view (this runs on millions of points).
    """
    flat = [np.asarray(p, dtype=np.float32).reshape(-1, 3) for p in pts3d]
    keeps = []
    for p in flat:
        keeps.append(None if np.isfinite(p).all() else np.isfinite(p).all(axis=1))
    counts = [len(p) if k is None else int(k.sum()) for p, k in zip(flat, keeps, strict=True)]
    total = sum(counts)
    positions = np.empty((total, 3), np.float32)
    rgba = np.empty((total, 4), np.float32)
    rgba[:, 3] = 1.0
    confidence = np.empty(total, np.float32)
    view = np.empty(total, np.int32)
    start = 0
    for k, (p, c, w, keep, n) in enumerate(zip(flat, colors, conf, keeps, counts, strict=True)):
        end = start + n
        c = np.asarray(c, dtype=np.float32).reshape(-1, 3)
        w = np.asarray(w, dtype=np.float32).reshape(-1)
        if keep is not None:
            p, c, w = p[keep], c[keep], w[keep]
        positions[start:end] = blender_world_from_opencv_world(p)
        rgba[start:end, :3] = srgb_to_linear(np.clip(c, 0.0, 1.0))  # contiguous temp: 3x faster than strided
        confidence[start:end] = w
        view[start:end] = k
        start = end
    return PointArrays(positions=positions, colors=rgba, confidence=confidence, view=view)


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
