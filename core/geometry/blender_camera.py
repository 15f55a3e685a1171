"""OpenCV <-> Blender conversion: the ONE place where axes flip and pixels become lens/sensor/shift or UVs.

Pure numpy, no bpy (CONVENTIONS.md section 4). The Blender side only copies the numbers computed here onto
datablocks, and the tests check the result with Blender's own projection (``world_to_camera_view``).

Frames:
- ``blender_world_from_opencv_world``: x stays, OpenCV +z (forward) becomes Blender +Y, OpenCV +y (down)
  becomes Blender -Z, so the first camera of a reconstruction looks along +Y with +Z up.
- A Blender camera looks down its local -Z with local +Y up; an OpenCV camera looks down +z with +y down, so
  ``blender_cam_from_opencv_cam = diag(1, -1, -1, 1)`` (its own inverse).

Intrinsics are those of the ORIGINAL photo (``W0 x H0``) in continuous pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .photo import FILM_LONG_SIDE_MM
from .transforms import invert_rigid

SENSOR_MM = FILM_LONG_SIDE_MM  # the 35 mm film frame's long side, attached to the photo's long side

BLENDER_WORLD_FROM_OPENCV_WORLD = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)
OPENCV_WORLD_FROM_BLENDER_WORLD = BLENDER_WORLD_FROM_OPENCV_WORLD.T.copy()
OPENCV_CAM_FROM_BLENDER_CAM = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class BlenderCameraParams:
    """Everything a Blender camera and the scene's render settings need to reproduce one photo's camera.

    Attributes:
        matrix_world: ``(4, 4)`` float64, the camera object's ``matrix_world`` (Blender world, Blender axes).
        lens: focal length in mm, on a 36 mm sensor side that spans the photo's long side.
        sensor_fit: ``"HORIZONTAL"`` (landscape and square photos) or ``"VERTICAL"`` (portrait).
        sensor_width, sensor_height: mm; the fitted side is 36 mm, the other one is the photo's aspect of it.
        shift_x, shift_y: principal-point shift in units of the fitted dimension.
        resolution: ``(W0, H0)`` render resolution in pixels.
        pixel_aspect: ``(pixel_aspect_x, pixel_aspect_y)``, both >= 1, carrying ``fx != fy``.
    """

    matrix_world: np.ndarray
    lens: float
    sensor_fit: str
    sensor_width: float
    sensor_height: float
    shift_x: float
    shift_y: float
    resolution: tuple[int, int]
    pixel_aspect: tuple[float, float]


def blender_world_from_opencv_world(pts: np.ndarray) -> np.ndarray:
    """Map points ``(..., 3)`` from a reconstruction's OpenCV world to the Blender world (float32 in, out)."""
    pts = np.asarray(pts)
    if pts.shape[-1:] != (3,):
        raise ValueError(f"points must have shape (..., 3), got {pts.shape}")
    # [x, y, z] -> [x, z, -y]: a permutation and a sign, exact in any float type.
    out = np.empty_like(pts)
    out[..., 0] = pts[..., 0]
    out[..., 1] = pts[..., 2]
    out[..., 2] = -pts[..., 1]
    return out


def blender_uv_from_photo_pixels(uv_photo: np.ndarray, photo_size: tuple[int, int]) -> np.ndarray:
    """Continuous photo pixels ``(..., 2)`` (origin top-left, v down) -> Blender texture UVs, float64.

    Blender's UV space spans the image as ``[0, 1] x [0, 1]`` with its origin at the BOTTOM-left:
    ``(u0 / W0, 1 - v0 / H0)`` for a photo of ``photo_size = (W0, H0)`` pixels.
    """
    uv = np.asarray(uv_photo, dtype=np.float64)
    if uv.shape[-1:] != (2,):
        raise ValueError(f"photo pixels must have shape (..., 2), got {uv.shape}")
    w0, h0 = photo_size
    return np.stack([uv[..., 0] / w0, 1.0 - uv[..., 1] / h0], axis=-1)


def matrix_world_from_world_from_cam(world_from_cam: np.ndarray) -> np.ndarray:
    """OpenCV ``world_from_cam`` ``(4, 4)`` -> the Blender camera object's ``matrix_world`` ``(4, 4)``."""
    world_from_cam = np.asarray(world_from_cam, dtype=np.float64)
    if world_from_cam.shape != (4, 4):
        raise ValueError(f"world_from_cam must be (4, 4), got {world_from_cam.shape}")
    return BLENDER_WORLD_FROM_OPENCV_WORLD @ world_from_cam @ OPENCV_CAM_FROM_BLENDER_CAM


