"""Binary glTF 2.0 (``.glb``) of the points (or per-view surfaces) and the cameras, numpy + struct only.

Layout (glTF 2.0 specification): a 12-byte header, a JSON chunk, a BIN chunk; one buffer. The file's world is
glTF's (+Y up): points and cameras are mapped from the reconstruction's OpenCV world by
:mod:`core.geometry.gltf_frames` (baked into the vertices; camera nodes carry their world matrix).

- Points: one mesh with one ``POINTS`` primitive: ``POSITION`` (float32 VEC3, with the ``min``/``max`` the
  specification requires) and ``COLOR_0``: the sRGB colours converted to LINEAR values
  (:func:`core.color.linear_from_srgb`, as glTF defines vertex colours), stored as normalized unsigned
  16-bit RGBA (alpha 1): 8 bytes a point, aligned to 4 bytes as vertex attributes must be, and without the
  banding that 8-bit linear values show in the darks.
- ``mesh=True``: instead of the points, one mesh per view over its pixel grid: triangles between neighbouring
  confident pixels, none across a depth jump (:func:`core.geometry.surface.surface_quads`, the rule of the
  Blender surfaces), vertex colours as above, ``uint32`` indices.
- Cameras: per view a node with a perspective camera (``yfov`` and ``aspectRatio`` of its photo) and its
  world ``matrix`` (column-major); the node's ``extras`` keep what glTF cannot say: the photo's ``K``
  (continuous pixel coordinates, with ``fx`` and the principal point), ``width``, ``height``, ``image`` and
  ``frame``.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..color import linear_from_srgb
from ..geometry.gltf_frames import gltf_camera_matrix, gltf_perspective, gltf_points_from_opencv_world
from ..geometry.surface import quads_to_triangles, surface_quads
from .files import ExportError, atomic_write
from .scene import ExportScene

GENERATOR = "DUSt3R Blender extension (python -m core export)"
GLB_MAGIC = b"glTF"
GLB_VERSION = 2
CHUNK_JSON = b"JSON"
CHUNK_BIN = b"BIN\x00"
MAX_GLB_BYTES = 2**32 - 1  # the header's length field
# glTF enums
FLOAT, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
MODE_POINTS, MODE_TRIANGLES = 0, 4
ZNEAR_OF_EXTENT = 1e-3  # camera near plane: this fraction of the scene's size

# sRGB 8-bit value -> linear normalized uint16, once
_LINEAR16 = np.round(linear_from_srgb(np.arange(256, dtype=np.float32) / 255.0) * 65535.0).astype(np.uint16)


def linear_rgba16(colors: np.ndarray) -> np.ndarray:
    """``(P, 3)`` uint8 sRGB colours -> ``(P, 4)`` uint16 linear RGBA (alpha 65535), normalized 16-bit."""
    colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    out = np.empty((len(colors), 4), dtype=np.uint16)
    out[:, :3] = _LINEAR16[colors]
    out[:, 3] = 65535
    return out


def column_bounds(pts: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-column min and max of ``(P, 3)`` finite points (column by column: ``min(axis=0)`` on a tall array
    is ten times slower)."""
    return [float(pts[:, i].min()) for i in range(3)], [float(pts[:, i].max()) for i in range(3)]


@dataclass
class _Buffer:
    """The BIN chunk under construction: arrays, each at a 4-byte aligned offset, and the views onto them."""

    parts: list
    views: list
    accessors: list
    length: int = 0

    def add(self, array: np.ndarray, target: int, accessor: dict) -> int:
        data = np.ascontiguousarray(array)
        self.parts.append(data)
        self.views.append(
            {"buffer": 0, "byteOffset": self.length, "byteLength": data.nbytes, "target": target}
        )
        self.length += data.nbytes
        pad = -self.length % 4
        if pad:
            self.parts.append(np.zeros(pad, dtype=np.uint8))
            self.length += pad
        self.accessors.append({"bufferView": len(self.views) - 1, **accessor})
        return len(self.accessors) - 1

    def positions(self, pts: np.ndarray) -> int:
        low, high = column_bounds(pts)
        return self.add(
            pts,
            ARRAY_BUFFER,
            {"componentType": FLOAT, "count": len(pts), "type": "VEC3", "min": low, "max": high},
        )

    def colors(self, rgba16: np.ndarray) -> int:
        accessor = {"componentType": UNSIGNED_SHORT, "normalized": True, "count": len(rgba16), "type": "VEC4"}
        return self.add(rgba16, ARRAY_BUFFER, accessor)

    def indices(self, triangles: np.ndarray) -> int:
        flat = np.asarray(triangles, dtype=np.uint32).ravel()
        accessor = {"componentType": UNSIGNED_INT, "count": len(flat), "type": "SCALAR"}
        return self.add(flat, ELEMENT_ARRAY_BUFFER, accessor)


def _view_name(scene: ExportScene, k: int) -> str:
    stem = Path(scene.image_paths[k]).stem
    return f"{k:03d} {stem} {int(scene.frame_numbers[k])}" if scene.is_footage else f"{k:03d} {stem}"


