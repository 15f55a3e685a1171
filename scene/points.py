"""The point-cloud mesh: the points as vertices, plus two copies of each that make it one small triangle.

Why triangles: Solid view (Workbench) draws a Geometry Nodes point cloud in one flat colour, but draws the
colours of a mesh whose faces carry the active colour attribute (TESTING.md). So each point is one
equilateral triangle centred on it, in the image plane of the camera that saw it (facing that camera). The
Geometry Nodes modifier (:mod:`.geonodes`) filters and sizes the triangles: the confidence threshold and the
radius stay live, and an evaluation is a plain copy plus one offset per vertex (nothing instanced, no
attribute moved between domains: the cheapest of the layouts measured, see the benchmark).

Layout, with N points (in view order, each view's network pixels row-major, non-finite points left out):

- vertices ``0 .. N-1`` ARE the points: their ``position`` and their point-domain attributes ``color``
  (BYTE_COLOR: the photo's 8-bit sRGB values, which Blender reads as linear colours; a quarter of the memory
  of FLOAT_COLOR, and the photos have 8 bits; meshes of earlier versions have FLOAT_COLOR, linear, and
  :func:`read_points` reads both), ``confidence`` (FLOAT, never thresholded here) and ``view`` (INT, the
  photo index) are the point cloud, one entry per point, as before triangles (``mesh["dust3r_points"] ==
  N``);
- vertices ``N + k`` and ``2N + k`` are copies of point ``k`` (same position and attributes), and face ``k``
  joins the three; ``dust3r_corner`` (FLOAT_VECTOR) is the unit offset of each corner in its camera's image
  plane, which the modifier scales by the radius. Without the modifier the triangles have no area.

:func:`read_points` returns the first N entries. Everything goes through flat numpy arrays written in bulk
(:mod:`.mesh_arrays`: straight into the mesh's own arrays, ``foreach_set`` when they cannot be reached;
CONVENTIONS.md section 5): no Python loop per point.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import bpy
import numpy as np

from ..core.color import linear_from_srgb, srgb_from_linear
from ..core.geometry.blender_camera import blender_world_from_opencv_world
from . import mesh_arrays

COLOR_ATTRIBUTE = "color"
CONFIDENCE_ATTRIBUTE = "confidence"
VIEW_ATTRIBUTE = "view"
CORNER_ATTRIBUTE = "dust3r_corner"
VERTICES_PER_POINT = 3
POINTS_KEY = "dust3r_points"  # mesh custom property: N, the vertices 0..N-1 that are the points
# Corner directions in the camera's image plane (right, up), counter-clockwise as the camera sees them, so
# the face's front side looks at the camera.
_CORNER_ANGLES = np.deg2rad([90.0, 210.0, 330.0])
_VALUE_SHAPE = {
    "vector": (3,),
    "color": (4,),
    "color_srgb": (4,),
    "value": (),
}  # one element of an attribute property


# A point's values, in PointArrays' order, and "srgb8": its colour as (M, 4) uint8 sRGB, alpha 255 (what
# a BYTE_COLOR attribute stores).
FIELDS = ("positions", "colors", "confidence", "view")


@dataclass(frozen=True)
class PointArrays:
    """All points of a reconstruction, ready for Blender.

    Attributes:
        positions: ``(M, 3)`` float32, Blender world (of the reconstruction, before its parent's transform).
        colors: ``(M, 4)`` float32 RGBA, LINEAR (scene-referred) values, as FLOAT_COLOR attributes store them.
        confidence: ``(M,)`` float32, the network's confidence (never thresholded here).
        view: ``(M,)`` int32, index of the source photo, ascending (points are grouped view by view).
    """

    positions: np.ndarray
    colors: np.ndarray
    confidence: np.ndarray
    view: np.ndarray

    def __len__(self) -> int:
        return len(self.positions)

    def write(self, field: str, out: np.ndarray) -> None:
        """Copy ``field`` (one of :data:`FIELDS`, or ``"srgb8"``) into ``out`` (its shape and dtype)."""
        if field == "srgb8":
            _srgb8_into(srgb_from_linear(self.colors[:, :3]), out)
        else:
            out[...] = getattr(self, field)


class PointViews:
    """The points of per-view arrays, not yet stacked: what :class:`PointArrays` holds, written field by
    field straight into wherever it goes (:meth:`write`), so that millions of points are not first stacked
    into arrays of their own (the mesh build writes them into the mesh's attributes).

    Args: per view ``(H, W, 3)`` world points (OpenCV world), ``(H, W, 3)`` sRGB colours in ``[0, 1]``
    (clipped), ``(H, W)`` confidence. Points with a non-finite coordinate are dropped; everything else is
    kept, whatever its confidence. ``counts`` (``(V,)`` int64) says how many points each view kept.
    """

    def __init__(self, pts3d, colors, conf) -> None:
        self._pts = [np.asarray(p, dtype=np.float32).reshape(-1, 3) for p in pts3d]
        self._colors = list(colors)
        self._conf = list(conf)
        self._keeps = [None if np.isfinite(p).all() else np.isfinite(p).all(axis=1) for p in self._pts]
        self.counts = np.array(
            [len(p) if k is None else int(k.sum()) for p, k in zip(self._pts, self._keeps, strict=True)],
            dtype=np.int64,
        )

    def __len__(self) -> int:
        return int(self.counts.sum())

    @property
    def view(self) -> np.ndarray:
        """``(M,)`` int32: each point's view index."""
        return np.repeat(np.arange(len(self.counts), dtype=np.int32), self.counts)

    def write(self, field: str, out: np.ndarray) -> None:
        """Write ``field`` (one of :data:`FIELDS`, as :class:`PointArrays` holds it, or ``"srgb8"``) of every
        point into ``out`` (``(M, ...)``, the field's shape and dtype), view by view."""
        start = 0
        for k, (n, keep) in enumerate(zip(self.counts, self._keeps, strict=True)):
            end = start + int(n)
            kept = (lambda a: a) if keep is None else (lambda a, keep=keep: a[keep])
            if field == "positions":
                out[start:end] = blender_world_from_opencv_world(kept(self._pts[k]))
            elif field == "colors":
                srgb = np.clip(kept(np.asarray(self._colors[k], dtype=np.float32).reshape(-1, 3)), 0.0, 1.0)
                out[start:end, :3] = linear_from_srgb(srgb)  # contiguous temp: 3x faster than strided
                out[start:end, 3] = 1.0
            elif field == "srgb8":
                _srgb8_into(
                    np.asarray(self._colors[k], dtype=np.float32).reshape(-1, 3), out[start:end], kept
                )
            elif field == "confidence":
                out[start:end] = kept(np.asarray(self._conf[k], dtype=np.float32).reshape(-1))
            elif field == "view":
                out[start:end] = k
            else:
                raise ValueError(f"unknown point field {field!r}")
            start = end


def _srgb8_into(srgb: np.ndarray, out: np.ndarray, kept=lambda a: a) -> None:
    """``out`` (``(m, 4)`` uint8): ``kept(srgb)`` (``(m, 3)`` sRGB-encoded floats, clipped to ``[0, 1]``)
    rounded to bytes as Blender rounds them, alpha 255."""
    scaled = np.clip(kept(srgb), 0.0, 1.0)
    scaled *= np.float32(255)
    scaled += np.float32(0.5)
    out[:, :3] = scaled  # truncation of v + 0.5: Blender's unit_float_to_uchar_clamp
    out[:, 3] = 255


def gather_points(pts3d, colors, conf) -> PointArrays:
    """Stack per-view arrays into one :class:`PointArrays` (see :class:`PointViews` for the inputs and
    which points are kept). The output arrays are allocated once and filled view by view."""
    source = PointViews(pts3d, colors, conf)
    n = len(source)
    out = PointArrays(
        positions=np.empty((n, 3), np.float32),
        colors=np.empty((n, 4), np.float32),
        confidence=np.empty(n, np.float32),
        view=np.empty(n, np.int32),
    )
    for field in FIELDS:
        source.write(field, getattr(out, field))
    return out


def triangle_offsets(right: np.ndarray, up: np.ndarray, radius: float) -> np.ndarray:
    """``(3, 3)`` float32 corner offsets of a point's triangle: circumradius ``radius``, in the plane of the
    unit vectors ``right`` and ``up`` (a camera's image axes, Blender world), counter-clockwise seen from the
    side they face (``right x up``)."""
    right = np.asarray(right, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    corners = np.cos(_CORNER_ANGLES)[:, None] * right + np.sin(_CORNER_ANGLES)[:, None] * up
    return (radius * corners).astype(np.float32)


def create_point_mesh(
    new, name: str, points: PointArrays | PointViews, view_axes: np.ndarray
) -> bpy.types.Mesh:
    """The mesh of ``points`` in the layout of the module docstring.

    Args:
        new: ``new(kind, name)`` -> a registered new datablock (``BuildRecord.new``).
        name: mesh name.
        points: the points, grouped by ascending ``view`` (a :class:`PointViews` is written straight into
            the attributes).
        view_axes: ``(V, 2, 3)`` the unit right and up vectors (Blender world) of each view's camera; every
            point's triangle lies in its own camera's image plane.
    """
    mesh = new("meshes", name)
    n = len(points)
    mesh[POINTS_KEY] = n
    if n:
        _add_triangles(mesh, n)
    # Each attribute is written right after it is made: adding another one invalidates Python references.
    for attr_name, data_type, key, dtype, field in (
        ("position", None, "vector", np.float32, "positions"),
        (COLOR_ATTRIBUTE, "BYTE_COLOR", "color_srgb", np.uint8, "srgb8"),
        (CONFIDENCE_ATTRIBUTE, "FLOAT", "value", np.float32, "confidence"),
        (VIEW_ATTRIBUTE, "INT", "value", np.int32, "view"),
        (CORNER_ATTRIBUTE, "FLOAT_VECTOR", "vector", np.float32, None),
    ):
        attr = mesh.attributes.new(attr_name, data_type, "POINT") if data_type else None
        if not n:
            continue
        attr = attr or mesh.attributes[attr_name]
        if field is None:
            fill = partial(_fill_corner_offsets, points.view, view_axes)
        else:
            fill = partial(_fill_copies, points, field)
        shape = (VERTICES_PER_POINT * n, *_VALUE_SHAPE[key])
        mesh_arrays.write(attr.data, key, dtype, shape, fill)
    # By name, after every attribute exists: the colour Workbench's Attribute colour and the material read.
    mesh.attributes.active_color_name = COLOR_ATTRIBUTE
    mesh.attributes.default_color_name = COLOR_ATTRIBUTE
    mesh.update()
    return mesh


def _fill_copies(points: PointArrays | PointViews, field: str, out: np.ndarray) -> None:
    """``out`` (``(3N, ...)``): the points' ``field`` once for each corner (corner-major)."""
    copies = out.reshape(VERTICES_PER_POINT, len(out) // VERTICES_PER_POINT, *out.shape[1:])
    points.write(field, copies[0])
    for c in range(1, VERTICES_PER_POINT):
        copies[c] = copies[0]


def _fill_corner_offsets(view: np.ndarray, view_axes: np.ndarray, out: np.ndarray) -> None:
    """``out`` (``(3N, 3)`` float32): each vertex's unit corner offset (corner-major, like the vertices) in
    the image plane of its point's camera (``view``: ``(N,)`` ascending view indices)."""
    corners = out.reshape(VERTICES_PER_POINT, len(view), 3)
    bounds = np.searchsorted(view, np.arange(len(view_axes) + 1, dtype=view.dtype))  # no int64 copy of view
    for k, (right, up) in enumerate(view_axes):
        if bounds[k + 1] > bounds[k]:
            for c, offset in enumerate(triangle_offsets(right, up, 1.0)):
                _fill_rows(corners[c, bounds[k] : bounds[k + 1]], offset)


def _fill_rows(rows: np.ndarray, row: np.ndarray) -> None:
    """Every row of the C-contiguous ``rows`` (``(m, w)``) set to ``row`` (``(w,)``), by copying ever longer
    runs of the filled start (a numpy broadcast is about 7x slower for rows of 3 values)."""
    flat = rows.view()
    flat.shape = (-1,)  # raises rather than copy when ``rows`` is not contiguous
    width = len(row)
    flat[:width] = row
    done = width
    while done < len(flat):
        step = min(done, len(flat) - done)
        flat[done : done + step] = flat[:step]
        done += step


def _add_triangles(mesh: bpy.types.Mesh, n: int) -> None:
    """3N vertices (positions written by the caller), 3N edges and N faces: face ``k`` joins vertices
    ``k``, ``N + k``, ``2N + k``; edge ``c * N + k`` runs from corner ``c`` to the next one. Corner-major,
    so that every array is written in contiguous runs."""
    total = VERTICES_PER_POINT * n
    mesh.vertices.add(total)
    mesh.edges.add(total)
    mesh.loops.add(total)
    mesh.polygons.add(n)
    point = np.arange(n, dtype=np.int32)

    def edge_verts(out: np.ndarray) -> None:  # (3N, 2): edge c*N+k from corner c to corner c+1
        edges = out.reshape(VERTICES_PER_POINT, n, 2)
        for c in range(VERTICES_PER_POINT):
            np.add(point, c * n, out=edges[c, :, 0])
            np.add(point, (c + 1) % VERTICES_PER_POINT * n, out=edges[c, :, 1])

    def corner_vert(out: np.ndarray) -> None:  # face k's corners in order: c*N+k; also its edges
        corners = out.reshape(n, VERTICES_PER_POINT)
        for c in range(VERTICES_PER_POINT):
            np.add(point, c * n, out=corners[:, c])

    mesh_arrays.write(mesh.attributes[".edge_verts"].data, "value", np.int32, (total, 2), edge_verts)
    mesh_arrays.write(mesh.attributes[".corner_vert"].data, "value", np.int32, (total,), corner_vert)
    mesh_arrays.write(mesh.attributes[".corner_edge"].data, "value", np.int32, (total,), corner_vert)

    def loop_start(out: np.ndarray) -> None:  # (N,): face k's first corner
        np.multiply(point, VERTICES_PER_POINT, out=out)

    mesh_arrays.write(mesh.polygons, "loop_start", np.int32, (n,), loop_start)


def read_points(mesh: bpy.types.Mesh) -> PointArrays:
    """The points of a DUSt3R point mesh, one entry per point (its first ``mesh["dust3r_points"]`` vertices):
    positions in the mesh's own space (apply the object's ``matrix_world`` for the world), colours (linear,
    from a BYTE_COLOR or a FLOAT_COLOR attribute), confidence, views."""
    total = len(mesh.vertices)
    n = int(mesh.get(POINTS_KEY, total))
    out = {}
    color = mesh.attributes[COLOR_ATTRIBUTE] if total else None
    byte_color = color is not None and color.data_type == "BYTE_COLOR"
    for attr_name, key, dtype in (
        ("position", "vector", np.float32),
        (COLOR_ATTRIBUTE, "color_srgb" if byte_color else "color", np.uint8 if byte_color else np.float32),
        (CONFIDENCE_ATTRIBUTE, "value", np.float32),
        (VIEW_ATTRIBUTE, "value", np.int32),
    ):
        shape = (total, *_VALUE_SHAPE[key])
        if total:
            out[attr_name] = mesh_arrays.read(mesh.attributes[attr_name].data, key, dtype, shape, n)
        else:
            out[attr_name] = np.empty((0, *shape[1:]), dtype)
    if byte_color:
        srgb8 = out[COLOR_ATTRIBUTE]
        rgba = np.empty(srgb8.shape, np.float32)
        rgba[:, :3] = linear_from_srgb(srgb8[:, :3] * np.float32(1 / 255))
        rgba[:, 3] = srgb8[:, 3] * np.float32(1 / 255)
        out[COLOR_ATTRIBUTE] = rgba
    return PointArrays(out["position"], out[COLOR_ATTRIBUTE], out[CONFIDENCE_ATTRIBUTE], out[VIEW_ATTRIBUTE])
