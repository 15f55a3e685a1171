"""OpenCV (and Blender) <-> glTF 2.0 frames: the one place where glTF's axes are set, next to the Blender ones.

Pure numpy, no bpy. glTF's world is right-handed with +Y up; a glTF camera looks down its local -Z with +Y up
and projects with a vertical field of view ``yfov`` and an ``aspectRatio`` (width / height), its principal
point at the image centre (glTF 2.0 specification, "Cameras").

Frames (INTERFACES.md, ``export --format glb``):
- ``gltf_world_from_opencv_world = F = diag(1, -1, -1)``: OpenCV's world has y down and z forward (the first
  camera's axes), so flipping y and z puts the first camera upright, looking along glTF -Z.
- ``opencv_cam_from_gltf_cam = diag(1, -1, -1)`` (its own inverse), so a camera's glTF world transform is
  ``F @ world_from_cam @ F``.
- ``gltf_world_from_blender_world``: what Blender's own glTF exporter does with +Y up: ``(x, y, z) ->
  (x, z, -y)``. A Blender camera object looks down -Z with +Y up like a glTF camera, so that exporter writes
  its ``matrix_world`` mapped by this matrix alone. Composed with the Blender world of a reconstruction
  (:data:`~core.geometry.blender_camera.BLENDER_WORLD_FROM_OPENCV_WORLD`) it is exactly ``F``: a scene
  exported from Blender (mapped back to OpenCV, then by ``F``) is the file Blender's exporter would write.
"""

from __future__ import annotations

import math

import numpy as np

GLTF_WORLD_FROM_OPENCV_WORLD = np.diag([1.0, -1.0, -1.0, 1.0])
OPENCV_CAM_FROM_GLTF_CAM = np.diag([1.0, -1.0, -1.0, 1.0])
GLTF_WORLD_FROM_BLENDER_WORLD = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


def gltf_points_from_opencv_world(pts: np.ndarray) -> np.ndarray:
    """Points ``(..., 3)`` of a reconstruction's OpenCV world -> glTF world, float32 (``(x, -y, -z)``)."""
    pts = np.asarray(pts)
    if pts.shape[-1:] != (3,):
        raise ValueError(f"points must have shape (..., 3), got {pts.shape}")
    out = np.empty(pts.shape, dtype=np.float32)
    out[..., 0] = pts[..., 0]
    np.negative(pts[..., 1], out=out[..., 1])
    np.negative(pts[..., 2], out=out[..., 2])
    return out


def gltf_camera_matrix(world_from_cam: np.ndarray) -> np.ndarray:
    """OpenCV ``world_from_cam`` ``(4, 4)`` -> the glTF camera node's world matrix ``(4, 4)`` float64
    (row-major here; glTF stores it column-major)."""
    world_from_cam = np.asarray(world_from_cam, dtype=np.float64)
    if world_from_cam.shape != (4, 4):
        raise ValueError(f"world_from_cam must be (4, 4), got {world_from_cam.shape}")
    return GLTF_WORLD_FROM_OPENCV_WORLD @ world_from_cam @ OPENCV_CAM_FROM_GLTF_CAM


def gltf_perspective(K_photo: np.ndarray, photo_size: tuple[int, int]) -> tuple[float, float]:
    """``(yfov, aspectRatio)`` of a photo's camera: ``yfov = 2 atan(H0 / (2 fy))`` radians, ``W0 / H0``.

    glTF has no principal point and one focal: a viewer shows the photo's vertical field of view about the
    image centre; ``fx`` and the principal point of ``K_photo`` (continuous pixels) are not representable (the
    writer keeps them in the node's ``extras``).
    """
    K = np.asarray(K_photo, dtype=np.float64)
    w0, h0 = (int(v) for v in photo_size)
    fy = float(K[1, 1])
    if not (fy > 0 and math.isfinite(fy)) or w0 < 1 or h0 < 1:
        raise ValueError(f"need a positive focal and photo size, got fy={fy}, size={photo_size}")
    return 2.0 * math.atan(h0 / (2.0 * fy)), w0 / h0
