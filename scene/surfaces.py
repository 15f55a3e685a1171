"""Optional per-view surfaces: each view's pointmap as a mesh over its pixel grid, textured by its photo.

A quad joins four neighbouring network pixels when all four are confident and their depths agree (no quad
across a depth discontinuity). UVs map each vertex to the photo pixel it came from (CONVENTIONS.md
section 3), so the texture is the full-resolution original photo, not the 512-pixel network image.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..core.geometry.blender_camera import blender_uv_from_photo_pixels, blender_world_from_opencv_world
from ..core.geometry.photo import PhotoCrop, photo_from_net_pixels
from .geonodes import unlit_material

DEPTH_JUMP = 0.05  # a quad is dropped when max/min depth of its corners exceeds 1 + DEPTH_JUMP
UV_MAP_NAME = "Photo"


def surface_quads(valid: np.ndarray, depth: np.ndarray, max_jump: float = DEPTH_JUMP) -> np.ndarray:
    """Quads over a pixel grid, as ``(F, 4)`` int64 row-major pixel indices, counter-clockwise seen from the camera.

    Args:
        valid: ``(H, W)`` bool, pixels that may be used.
        depth: ``(H, W)`` positive depths (camera z).
        max_jump: relative depth jump beyond which neighbours are not joined.
    """
    valid = np.asarray(valid, dtype=bool)
    depth = np.asarray(depth, dtype=np.float64)
    if valid.shape != depth.shape or valid.ndim != 2:
        raise ValueError(f"valid and depth must be the same (H, W), got {valid.shape} and {depth.shape}")
    h, w = depth.shape
    idx = np.arange(h * w).reshape(h, w)
    # Corners of each cell (j, i): top-left, bottom-left, bottom-right, top-right. Image y points down, so this
    # order is counter-clockwise as the camera sees it: Blender's front side faces the camera.
    corners = [idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]]
    flat_valid = valid.ravel()
    flat_depth = np.where(valid, depth, np.nan).ravel()
    ok = np.ones((h - 1, w - 1), dtype=bool)
    for c in corners:
        ok &= flat_valid[c]
    d = np.stack([flat_depth[c] for c in corners], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok &= (d.min(-1) > 0) & (d.max(-1) <= d.min(-1) * (1.0 + max_jump))
    return np.stack([c[ok] for c in corners], axis=-1)


def create_surface_mesh(
    new, name: str, pts3d: np.ndarray, quads: np.ndarray, crop: PhotoCrop
) -> bpy.types.Mesh:
    """A mesh of ``quads`` over one view's ``(H, W, 3)`` world points (OpenCV world), UV-mapped to its photo.

    ``new`` is ``BuildRecord.new``.

    Raises:
        ValueError: no quad (a view with nothing to show: the builder skips it before calling this).
    """
    if len(quads) == 0:
        raise ValueError(f"surface {name!r} has no face")
    h, w = pts3d.shape[:2]
    used = np.unique(quads)
    remap = np.full(h * w, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    positions = blender_world_from_opencv_world(np.asarray(pts3d, dtype=np.float32).reshape(-1, 3)[used])
    loops = remap[quads].ravel()

    mesh = new("meshes", name)
    mesh.vertices.add(len(used))
    mesh.attributes["position"].data.foreach_set("vector", np.ascontiguousarray(positions).ravel())
    mesh.loops.add(len(loops))
    mesh.loops.foreach_set("vertex_index", loops.astype(np.int32))
    mesh.polygons.add(len(quads))
    mesh.polygons.foreach_set("loop_start", np.arange(0, len(loops), 4, dtype=np.int32))

    j, i = np.divmod(used, w)
    uv_photo = photo_from_net_pixels(np.stack([i, j], axis=-1), crop)
    uv = blender_uv_from_photo_pixels(uv_photo, crop.photo_size).astype(np.float32)
    uv_layer = mesh.uv_layers.new(name=UV_MAP_NAME)
    uv_layer.uv.foreach_set("vector", np.ascontiguousarray(uv[remap[quads].ravel()]).ravel())
    mesh.update(calc_edges=True)
    return mesh


def photo_material(new, name: str, image: bpy.types.Image | None) -> bpy.types.Material:
    """An unlit material showing ``image`` through the surface's photo UVs (``new`` is ``BuildRecord.new``)."""
    mat, emission = unlit_material(new, name)
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    if image is not None:
        uv = nodes.new("ShaderNodeUVMap")
        uv.uv_map = UV_MAP_NAME
        uv.location = (-500, 0)
        tex = nodes.new("ShaderNodeTexImage")
        tex.image = image
        tex.extension = "EXTEND"
        tex.location = (-300, 0)
        links.new(uv.outputs["UV"], tex.inputs["Vector"])
        links.new(tex.outputs["Color"], emission.inputs["Color"])
    return mat
