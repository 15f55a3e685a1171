"""PyAV (FFmpeg) access: the one import of ``av``, and decoded frames -> 8-bit sRGB arrays.

Video frames and 8/10/12-bit image formats are display-referred already: FFmpeg converts them to ``rgb24``
(its colour matrix from the stream, BT.709 when unknown). Float frames (OpenEXR: half or float, scene-linear)
are converted as an image viewer shows them: values clipped to ``[0, 1]``, then the sRGB transfer function
(IEC 61966-2-1), then rounded to 8 bits. Highlights above 1.0 are clipped; no tone mapping, no exposure.
"""

from __future__ import annotations

import numpy as np

from ...color import srgb_from_linear
from ...errors import DependencyError

AV_PIN = "av==18.1.0"
# Float pixel formats FFmpeg's EXR decoder produces: planar G, B, R (and A), half or single precision.
_FLOAT_FORMATS = {
    "gbrpf16le": (np.float16, 3),
    "gbrapf16le": (np.float16, 4),
    "gbrpf32le": (np.float32, 3),
    "gbrapf32le": (np.float32, 4),
    "grayf16le": (np.float16, 1),
    "grayf32le": (np.float32, 1),
}


def import_av():
    """The ``av`` module, or a :class:`DependencyError` that says how to get it."""
    try:
        import av
    except ImportError as exc:
        raise DependencyError(
            "Reading video files and EXR sequences needs PyAV (the 'av' package, bundled with the add-on); "
            f"from the command line install it with: pip install {AV_PIN}"
        ) from exc
    return av


def rgb8_from_float(linear_rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` scene-linear float RGB -> ``(H, W, 3)`` uint8 sRGB (see :func:`srgb_from_linear`)."""
    return (srgb_from_linear(linear_rgb) * 255.0 + 0.5).astype(np.uint8)


def float_planes(frame) -> np.ndarray | None:
    """``(H, W, 3)`` float32 linear RGB of a float ``av.VideoFrame``, or None when it is not a float format.

    PyAV cannot turn half-float frames into arrays, and FFmpeg's scaler clips them to ``[0, 1]`` when it
    converts; the planes are read directly instead (row stride ``line_size``).
    """
    spec = _FLOAT_FORMATS.get(frame.format.name)
    if spec is None:
        return None
    dtype, channels = spec
    h, w = frame.height, frame.width
    row = w * np.dtype(dtype).itemsize
    planes = [
        np.frombuffer(plane, dtype=np.uint8).reshape(h, plane.line_size)[:, :row].view(dtype)
        for plane in frame.planes[:channels]
    ]
    if channels == 1:
        return np.repeat(planes[0][..., None], 3, axis=-1).astype(np.float32)
    g, b, r = planes[:3]
    return np.stack([r, g, b], axis=-1).astype(np.float32)


def rgb8_from_frame(frame) -> np.ndarray:
    """``(H, W, 3)`` uint8 sRGB of a decoded ``av.VideoFrame`` (float formats: see the module docstring)."""
    linear = float_planes(frame)
    if linear is not None:
        return rgb8_from_float(linear)
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))
