"""Which files are photos: still JPEG, PNG, WebP, TIFF, BMP (AVIF, HEIC) of a usable size.

Shared by the folder listing and the loader of :mod:`.images`, so that both refuse the same files with the
same words: a GIF is not a photo format (256 colours), an animated PNG or WebP is footage, not a photo, and a
photo smaller than :data:`MIN_PHOTO_SIDE` on its short side is an icon. A multi-page TIFF and a JPEG with
extra pictures (MPO, from some cameras) are photos: their first (main) picture is read. Pillow only.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ..errors import ImageError

# Short side of the smallest photo we accept, in pixels: an icon or a thumbnail, not a photo. Below this the
# network image (224 or 512) would be invented by a 16x (or more) upscaling, and a 1x1 "photo" gave a 0.88 px
# focal and a 4x4 render without a word.
MIN_PHOTO_SIDE = 32
# Pillow format names of still photos (images.BASE_SUFFIXES and HEIF; MPO: a JPEG with extra pictures).
PHOTO_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "AVIF", "HEIF"})
ANIMATION_SUFFIXES = frozenset({".png", ".webp"})  # photo suffixes whose files may hold an animation
GIF_REASON = "GIF is not a photo format (256 colours, often an animation): convert it to PNG or JPEG"


def check_still_photo(img: Image.Image, path: str | Path) -> None:
    """Refuse what is not a still photo of a usable size (``img``: opened, not necessarily loaded).

    Raises:
        ImageError: a GIF, an animation, another format than :data:`PHOTO_FORMATS`, or a photo whose short
            side is under :data:`MIN_PHOTO_SIDE` pixels. The message names the file.
    """
    if img.format == "GIF":
        raise ImageError(f"{path}: {GIF_REASON}")
    if img.format not in PHOTO_FORMATS:
        raise ImageError(
            f"{path}: {img.format or 'this'} images are not supported as photos; "
            "use JPEG, PNG, WebP, TIFF or BMP"
        )
    frames = animation_frames(img)
    if frames > 1:
        raise ImageError(f"{path}: {animation_reason(frames)}")
    width, height = img.size
    if min(width, height) < MIN_PHOTO_SIDE:
        raise ImageError(
            f"{path}: a photo of {width}x{height} pixels is too small; the short side must be at least "
            f"{MIN_PHOTO_SIDE} pixels"
        )


def animation_reason(frames: int) -> str:
    """Why an animation is refused (shared by the loader and the folder listing)."""
    return f"an animation of {frames} frames is footage, not a photo: extract its frames as photos"


def animation_frames(img: Image.Image) -> int:
    """The frame count of an animated PNG or WebP; 1 for every other format (TIFF pages, MPO pictures)."""
    if img.format not in ("PNG", "WEBP"):
        return 1
    return int(getattr(img, "n_frames", 1) or 1)


def file_animation_frames(path: Path) -> int:
    """Frame count of a PNG/WebP file from its header (1 when it cannot be read: the loader reports that)."""
    try:
        with Image.open(path) as img:
            return animation_frames(img)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return 1
