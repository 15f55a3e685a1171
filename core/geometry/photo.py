"""From the network image back to the original photo (CONVENTIONS.md section 3).

The network sees a resized and centre-cropped copy of each photo. :class:`PhotoCrop` records the facts that
tie the two together, and the functions below are the ONLY place where network pixels or intrinsics are
mapped to the photo. Network quantities are in *index* pixel coordinates (pixel column ``i`` is centred at
``u = i``); photo quantities are in *continuous* coordinates (the photo spans ``[0, W0] x [0, H0]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .cameras import intrinsics_matrix

# Two definitions of a focal length "in mm" meet here (CONVENTIONS.md section 4):
# * a TYPED focal (Blender's camera lens, the CLI's --focal-mm): Blender's default 36 mm film back on the
#   photo's LONG side, so focal / 36 mm = focal_px / long_side_px. It is what the Blender camera will show.
# * EXIF FocalLengthIn35mmFilm: the 35 mm equivalent, defined on the DIAGONAL of the 36 x 24 mm full frame
#   (43.27 mm), so focal / 43.27 mm = focal_px / diagonal_px. The two agree only for 3:2 photos; the long-side
#   rule is 4 % off for 4:3 photos and 5 % for 16:9.
# The one definition of the film back (36 mm, the 35 mm frame's long side): the core's and Blender's default.
FILM_LONG_SIDE_MM = 36.0
FILM_SHORT_SIDE_MM = 24.0
FULL_FRAME_DIAGONAL_MM = math.hypot(FILM_LONG_SIDE_MM, FILM_SHORT_SIDE_MM)  # 43.267 mm


@dataclass(frozen=True)
class PhotoCrop:
    """How one photo became a network image.

    Attributes:
        photo_size: ``(W0, H0)`` of the photo after EXIF orientation, pixels.
        resized_size: ``(W1, H1)`` after the resize, pixels.
        crop_offset: ``(ox, oy)``, left/top of the centre crop in resized pixels.
        net_size: ``(W2, H2)`` of the network image, pixels.
    """

    photo_size: tuple[int, int]
    resized_size: tuple[int, int]
    crop_offset: tuple[int, int]
    net_size: tuple[int, int]

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Photo pixels per resized pixel, ``(W0 / W1, H0 / H1)``."""
        return (self.photo_size[0] / self.resized_size[0], self.photo_size[1] / self.resized_size[1])


def index_to_continuous(uv_index: np.ndarray) -> np.ndarray:
    """Index pixel coordinates ``(..., 2)`` (pixel centre at integers) -> continuous ones (centre at
    ``i + 0.5``), float64, same shape."""
    return np.asarray(uv_index, dtype=np.float64) + 0.5


def continuous_to_index(uv_cont: np.ndarray) -> np.ndarray:
    """Continuous pixel coordinates ``(..., 2)`` -> index ones (float64, same shape); inverse of
    :func:`index_to_continuous`."""
    return np.asarray(uv_cont, dtype=np.float64) - 0.5


def photo_from_net_pixels(uv_net_index: np.ndarray, crop: PhotoCrop) -> np.ndarray:
    """Map network pixels ``(..., 2)`` (u, v) in index coordinates to photo pixels in continuous ones.

    Returns:
        ``(..., 2)`` float64 photo pixels: ``((u + 0.5 + ox) * W0 / W1, (v + 0.5 + oy) * H0 / H1)``.
    """
    uv = index_to_continuous(_pixels(uv_net_index))
    return (uv + crop.crop_offset) * crop.scale_xy


def net_from_photo_pixels(uv_photo_cont: np.ndarray, crop: PhotoCrop) -> np.ndarray:
    """Inverse of :func:`photo_from_net_pixels`: ``(..., 2)`` continuous photo pixels -> float64 network
    pixels in index coordinates."""
    uv = continuous_to_index(_pixels(uv_photo_cont) / crop.scale_xy)
    return uv - crop.crop_offset


def _pixels(uv: np.ndarray) -> np.ndarray:
    uv = np.asarray(uv, dtype=np.float64)
    if uv.shape[-1:] != (2,):
        raise ValueError(f"expected (..., 2) pixel coordinates, got shape {uv.shape}")
    return uv


def K_photo_from_K_net(K_net: np.ndarray, crop: PhotoCrop) -> np.ndarray:
    """Intrinsics of the network image (index coords) -> intrinsics of the photo (continuous coords).

    ``fx0 = fx2 * W0 / W1``, ``fy0 = fy2 * H0 / H1``, ``cx0 = (cx2 + 0.5 + ox) * W0 / W1``,
    ``cy0 = (cy2 + 0.5 + oy) * H0 / H1``.
    """
    K_net = np.asarray(K_net, dtype=np.float64)
    if K_net.shape != (3, 3):
        raise ValueError(f"K_net must be 3x3, got shape {K_net.shape}")
    sx, sy = crop.scale_xy
    cx0, cy0 = photo_from_net_pixels(K_net[:2, 2], crop)
    return intrinsics_matrix(K_net[0, 0] * sx, K_net[1, 1] * sy, cx0, cy0)


