"""A view as the refinement sees it: the image it matches on, the aligned camera and the dense geometry.

The refinement matches on its own copy of each photo (the photo itself, or a working copy of a few
megapixels; for ``python -m core align --refine`` the network image). Its pixels are tied to the network
image's pixels through the ORIGINAL photo, with :mod:`core.geometry.photo` (the only photo <-> network
mapping): :class:`ImageFrame` holds the two crops. All pixels here are index coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry.photo import (
    K_net_from_K_photo,
    K_photo_from_K_net,
    PhotoCrop,
    net_from_photo_pixels,
    photo_from_net_pixels,
)


def identity_crop(width: int, height: int) -> PhotoCrop:
    """The crop of an image that IS the photo (no resize, no crop)."""
    size = (int(width), int(height))
    return PhotoCrop(photo_size=size, resized_size=size, crop_offset=(0, 0), net_size=size)


def resize_crop(photo_size: tuple[int, int], size: tuple[int, int]) -> PhotoCrop:
    """The crop of a plain resize of the whole photo ``photo_size`` (W0, H0) to ``size`` (W, H)."""
    size = (int(size[0]), int(size[1]))
    return PhotoCrop(photo_size=tuple(int(v) for v in photo_size), resized_size=size, crop_offset=(0, 0),
                     net_size=size)  # fmt: skip


@dataclass(frozen=True)
class ImageFrame:
    """How the refinement image of a view and its network image relate, through the original photo.

    Attributes:
        net_crop: how the photo became the network image.
        image_crop: how the photo became the refinement image (a plain resize, or the identity).
    """

    net_crop: PhotoCrop
    image_crop: PhotoCrop

    def net_from_image(self, uv: np.ndarray) -> np.ndarray:
        """``(..., 2)`` refinement-image pixels -> network-image pixels (index coordinates, float64)."""
        return net_from_photo_pixels(photo_from_net_pixels(uv, self.image_crop), self.net_crop)

    def image_from_net(self, uv: np.ndarray) -> np.ndarray:
        """``(..., 2)`` network-image pixels -> refinement-image pixels (index coordinates, float64)."""
        return net_from_photo_pixels(photo_from_net_pixels(uv, self.net_crop), self.image_crop)

    def K_image(self, K_net: np.ndarray) -> np.ndarray:
        """``(3, 3)`` intrinsics of the network image -> those of the refinement image."""
        return K_net_from_K_photo(K_photo_from_K_net(K_net, self.net_crop), self.image_crop)

    def K_net(self, K_image: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`K_image`."""
        return K_net_from_K_photo(K_photo_from_K_net(K_image, self.image_crop), self.net_crop)

    @property
    def photo_px_per_image_px(self) -> tuple[float, float]:
        """Photo pixels per refinement-image pixel along x and y (solve errors are stated in photo pixels)."""
        return self.image_crop.scale_xy

    @property
    def net_px_per_image_px(self) -> tuple[float, float]:
        """Network pixels per refinement-image pixel along x and y."""
        (ix, iy), (nx, ny) = self.image_crop.scale_xy, self.net_crop.scale_xy
        return (ix / nx, iy / ny)


@dataclass(frozen=True)
class RefineView:
    """One view to refine.

    Attributes:
        image: ``(Hr, Wr, 3)`` uint8 RGB or ``(Hr, Wr)`` grey image the matcher works on.
        K: ``(3, 3)`` float64 aligned intrinsics of that image (index coordinates).
        world_from_cam: ``(4, 4)`` float64 aligned camera-to-world (OpenCV axes).
        pts3d: ``(H2, W2, 3)`` aligned world points of the network pixels.
        depth: ``(H2, W2)`` aligned z-depth of the network pixels.
        conf: ``(H2, W2)`` confidence of the network pixels.
        frame: how the image's pixels map to the network pixels.
        dist: ``(k1, k2)`` of the camera (zeros: the aligned pinhole).
    """

    image: np.ndarray
    K: np.ndarray
    world_from_cam: np.ndarray
    pts3d: np.ndarray
    depth: np.ndarray
    conf: np.ndarray
    frame: ImageFrame
    dist: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        h2, w2 = np.shape(self.depth)
        if np.shape(self.pts3d) != (h2, w2, 3) or np.shape(self.conf) != (h2, w2):
            raise ValueError(
                f"pts3d, depth and conf must be (H, W, 3), (H, W), (H, W); got {np.shape(self.pts3d)}, "
                f"{np.shape(self.depth)}, {np.shape(self.conf)}"
            )
        if np.shape(self.K) != (3, 3) or np.shape(self.world_from_cam) != (4, 4):
            raise ValueError(f"K must be 3x3 and world_from_cam 4x4, got {np.shape(self.K)}, "
                             f"{np.shape(self.world_from_cam)}")  # fmt: skip
        if np.ndim(self.image) not in (2, 3):
            raise ValueError(f"image must be (H, W) or (H, W, 3), got shape {np.shape(self.image)}")

    @property
    def image_size(self) -> tuple[int, int]:
        """``(W, H)`` of the refinement image."""
        return (int(np.shape(self.image)[1]), int(np.shape(self.image)[0]))