def _surface(grid) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(positions (V, 3) OpenCV world, colours (V, 3) uint8, triangles (T, 3))`` of one view, or None."""
    quads = surface_quads(grid.confident, grid.depth)
    if len(quads) == 0:
        return None
    used, inverse = np.unique(quads, return_inverse=True)
    triangles = quads_to_triangles(inverse.reshape(quads.shape))
    return grid.pts3d.reshape(-1, 3)[used], grid.colors.reshape(-1, 3)[used], triangles


def gltf_document(scene: ExportScene, mesh: bool = False, cameras: bool = True):
    """The glTF JSON (a dict) and the BIN chunk's arrays for ``scene``, and the user-facing warnings.

    Raises:
        ExportError: nothing to write (no point or face, and no camera), or ``mesh`` without view grids.
    """
    buf = _Buffer([], [], [])
    meshes, nodes, warnings = [], [], []
    extent_pts = [scene.world_from_cam[:, :3, 3]]  # camera centres and the bounds of what is drawn
    if mesh:
        if scene.grids is None:
            raise ExportError("this source has no per-view pixel grids: a mesh export needs them")
        for k, grid in enumerate(scene.grids):
            surface = _surface(grid)
            if surface is None:
                warnings.append(f"view {_view_name(scene, k)}: no face above the confidence threshold")
                continue
            pts, rgb, triangles = surface
            extent_pts.append(np.array(column_bounds(pts)))
            primitive = {
                "attributes": {
                    "POSITION": buf.positions(gltf_points_from_opencv_world(pts)),
                    "COLOR_0": buf.colors(linear_rgba16(rgb)),
                },
                "indices": buf.indices(triangles),
                "mode": MODE_TRIANGLES,
            }
            meshes.append({"name": f"surface {_view_name(scene, k)}", "primitives": [primitive]})
            nodes.append({"name": f"surface {_view_name(scene, k)}", "mesh": len(meshes) - 1})
    elif scene.num_points:
        extent_pts.append(np.array(column_bounds(scene.points)))
        primitive = {
            "attributes": {
                "POSITION": buf.positions(gltf_points_from_opencv_world(scene.points)),
                "COLOR_0": buf.colors(linear_rgba16(scene.colors)),
            },
            "mode": MODE_POINTS,
        }
        meshes.append({"name": "points", "primitives": [primitive]})
        nodes.append({"name": "points", "mesh": 0})
    if not meshes:
        what = "face" if mesh else "point"
        if not cameras:
            raise ExportError(f"nothing to write: no {what} above the confidence threshold and no camera")
        warnings.append(f"no {what} is above the confidence threshold: the cameras are written alone")
    doc: dict = {"asset": {"version": "2.0", "generator": GENERATOR}}
    if cameras:
        znear = _znear(np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 3) for p in extent_pts]))
        doc["cameras"] = []
        for k in range(scene.num_views):
            yfov, aspect = gltf_perspective(scene.K_photo[k], scene.photo_size[k])
            doc["cameras"].append(
                {"type": "perspective", "perspective": {"yfov": yfov, "aspectRatio": aspect, "znear": znear}}
            )
            nodes.append(
                {
                    "name": f"camera {_view_name(scene, k)}",
                    "camera": k,
                    "matrix": gltf_camera_matrix(scene.world_from_cam[k]).T.ravel().tolist(),
                    "extras": {
                        "image": scene.image_paths[k],
                        "frame": int(scene.frame_numbers[k]),
                        "width": int(scene.photo_size[k, 0]),
                        "height": int(scene.photo_size[k, 1]),
                        "K": scene.K_photo[k].tolist(),
                    },
                }
            )
    doc["scene"] = 0
    doc["scenes"] = [{"name": "DUSt3R reconstruction", "nodes": list(range(len(nodes)))}]
    doc["nodes"] = nodes
    if meshes:
        doc |= {
            "meshes": meshes,
            "accessors": buf.accessors,
            "bufferViews": buf.views,
            "buffers": [{"byteLength": buf.length}],
        }
    return doc, buf.parts, buf.length, warnings


def _znear(pts: np.ndarray) -> float:
    """A near plane at :data:`ZNEAR_OF_EXTENT` of the diagonal of the box around ``pts`` ``(M, 3)``."""
    extent = float(np.linalg.norm(pts.max(axis=0) - pts.min(axis=0)))
    return extent * ZNEAR_OF_EXTENT if extent > 0 else 0.01


def write_glb(path: Path, scene: ExportScene, mesh: bool = False, cameras: bool = True) -> tuple[Path, list]:
    """Write ``scene`` as a ``.glb`` file at ``path`` (atomically); returns ``(path, warnings)``.

    Raises:
        ExportError: nothing to write, or the file would exceed the format's 4 GiB (use ``--max-points``).
    """
    doc, parts, bin_length, warnings = gltf_document(scene, mesh, cameras)
    text = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + (8 + bin_length if bin_length else 0)
    if total > MAX_GLB_BYTES:
        raise ExportError(
            f"the .glb would take {total / 2**30:.1f} GiB, over the format's 4 GiB: pass --max-points"
        )
    with atomic_write(path) as f:
        f.write(struct.pack("<4sII", GLB_MAGIC, GLB_VERSION, total))
        f.write(struct.pack("<I4s", len(text), CHUNK_JSON))
        f.write(text)
        if bin_length:
            f.write(struct.pack("<I4s", bin_length, CHUNK_BIN))
            for part in parts:
                f.write(memoryview(part).cast("B"))
    return path, warnings