def K_net_from_K_photo(K_photo: np.ndarray, crop: PhotoCrop) -> np.ndarray:
    """Inverse of :func:`K_photo_from_K_net`."""
    K_photo = np.asarray(K_photo, dtype=np.float64)
    if K_photo.shape != (3, 3):
        raise ValueError(f"K_photo must be 3x3, got shape {K_photo.shape}")
    sx, sy = crop.scale_xy
    cx2, cy2 = net_from_photo_pixels(K_photo[:2, 2], crop)
    return intrinsics_matrix(K_photo[0, 0] / sx, K_photo[1, 1] / sy, cx2, cy2)


def crop_from_intrinsics(
    K_net: np.ndarray, K_photo: np.ndarray, photo_size: tuple[int, int], net_size: tuple[int, int]
) -> PhotoCrop:
    """Recover how a photo became its network image from its two intrinsics (they are tied by that crop).

    Inverse of :func:`K_photo_from_K_net` for the crop: ``fx0 = fx2 * W0 / W1`` gives ``W1``;
    ``cx0 = (cx2 + 0.5 + ox) * W0 / W1`` gives ``ox`` (same for y). Values within 1e-6 of an integer are
    rounded (they are integers when the core made them).

    Args:
        K_net: ``(3, 3)`` intrinsics of the network image, index pixel coordinates.
        K_photo: ``(3, 3)`` intrinsics of the photo, continuous pixel coordinates.
        photo_size: ``(W0, H0)`` pixels; net_size: ``(W2, H2)`` pixels.
    """
    K_net = np.asarray(K_net, dtype=np.float64)
    K_photo = np.asarray(K_photo, dtype=np.float64)
    if K_net.shape != (3, 3) or K_photo.shape != (3, 3):
        raise ValueError(f"K_net and K_photo must be 3x3, got shapes {K_net.shape} and {K_photo.shape}")
    w0, h0 = (int(v) for v in photo_size)
    sx, sy = K_photo[0, 0] / K_net[0, 0], K_photo[1, 1] / K_net[1, 1]
    resized = (w0 / sx, h0 / sy)
    offset = (K_photo[0, 2] / sx - K_net[0, 2] - 0.5, K_photo[1, 2] / sy - K_net[1, 2] - 0.5)

    def tidy(v: float):
        return int(round(v)) if abs(v - round(v)) < 1e-6 else v

    return PhotoCrop(
        photo_size=(w0, h0),
        resized_size=(tidy(resized[0]), tidy(resized[1])),
        crop_offset=(tidy(offset[0]), tidy(offset[1])),
        net_size=tuple(int(v) for v in net_size),
    )


def _check_mm(focal_mm: float) -> None:
    if not np.isfinite(focal_mm) or focal_mm <= 0:
        raise ValueError(f"focal length must be a positive number of millimetres, got {focal_mm!r}")


def _net_from_photo_focal(f_photo: float, crop: PhotoCrop) -> float:
    """Photo pixels -> network pixels: ``f0 * W1 / W0`` (the network model has one focal for both axes;
    ``W1/W0`` and ``H1/H0`` differ only by the rounding of the resize)."""
    return f_photo * crop.resized_size[0] / crop.photo_size[0]


def focal_net_from_35mm(focal_35mm: float, crop: PhotoCrop) -> float:
    """A TYPED focal length (mm on a 36 mm film back on the photo's LONG side, i.e. the lens the Blender
    camera shows; the 35 mm equivalent only for 3:2 photos) -> network focal in pixels.

    The photo focal is ``f0 = focal_35mm / 36 * max(W0, H0)`` photo pixels; on the network image it is
    ``f0 * W1 / W0``. For EXIF's ``FocalLengthIn35mmFilm`` use :func:`focal_net_from_exif_35mm`.
    """
    _check_mm(focal_35mm)
    w0, h0 = crop.photo_size
    return _net_from_photo_focal(focal_35mm / FILM_LONG_SIDE_MM * max(w0, h0), crop)


def focal_35mm_from_net(focal_net: float, crop: PhotoCrop) -> float:
    """Inverse of :func:`focal_net_from_35mm`: network pixels -> mm on a 36 mm long-side film back."""
    w0, h0 = crop.photo_size
    f_photo = focal_net * w0 / crop.resized_size[0]
    return f_photo * FILM_LONG_SIDE_MM / max(w0, h0)


def focal_photo_from_exif_35mm(focal_35mm: float, photo_size: tuple[int, int]) -> float:
    """EXIF ``FocalLengthIn35mmFilm`` (mm, defined on the 43.27 mm full-frame DIAGONAL) -> photo pixels.

    ``f0 = focal_35mm / 43.27 * hypot(W0, H0)`` with ``photo_size = (W0, H0)`` after EXIF orientation.
    """
    _check_mm(focal_35mm)
    w0, h0 = photo_size
    return focal_35mm / FULL_FRAME_DIAGONAL_MM * math.hypot(w0, h0)


def focal_net_from_exif_35mm(focal_35mm: float, crop: PhotoCrop) -> float:
    """EXIF ``FocalLengthIn35mmFilm`` (mm, on the full-frame diagonal) -> network focal in pixels."""
    return _net_from_photo_focal(focal_photo_from_exif_35mm(focal_35mm, crop.photo_size), crop)