def world_from_cam_from_matrix_world(matrix_world: np.ndarray) -> np.ndarray:
    """Inverse of :func:`matrix_world_from_world_from_cam` (Blender camera ``matrix_world`` -> OpenCV)."""
    matrix_world = np.asarray(matrix_world, dtype=np.float64)
    if matrix_world.shape != (4, 4):
        raise ValueError(f"matrix_world must be (4, 4), got {matrix_world.shape}")
    return OPENCV_WORLD_FROM_BLENDER_WORLD @ matrix_world @ OPENCV_CAM_FROM_BLENDER_CAM


def blender_camera_from_opencv(
    world_from_cam: np.ndarray, K_photo: np.ndarray, photo_size: tuple[int, int]
) -> BlenderCameraParams:
    """A photo's OpenCV camera -> Blender camera and render settings (CONVENTIONS.md section 4).

    Args:
        world_from_cam: ``(4, 4)`` camera-to-world, OpenCV axes, in the reconstruction's world.
        K_photo: ``(3, 3)`` intrinsics of the photo, continuous pixel coordinates, zero skew.
        photo_size: ``(W0, H0)`` pixels, after EXIF orientation.
    """
    K = np.asarray(K_photo, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f"K_photo must be (3, 3), got {K.shape}")
    w0, h0 = (int(v) for v in photo_size)
    if w0 < 1 or h0 < 1:
        raise ValueError(f"photo size must be positive, got {photo_size}")
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if not (fx > 0 and fy > 0) or not np.isfinite([fx, fy, cx, cy]).all():
        raise ValueError(f"focal lengths must be positive and finite, got fx={fx}, fy={fy}")
    if abs(K[0, 1]) > 1e-9 * fx:
        raise ValueError(f"Blender cameras have no skew, K_photo[0, 1] = {K[0, 1]}")

    # Blender wants both pixel aspects >= 1; ycor = pixel height / pixel width = fx / fy.
    pixel_aspect = (1.0, fx / fy) if fx >= fy else (fy / fx, 1.0)
    ycor = pixel_aspect[1] / pixel_aspect[0]
    if w0 >= h0:
        sensor_fit, viewfac = "HORIZONTAL", float(w0)
        lens = fx * SENSOR_MM / w0
        sensor_width, sensor_height = SENSOR_MM, SENSOR_MM * h0 * ycor / w0
    else:
        sensor_fit, viewfac = "VERTICAL", ycor * h0
        lens = fy * SENSOR_MM / h0
        sensor_width, sensor_height = SENSOR_MM * w0 / (ycor * h0), SENSOR_MM
    return BlenderCameraParams(
        matrix_world=matrix_world_from_world_from_cam(world_from_cam),
        lens=float(lens),
        sensor_fit=sensor_fit,
        sensor_width=float(sensor_width),
        sensor_height=float(sensor_height),
        shift_x=float((w0 / 2.0 - cx) / viewfac),
        shift_y=float((cy - h0 / 2.0) * ycor / viewfac),
        resolution=(w0, h0),
        pixel_aspect=(float(pixel_aspect[0]), float(pixel_aspect[1])),
    )


def opencv_from_blender_camera(params: BlenderCameraParams) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`blender_camera_from_opencv`: Blender camera -> ``(K_photo, cam_from_world)``.

    Follows Blender's own view-plane computation, so it also reads cameras that were not made by us
    (any explicit sensor fit; ``"AUTO"`` picks the long side of the aspect-corrected frame as Blender does).

    Returns:
        ``K_photo`` ``(3, 3)`` (continuous pixels of a ``resolution`` image) and ``cam_from_world`` ``(4, 4)``
        (OpenCV axes, in the reconstruction's OpenCV world).
    """
    w0, h0 = params.resolution
    aspx, aspy = params.pixel_aspect
    ycor = aspy / aspx
    fit = params.sensor_fit
    if fit == "AUTO":
        fit = "HORIZONTAL" if aspx * w0 >= aspy * h0 else "VERTICAL"
        sensor = params.sensor_width
    else:
        sensor = params.sensor_width if fit == "HORIZONTAL" else params.sensor_height
    viewfac = float(w0) if fit == "HORIZONTAL" else ycor * h0
    # Blender: one pixel spans sensor / (lens * viewfac) in x, ycor times that in y, at unit distance.
    fx = params.lens * viewfac / sensor
    fy = fx / ycor
    cx = w0 / 2.0 - params.shift_x * viewfac
    cy = h0 / 2.0 + params.shift_y * viewfac / ycor
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    return K, invert_rigid(world_from_cam_from_matrix_world(params.matrix_world))
