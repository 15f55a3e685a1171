"""The image files next to an export: the photos copied (or hard-linked), or the frames of a video.

COLMAP and nerfstudio models name image files, and every trainer opens them by that name, so the export
puts them in one folder (``images/``). Rules:

* Photos are copied byte for byte (``link=True``: hard-linked where the file system allows, else copied)
  when a trainer reads them as the network saw them: JPEG or PNG without an EXIF rotation. Others (EXIF
  rotated, HEIC, TIFF, WebP, BMP, 16-bit) are written as upright 8-bit RGB PNG, because most trainers ignore
  the EXIF orientation and our cameras are those of the upright photo.
* Names are the photos' file names (whitespace replaced by ``_``, which COLMAP's text format cannot hold);
  when two photos share a name, every name gets its view index as a prefix (``0003_IMG_0001.jpg``).
* Footage is named by frame number: ``frame_001001.png``. A video's frames are decoded with PyAV (frame
  ``n`` is the ``n``-th decoded frame, counted from 0, the numbering of ``RESULT.npz``'s ``frame_numbers``)
  and written as PNG.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..errors import ImageError
from ..inference.images import BASE_SUFFIXES, HEIF_SUFFIXES, open_photo
from .files import ExportError, atomic_write
from .scene import ExportScene

AS_IS_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
EXIF_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class ImagePlan:
    """How one exported image is made: ``mode`` is ``"copy"`` (bytes as they are), ``"convert"``
    (upright RGB PNG) or ``"video"`` (frame ``frame`` of the video ``source``)."""

    source: Path
    name: str
    mode: str
    frame: int = 0


def is_video_source(scene: ExportScene) -> bool:
    """True when every view comes from one file that is not a photo (a video)."""
    paths = set(scene.image_paths)
    suffix = Path(scene.image_paths[0]).suffix.lower()
    return len(paths) == 1 and suffix not in BASE_SUFFIXES | HEIF_SUFFIXES


def plan_images(scene: ExportScene) -> tuple[ImagePlan, ...]:
    """The name and the way of making each view's image file (no file is written).

    Raises:
        ImageError: a photo is missing or unreadable.
        ExportError: a photo's size is not the one the reconstruction was made from.
    """
    if is_video_source(scene):
        source = Path(scene.image_paths[0])
        if not source.is_file():
            raise ImageError(f"video not found: {source} (the export writes its frames as images)")
        return tuple(
            ImagePlan(source, f"frame_{int(n):06d}.png", "video", int(n)) for n in scene.frame_numbers
        )
    plans = []
    for k, path in enumerate(scene.image_paths):
        source = Path(path)
        mode = "copy" if _readable_as_is(source, tuple(int(v) for v in scene.photo_size[k])) else "convert"
        suffix = source.suffix.lower() if mode == "copy" else ".png"
        stem = (
            f"frame_{int(scene.frame_numbers[k]):06d}" if scene.is_footage else "_".join(source.stem.split())
        )
        plans.append(ImagePlan(source, stem + suffix, mode))
    names = [p.name.casefold() for p in plans]
    if len(set(names)) < len(names):
        plans = [ImagePlan(p.source, f"{k:04d}_{p.name}", p.mode) for k, p in enumerate(plans)]
    return tuple(plans)


def _readable_as_is(path: Path, photo_size: tuple[int, int]) -> bool:
    """Whether ``path`` can be copied as it is (8-bit RGB JPEG/PNG, no EXIF rotation); checks its size.

    Raises:
        ImageError: the photo is missing or unreadable.
        ExportError: its upright size is not ``photo_size``.
    """
    if not path.is_file():
        raise ImageError(f"photo not found: {path} (the export copies the photos next to the cameras)")
    if path.suffix.lower() in HEIF_SUFFIXES:
        upright, as_is = open_photo(path)[0].size, False
    else:
        try:
            with Image.open(path) as img:
                orientation = int(img.getexif().get(EXIF_ORIENTATION_TAG, 1) or 1)
                upright = img.size[::-1] if orientation in (5, 6, 7, 8) else img.size
                as_is = orientation == 1 and img.mode == "RGB" and img.format in ("JPEG", "PNG")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"{path}: not an image, or unreadable ({exc})") from exc
    if tuple(upright) != tuple(photo_size):
        raise ExportError(
            f"{path} is {upright[0]}x{upright[1]} pixels but the reconstruction was made from a "
            f"{photo_size[0]}x{photo_size[1]} photo: was the file replaced? Reconstruct again."
        )
    return as_is and path.suffix.lower() in AS_IS_SUFFIXES


def write_images(
    plans: Sequence[ImagePlan], folder: Path, scene: ExportScene, link: bool = False
) -> list[Path]:
    """Write the image of every plan into ``folder`` (created); returns the written paths, in view order."""
    folder.mkdir(parents=True, exist_ok=True)
    videos = [(k, p) for k, p in enumerate(plans) if p.mode == "video"]
    if videos:
        write_video_frames(
            videos[0][1].source,
            [p.frame for _, p in videos],
            [folder / p.name for _, p in videos],
            tuple(int(v) for v in scene.photo_size[videos[0][0]]),
        )
    for plan in plans:
        dest = folder / plan.name
        if plan.mode == "copy":
            _copy_or_link(plan.source, dest, link)
        elif plan.mode == "convert":
            image, _ = open_photo(plan.source)
            with atomic_write(dest) as f:
                image.save(f, format="PNG")
    return [folder / p.name for p in plans]


def _copy_or_link(source: Path, dest: Path, link: bool) -> None:
    if link:
        tmp = dest.with_name(f".{dest.name}.link.tmp")
        try:
            tmp.unlink(missing_ok=True)
            os.link(source, tmp)
            os.replace(tmp, dest)
            return
        except OSError:
            tmp.unlink(missing_ok=True)  # another file system, or no hard links there: copy instead
    with open(source, "rb") as src, atomic_write(dest) as f:
        shutil.copyfileobj(src, f, length=1 << 20)


def write_video_frames(
    video: Path, frame_numbers: Sequence[int], dest: Sequence[Path], size: tuple[int, int]
) -> None:
    """Decode ``video`` once and write its frame ``frame_numbers[i]`` to ``dest[i]`` as PNG.

    Frames are read by the footage reader (:func:`core.footage.open_footage`), so they are numbered as the
    reconstruction numbered them (from 1, as Blender's clip editor counts) and shown upright (a phone's
    display rotation applied).

    Raises:
        DependencyError: PyAV (the ``av`` package) is not installed.
        ExportError: the video cannot be decoded, has no such frame, or frames of another size than ``size``.
    """
    from ..footage import open_footage
    from ..footage.read.errors import FootageError

    wanted: dict[int, list[Path]] = {}
    for number, path in zip(frame_numbers, dest, strict=True):
        wanted.setdefault(int(number), []).append(Path(path))
    try:
        for number, rgb in open_footage(video).read(sorted(wanted)):
            if (rgb.shape[1], rgb.shape[0]) != tuple(size):
                raise ExportError(
                    f"{video}: frame {number} is {rgb.shape[1]}x{rgb.shape[0]}, the result says {size}"
                )
            for path in wanted[number]:
                with atomic_write(path) as f:
                    Image.fromarray(rgb).save(f, format="PNG")
    except FootageError as exc:
        raise ExportError(f"cannot write the frames of {video}: {exc}") from exc
