"""Binary little-endian PLY of the exported points.

One ``vertex`` element with ``x y z`` (float32, world units), ``red green blue`` (uchar, sRGB) and
``confidence`` (float32: the network's confidence, >= 1; higher is surer; the export keeps only points above
``--min-conf``). Gaussian-splat trainers, nerfstudio (through Open3D), Blender, CloudCompare and MeshLab read
it; readers that do not know ``confidence`` skip it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .files import atomic_write
from .scene import ExportScene

VERTEX = np.dtype(
    [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1"),
     ("confidence", "<f4")]
)  # fmt: skip


def ply_header(num_points: int) -> bytes:
    """The ASCII header of a PLY holding ``num_points`` vertices of :data:`VERTEX`."""
    lines = [
        "ply",
        "format binary_little_endian 1.0",
        "comment written by the DUSt3R Blender extension (python -m core export)",
        "comment confidence: the network's confidence of each point (>= 1, higher is surer)",
        f"element vertex {num_points}",
        "property float x",
        "property float y",
        "property float z",
        "property uchar red",
        "property uchar green",
        "property uchar blue",
        "property float confidence",
        "end_header",
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


def write_ply(path: Path, scene: ExportScene) -> Path:
    """Write the points of ``scene`` to ``path`` (atomically); returns ``path``."""
    vertices = np.empty(scene.num_points, dtype=VERTEX)
    for axis, name in enumerate("xyz"):
        vertices[name] = scene.points[:, axis]
    for channel, name in enumerate(("red", "green", "blue")):
        vertices[name] = scene.colors[:, channel]
    vertices["confidence"] = scene.confidence
    with atomic_write(path) as f:
        f.write(ply_header(scene.num_points))
        f.write(vertices.tobytes())
    return path
