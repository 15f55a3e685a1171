"""The numbers of a footage camera that the photo cameras do not have: film back, tracking camera, frame rate.

No bpy: plain numbers computed from the core's cameras, so that the builder only copies them onto datablocks
and the tests check them with Blender's own projection and distortion (the one OpenCV <-> Blender mapping of
poses, lens and shift stays ``core.geometry.blender_camera``; this module only rescales its film back and
adds the Movie Clip's tracking camera).

Blender's tracking camera (``MovieClip.tracking.camera``, the Movie Clip Editor and the Movie Distortion
node) uses libmv's POLYNOMIAL model: a camera point's normalised coordinates ``x_u = (X/Z, Y/Z)`` become
``x_d = x_u (1 + k1 r^2 + k2 r^4 + k3 r^6)`` and the pixel is ``f * x_d + c``, with the focal in pixels of
the clip's width (``focal_length_pixels``; ``focal_length`` mm = pixels * ``sensor_width`` / width), the
vertical focal ``pixel_aspect`` times it, and pixels measured from the BOTTOM-left corner of the frame
(``principal_point_pixels``). That is OpenCV's radial model of ``core.geometry.distortion`` with ``k3 = 0``
once ``v`` is flipped, so ``(k1, k2)`` carry over unchanged (checked against the Movie Distortion node in
tests/blender/test_footage_distortion.py).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..core.geometry.blender_camera import SENSOR_MM, BlenderCameraParams, blender_camera_from_opencv

MAX_FPS_DENOMINATOR = 1001  # NTSC rates: 24000/1001, 30000/1001, 60000/1001


def footage_camera_params(
    world_from_cam: np.ndarray, K_photo: np.ndarray, photo_size: tuple[int, int], sensor_mm: float
) -> BlenderCameraParams:
    """CONVENTIONS.md section 4 with the shot's film back ``sensor_mm`` on the long side instead of 36 mm.

    Lens and both sensor sides scale by ``sensor_mm / 36``; the projection (lens over sensor), the shift and
    the pose are those of :func:`~core.geometry.blender_camera.blender_camera_from_opencv`.
    """
    if not (math.isfinite(sensor_mm) and sensor_mm > 0):
        raise ValueError(f"the film back must be a positive number of mm, got {sensor_mm}")
    params = blender_camera_from_opencv(world_from_cam, K_photo, photo_size)
    scale = float(sensor_mm) / SENSOR_MM
    return dataclasses.replace(
        params,
        lens=params.lens * scale,
        sensor_width=params.sensor_width * scale,
        sensor_height=params.sensor_height * scale,
    )


@dataclass(frozen=True)
class TrackingCamera:
    """What a Movie Clip's tracking camera gets (Blender's names; see the module docstring).

    Attributes:
        sensor_width: mm across the frame's WIDTH (the camera's ``sensor_width`` for landscape frames).
        focal_length_pixels: the focal in pixels of the frame's width (``fx``).
        pixel_aspect: ``fy / fx`` (Blender: the vertical focal over the horizontal one).
        principal_point_pixels: ``(cx, H - cy)``: continuous pixels from the bottom-left corner.
        k1, k2, k3: POLYNOMIAL radial distortion (``k3`` is always 0: our model has two terms).
    """

    sensor_width: float
    focal_length_pixels: float
    pixel_aspect: float
    principal_point_pixels: tuple[float, float]
    k1: float
    k2: float
    k3: float = 0.0

    def focal_mm(self, width: int) -> float:
        """The focal in mm as Blender shows it for a clip ``width`` pixels wide."""
        return self.focal_length_pixels * self.sensor_width / float(width)


def tracking_camera(params: BlenderCameraParams, K_photo: np.ndarray, dist) -> TrackingCamera:
    """The tracking camera of a frame whose Blender camera is ``params`` (so that ``focal_length`` in mm
    equals the camera's ``lens``) with intrinsics ``K_photo`` (continuous, v down) and ``dist = (k1, k2)``."""
    K = np.asarray(K_photo, dtype=np.float64)
    k1, k2 = (float(v) for v in np.asarray(dist, dtype=np.float64).reshape(2))
    _w0, h0 = params.resolution
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    return TrackingCamera(
        sensor_width=float(params.sensor_width),
        focal_length_pixels=float(fx),
        pixel_aspect=float(fy / fx),
        principal_point_pixels=(float(cx), float(h0 - cy)),
        k1=k1,
        k2=k2,
    )


def blender_frame_rate(fps: float, fps_rational: tuple[int, int] | None = None) -> tuple[int, float]:
    """``(render.fps, render.fps_base)`` for a rate: ``24000/1001`` -> ``(24, 1.001)``, ``25`` -> ``(25, 1.0)``.

    ``fps_rational`` ``(num, den)`` is used when known (videos); otherwise ``fps`` is read as the nearest
    fraction with a denominator up to 1001.

    Raises:
        ValueError: no positive rate.
    """
    if fps_rational is not None and fps_rational[0] > 0 and fps_rational[1] > 0:
        rate = Fraction(int(fps_rational[0]), int(fps_rational[1]))
    elif math.isfinite(fps) and fps > 0:
        rate = Fraction(fps).limit_denominator(MAX_FPS_DENOMINATOR)
    else:
        raise ValueError(f"no frame rate: {fps!r}")
    whole = max(1, round(rate))
    return whole, float(whole / rate)


def lens_changes(K_photo: np.ndarray, rtol: float = 1e-9) -> bool:
    """True when the views' intrinsics differ (a zoom): the lens and shift are then keyed per frame."""
    K = np.asarray(K_photo, dtype=np.float64)
    return bool(len(K) > 1 and not np.allclose(K, K[0], rtol=rtol, atol=0.0))
