"""Grey image pyramids and bilinear sampling for the image matcher (numpy + scipy.ndimage).

Pixels are in INDEX coordinates (CONVENTIONS.md section 2): ``(x, y)`` = (column, row), the centre of pixel
``(i, j)`` at ``(i, j)``. Level ``L`` of a pyramid halves the image ``L`` times; a point ``x`` of level 0 is at
``(x + 0.5) / 2**L - 0.5`` on level ``L`` (:func:`to_level`), the same continuous position.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

# ITU-R BT.601 luma weights: the grey value the matcher compares.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def to_grey(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` RGB or ``(H, W)`` grey, uint8 or float -> ``(H, W)`` float32 grey in ``[0, 1]`` for uint8
    input (float input keeps its range)."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        img = img[..., :3].astype(np.float32) @ _LUMA
    elif img.ndim != 2:
        raise ValueError(f"an image must be (H, W) or (H, W, 3), got shape {img.shape}")
    img = img.astype(np.float32)
    if np.asarray(image).dtype == np.uint8:
        img /= 255.0
    return img


def build_pyramid(grey: np.ndarray, levels: int, presmooth: float = 0.8) -> list[np.ndarray]:
    """A Gaussian pyramid of ``levels`` float32 images, level 0 at full size.

    Args:
        grey: ``(H, W)`` float image.
        levels: number of levels (>= 1); a level stops being added once a side would fall under 8 pixels.
        presmooth: Gaussian sigma (pixels) applied to level 0, against aliasing and sensor noise.
    """
    if levels < 1:
        raise ValueError(f"a pyramid needs at least one level, got {levels}")
    base = np.asarray(grey, dtype=np.float32)
    if presmooth > 0:
        base = ndimage.gaussian_filter(base, presmooth, mode="nearest")
    pyramid = [base]
    while len(pyramid) < levels and min(pyramid[-1].shape) >= 16:
        blurred = ndimage.gaussian_filter(pyramid[-1], 1.0, mode="nearest")
        h, w = pyramid[-1].shape
        # average 2x2 blocks: the centre of new pixel i is at old 2i + 0.5, as to_level says
        b = blurred[: h - h % 2, : w - w % 2]
        pyramid.append(0.25 * (b[0::2, 0::2] + b[1::2, 0::2] + b[0::2, 1::2] + b[1::2, 1::2]))
    return pyramid


def to_level(xy: np.ndarray, level: int) -> np.ndarray:
    """Level-0 index coordinates ``(..., 2)`` -> level ``level`` index coordinates (float64)."""
    return (np.asarray(xy, dtype=np.float64) + 0.5) / (2.0**level) - 0.5


def from_level(xy: np.ndarray, level: int) -> np.ndarray:
    """Inverse of :func:`to_level`."""
    return (np.asarray(xy, dtype=np.float64) + 0.5) * (2.0**level) - 0.5


def sample(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``image`` ``(H, W)`` at ``xy`` ``(..., 2)`` index coordinates -> ``(...)`` float32.

    Outside the image the border value continues (check bounds with :func:`inside`). Plain numpy gathers:
    about twice as fast as ``scipy.ndimage.map_coordinates`` for the scattered points of the matcher.
    """
    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape
    if h < 2 or w < 2:
        raise ValueError(f"cannot interpolate an image of {w}x{h} pixels")
    xy = np.asarray(xy)
    x = np.clip(xy[..., 0], 0.0, w - 1.0)
    y = np.clip(xy[..., 1], 0.0, h - 1.0)
    x0 = np.minimum(x.astype(np.int32), w - 2)
    y0 = np.minimum(y.astype(np.int32), h - 2)
    fx = (x - x0).astype(np.float32)
    fy = (y - y0).astype(np.float32)
    flat = img.ravel()
    i = y0 * w + x0  # int32 indices (images are far below 2**31 pixels): half the memory traffic
    a, b = flat[i], flat[i + 1]
    i += w
    c, d = flat[i], flat[i + 1]
    top = a + fx * (b - a)
    return top + fy * ((c + fx * (d - c)) - top)


def inside(xy: np.ndarray, shape: tuple[int, int], margin: float = 0.0) -> np.ndarray:
    """``(...)`` bool: ``xy`` ``(..., 2)`` lies at least ``margin`` pixels inside an image of ``shape`` (H, W)."""
    xy = np.asarray(xy)
    h, w = shape[:2]
    return (
        (xy[..., 0] >= margin)
        & (xy[..., 0] <= w - 1 - margin)
        & (xy[..., 1] >= margin)
        & (xy[..., 1] <= h - 1 - margin)
        & np.isfinite(xy).all(axis=-1)
    )
