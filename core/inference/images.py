"""Loading photos into network images exactly as the reference implementation does.

Per photo (``../shared/reference/README.md`` section 3, CONVENTIONS.md section 3):

1. open with Pillow (a still photo: see "Which files are photos" below), apply the EXIF orientation, convert
   to 8-bit RGB (see :func:`to_rgb8` for odd modes);
2. resize: for ``size=512`` the long side to 512, for ``size=224`` the short side to ~224; each side is
   ``int(round(side * scale))`` with Python's round; LANCZOS when shrinking, BICUBIC otherwise;
3. centre crop: for 512 to multiples of 16 (a square result becomes 4:3), for 224 to a square;
4. normalise to float32 ``(u8 / 255 - 0.5) / 0.5`` in ``[-1, 1]``, layout ``(1, 3, H, W)``.

The geometry of steps 2-3 is the pure function :func:`plan_crop`, which fills the :class:`PhotoCrop` that the
rest of the core uses to map network pixels back to the photo.

Which files are photos (:mod:`.photo_files`; the folder listing and the loader agree): JPEG, PNG, WebP,
TIFF, BMP (AVIF where Pillow reads it, HEIC/HEIF with pillow-heif), of at least :data:`MIN_PHOTO_SIDE` pixels
on the short side.
A GIF is not a photo format (256 colours) and an animated PNG or WebP is footage, not a photo: both are
refused by name, in the listing (skipped, with the reason) and by the loader (an :class:`ImageError`), never
read as their first frame. A multi-page TIFF and a JPEG with extra pictures (MPO, from some cameras) are
read as their first (main) picture.

This module imports torch only when tensors are built, so :func:`list_photos` works without torch.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from ..config import IMAGE_SIZES
from ..errors import ConfigError, ImageError
from ..geometry.photo import PhotoCrop
from .photo_files import (  # noqa: F401  (MIN_PHOTO_SIDE: re-exported, callers read it here)
    ANIMATION_SUFFIXES,
    GIF_REASON,
    MIN_PHOTO_SIDE,
    animation_reason,
    check_still_photo,
    file_animation_frames,
)

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

PATCH_SIZE = 16
MIN_SIDE = PATCH_SIZE
SUPPORTED_SIZES = IMAGE_SIZES
# File name suffixes Pillow reads out of the box; HEIC/HEIF need the optional pillow-heif package.
BASE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp"}
    | ({".avif"} & set(Image.registered_extensions()))  # Pillow >= 11.2 reads AVIF where built with libavif
)
HEIF_SUFFIXES = frozenset({".heic", ".heif", ".hif"})
EXIF_FOCAL_35MM_TAG = 0xA405  # FocalLengthIn35mmFilm, in the Exif sub-IFD

_heif_lock = threading.Lock()
_heif_registered = False


@dataclass(frozen=True)
class LoadedImage:
    """One photo prepared for the network.

    Attributes:
        path: the photo file.
        tensor: ``(1, 3, H, W)`` float32 torch tensor in ``[-1, 1]`` (CPU).
        rgb: ``(H, W, 3)`` uint8, the resized and cropped photo before normalisation.
        crop: how the photo became the network image (sizes in pixels).
        exif_focal_35mm: EXIF ``FocalLengthIn35mmFilm`` in millimetres, or None when absent or zero.
    """

    path: Path
    tensor: torch.Tensor
    rgb: np.ndarray
    crop: PhotoCrop
    exif_focal_35mm: float | None

    @property
    def true_shape(self) -> tuple[int, int]:
        """``(H, W)`` of the network image, as the reference's ``true_shape``."""
        return (int(self.rgb.shape[0]), int(self.rgb.shape[1]))


@dataclass(frozen=True)
class CropPlan:
    """Resize and crop of one photo: the :class:`PhotoCrop` plus the Pillow filter of the resize."""

    crop: PhotoCrop
    resample: Image.Resampling

    @property
    def box(self) -> tuple[int, int, int, int]:
        """Crop box ``(left, top, right, bottom)`` in resized pixels."""
        ox, oy = self.crop.crop_offset
        w2, h2 = self.crop.net_size
        return (ox, oy, ox + w2, oy + h2)


def _resize_rule(photo_size: tuple[int, int], long_edge: int) -> tuple[tuple[int, int], Image.Resampling]:
    """Reference resize: long side to ``long_edge``, each side rounded with Python's round (half to even)."""
    s = max(photo_size)
    resample = Image.Resampling.LANCZOS if s > long_edge else Image.Resampling.BICUBIC
    w1, h1 = (int(round(x * long_edge / s)) for x in photo_size)
    return (w1, h1), resample


def plan_crop(photo_size: tuple[int, int], size: int, square_ok: bool = False) -> CropPlan:
    """Compute the resize and centre crop of a photo of ``photo_size = (W0, H0)`` pixels for ``size``.

    Raises:
        ImageError: the photo is too small or too elongated to give a network image of at least 16 pixels a side.
        ValueError: ``size`` is not 512 or 224 (a programming error; user input is checked by the config).
    """
    w0, h0 = (int(v) for v in photo_size)
    if w0 < 1 or h0 < 1:
        raise ImageError(f"image has an empty size {w0}x{h0}")
    if size == 224:
        long_edge = int(round(224 * max(w0 / h0, h0 / w0)))
    elif size == 512:
        long_edge = 512
    else:
        raise ValueError(f"size must be one of {SUPPORTED_SIZES}, got {size}")
    (w1, h1), resample = _resize_rule((w0, h0), long_edge)
    if min(w1, h1) < MIN_SIDE:
        raise ImageError(
            f"image of {w0}x{h0} pixels becomes {w1}x{h1} at size {size}: too small or too elongated "
            f"(each side must be at least {MIN_SIDE} pixels after resizing)"
        )
    cx, cy = w1 // 2, h1 // 2
    if size == 224:
        half = min(cx, cy)
        box = (cx - half, cy - half, cx + half, cy + half)
    else:
        # The reference's half-widths are multiples of 8 (and 6 for the 4:3 case), hence integers.
        halfw = ((2 * cx) // PATCH_SIZE) * PATCH_SIZE // 2
        halfh = ((2 * cy) // PATCH_SIZE) * PATCH_SIZE // 2
        if w1 == h1 and not square_ok:
            halfh = 3 * halfw // 4
        box = (cx - halfw, cy - halfh, cx + halfw, cy + halfh)
    crop = PhotoCrop(
        photo_size=(w0, h0),
        resized_size=(w1, h1),
        crop_offset=(box[0], box[1]),
        net_size=(box[2] - box[0], box[3] - box[1]),
    )
    return CropPlan(crop=crop, resample=resample)


def _ensure_heif_opener(path: Path) -> None:
    """Register pillow-heif's opener once, or explain how to get HEIC support."""
    global _heif_registered
    with _heif_lock:
        if _heif_registered:
            return
        try:
            import pillow_heif
        except ImportError as exc:
            raise ImageError(
                f"{path}: HEIC/HEIF photos need the optional package 'pillow-heif' "
                "(pip install pillow-heif), or convert the photos to JPEG"
            ) from exc
        pillow_heif.register_heif_opener()
        _heif_registered = True


def to_rgb8(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit ``RGB``.

    Same as the reference's ``convert('RGB')`` for the usual modes (L, RGBA, P, CMYK, ...): an alpha channel
    is DROPPED, not composited (the colours stored under transparent pixels are kept), so that a photo gives
    exactly the reference's network input. Deviation: 16-bit and 32-bit grayscale (``I;16*``, ``I``) are
    scaled from 0..65535 to 0..255 (Pillow's own conversion clips them, which turns most photos white),
    and float images (``F``) are scaled from 0..1 when their maximum is at most 1, else clipped to 0..255.
    """
    if img.mode == "RGB":
        return img
    if img.mode.startswith("I") or img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if img.mode == "F":
            scale = 255.0 if np.nanmax(arr, initial=0.0) <= 1.0 else 1.0
        else:
            scale = 255.0 / 65535.0
        gray = np.clip(np.nan_to_num(arr * scale), 0, 255).round().astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")  # avoids Pillow's warning; RGB values are the same as a direct conversion
    return img.convert("RGB")


def read_exif_focal_35mm(img: Image.Image) -> float | None:
    """EXIF ``FocalLengthIn35mmFilm`` (mm) of an opened photo, or None when absent, zero or unreadable."""
    try:
        exif = img.getexif()
        value = exif.get_ifd(ExifTags.IFD.Exif).get(EXIF_FOCAL_35MM_TAG)
        if value is None:
            value = exif.get(EXIF_FOCAL_35MM_TAG)  # some writers put it in IFD0
        focal = float(value) if value is not None else 0.0
    except (ValueError, TypeError, KeyError, OSError, SyntaxError) as exc:
        log.debug("cannot read EXIF focal length: %s", exc)
        return None
    return focal if np.isfinite(focal) and focal > 0 else None


def open_photo(path: str | Path) -> tuple[Image.Image, float | None]:
    """Open ``path``, apply its EXIF orientation and convert to 8-bit RGB.

    Returns:
        ``(image, exif_focal_35mm)``: the upright RGB image (size = the photo as the user sees it) and the
        EXIF 35 mm-equivalent focal length in mm (or None).

    Raises:
        ImageError: missing file, not an image, unsupported format, corrupt or truncated data.
    """
    path = Path(path)
    with _still_photo(path) as raw:
        raw.load()  # first: a failed load inside getexif() would be swallowed and not raise again
        focal = read_exif_focal_35mm(raw)
        rgb = to_rgb8(ImageOps.exif_transpose(raw))
        rgb.load()
    return rgb, focal


def check_photo(path: str | Path) -> tuple[int, int]:
    """Cheap check of one photo file before any slow work: it exists and is a still photo of a usable size.

    Reads the file header only (no pixel data). Returns the stored ``(width, height)`` (before EXIF rotation).

    Raises:
        ImageError: as :func:`open_photo` for a missing, unreadable or refused file.
    """
    with _still_photo(Path(path)) as img:
        return img.size


@contextlib.contextmanager
def _still_photo(path: Path):
    """``Image.open(path)`` of a file that passed :func:`check_still_photo`; every failure while the block
    runs (opening, decoding) becomes an :class:`ImageError` naming the photo."""
    if not path.exists():
        raise ImageError(f"photo not found: {path}")
    if not path.is_file():
        raise ImageError(f"not a file: {path}")
    if path.suffix.lower() in HEIF_SUFFIXES:
        _ensure_heif_opener(path)
    try:
        with Image.open(path) as img:
            check_still_photo(img, path)
            yield img
    except UnidentifiedImageError as exc:
        raise ImageError(f"{path}: not an image, or a format this installation cannot read") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: image is too large to load safely ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{path}: corrupt or truncated image ({exc})") from exc


def normalize_rgb8(rgb: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float32 tensor ``(u8 / 255 - 0.5) / 0.5`` (bit-exact with the reference)."""
    import torch

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.dtype} {rgb.shape}")
    x = (rgb.astype(np.float32) / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def load_image(path: str | Path, size: int = 512, square_ok: bool = False) -> LoadedImage:
    """Load one photo as a network image of ``size`` (512 or 224); see the module docstring.

    Raises:
        ImageError: the photo cannot be read or is too small; the message names the file.
    """
    img, focal = open_photo(path)
    try:
        plan = plan_crop(img.size, size, square_ok=square_ok)
    except ImageError as exc:
        raise ImageError(f"{path}: {exc}") from exc
    resized = img.resize(plan.crop.resized_size, plan.resample)
    net = resized.crop(plan.box)
    rgb = np.asarray(net, dtype=np.uint8).copy()
    expected = (plan.crop.net_size[1], plan.crop.net_size[0], 3)
    assert rgb.shape == expected, f"crop gave {rgb.shape}, expected {expected}"
    return LoadedImage(
        path=Path(path), tensor=normalize_rgb8(rgb), rgb=rgb, crop=plan.crop, exif_focal_35mm=focal
    )


def load_images(paths: Sequence[str | Path], size: int = 512, square_ok: bool = False) -> list[LoadedImage]:
    """Load photos, in the given order, as network images of ``size`` (512: long side 512, 224: square 224).

    Raises:
        ImageError: no photo given, or one photo cannot be read (the message names it).
        ConfigError: ``size`` is not 512 or 224.
    """
    if size not in SUPPORTED_SIZES:
        raise ConfigError(f"image size must be one of {SUPPORTED_SIZES}, got {size}")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if len(paths) == 0:
        raise ImageError("no photos given")
    images = [load_image(p, size, square_ok=square_ok) for p in paths]
    log.info("loaded %d photos at size %d", len(images), size)
    return images


# --- folders of photos ------------------------------------------------------------------------------------


def heif_available() -> bool:
    """Whether HEIC/HEIF photos can be read (the optional pillow-heif package is installed)."""
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        return False
    return True


def natural_key(name: str) -> tuple:
    """Sort key for natural file-name order: ``img2`` before ``img10``, case-insensitive."""
    parts = re.split(r"(\d+)", name.casefold())
    return tuple((0, int(p), p) if p.isdigit() else (1, 0, p) for p in parts if p != "") + (name,)


@dataclass(frozen=True)
class PhotoListing:
    """The photos of a folder.

    Attributes:
        photos: supported photo files, in natural file-name order.
        skipped: ``(path, reason)`` for the other files (hidden files and sub-folders are ignored silently).
    """

    photos: list[Path]
    skipped: list[tuple[Path, str]]


def list_photos(folder: str | Path) -> PhotoListing:
    """List the photos of ``folder`` (not recursive) in natural file-name order.

    Files are recognised by their suffix (JPEG, PNG, WebP, TIFF, BMP, and HEIC/HEIF when pillow-heif is
    installed); PNG and WebP files are opened (header only) to skip animations. Other files are reported in
    ``skipped`` with the reason, so the caller can warn about them.

    Raises:
        ImageError: ``folder`` does not exist or is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"not a folder of photos: {folder}")
    heif = heif_available()
    photos: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for entry in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        suffix = entry.suffix.lower()
        if suffix in BASE_SUFFIXES or (heif and suffix in HEIF_SUFFIXES):
            frames = file_animation_frames(entry) if suffix in ANIMATION_SUFFIXES else 1
            if frames > 1:
                skipped.append((entry, animation_reason(frames)))
            else:
                photos.append(entry)
        elif suffix in HEIF_SUFFIXES:
            skipped.append((entry, "HEIC/HEIF needs the optional package pillow-heif"))
        elif suffix == ".gif":
            skipped.append((entry, GIF_REASON))
        else:
            skipped.append((entry, f"unsupported file type {suffix or '(no extension)'}"))
    return PhotoListing(photos=photos, skipped=skipped)
