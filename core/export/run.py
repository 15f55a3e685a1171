"""One call per export: check the output, place the images, write the format's files."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..result import Reconstruction
from . import colmap
from .files import ExportError, prepare_file, prepare_folder, write_text_atomic
from .nerfstudio import transforms_json
from .photos import plan_images, write_images
from .ply import write_ply
from .scene import ExportScene
from .source import DEFAULT_MIN_CONF, scene_from_reconstruction

logger = logging.getLogger(__name__)

FORMATS = ("colmap", "colmap-bin", "nerfstudio", "ply")
PLY_NAME = "points3D.ply"
IMAGES_DIR = "images"
# COLMAP folders may also hold the rig files of COLMAP >= 3.12; a stale model of the other encoding would be
# read instead of ours, so an overwrite removes it.
_STALE = {
    "colmap": colmap.BINARY_FILES + ("rigs.bin", "frames.bin", "rigs.txt", "frames.txt"),
    "colmap-bin": colmap.TEXT_FILES + ("rigs.bin", "frames.bin", "rigs.txt", "frames.txt"),
}


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote.

    Attributes:
        format: one of :data:`FORMATS`; out: the folder (or, for ``ply``, the file) written.
        files: every file written, model files first, then the images.
        num_cameras: distinct cameras (COLMAP's sense; the views for the other formats).
        num_images: image files; num_points: points written.
        warnings: things the user should know (e.g. no confident point); also logged.
    """

    format: str
    out: Path
    files: tuple[Path, ...]
    num_cameras: int
    num_images: int
    num_points: int
    warnings: tuple[str, ...] = ()


def export_scene(
    scene: ExportScene,
    fmt: str,
    out: str | Path,
    *,
    overwrite: bool = False,
    images_dir: str | Path | None = None,
    link_photos: bool = False,
) -> ExportReport:
    """Write ``scene`` in format ``fmt`` to ``out``.

    Args:
        scene: cameras and points (:func:`~core.export.source.scene_from_reconstruction`, or built from
            a Blender scene).
        fmt: ``colmap`` / ``colmap-bin``: ``out/cameras``, ``images``, ``points3D`` (``.txt`` / ``.bin``) and
            the images in ``images_dir`` (default ``out/images``); ``nerfstudio``: ``out/transforms.json``,
            ``out/points3D.ply`` and ``out/images/``; ``ply``: a PLY file (``out`` ending in ``.ply``) or
            ``out/points3D.ply``.
        out: a folder that is new or empty (or a ``.ply`` file that does not exist) unless ``overwrite``.
        overwrite: write into a non-empty folder, replacing the files of the export (others are kept).
        images_dir: where the COLMAP formats put the images (e.g. ``scene/images`` with ``out =
            scene/sparse/0``, the layout Gaussian-splat trainers read).
        link_photos: hard-link photos instead of copying them, where the file system allows.

    Raises:
        ConfigError: unknown format, or ``images_dir`` with a format that has no choice of image folder.
        ExportError: the output cannot be written, or (``ply``) there is no point to write.
        ImageError, DependencyError: a photo is missing; a video needs PyAV.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if images_dir is not None and fmt not in _STALE:
        raise ConfigError("--images-dir applies to the colmap and colmap-bin formats only")
    warnings = []
    if scene.num_points == 0:
        if fmt == "ply":
            raise ExportError("no point to write: every point is at or below the confidence threshold")
        warnings.append("no point is above the confidence threshold: the cameras are written without points")
    out = Path(out)
    if fmt == "ply":
        if out.suffix.lower() == ".ply":
            path = prepare_file(out, overwrite)
        else:
            path = prepare_folder(out, overwrite) / PLY_NAME
        return _report(fmt, out, [write_ply(path, scene)], 0, 0, scene, warnings)
    plans = plan_images(scene)  # checks the photos before anything is written
    prepare_folder(out, overwrite)
    image_folder = out / IMAGES_DIR if images_dir is None else Path(images_dir)
    if images_dir is not None:
        prepare_folder(image_folder, overwrite)
    if fmt == "nerfstudio":
        files = _write_nerfstudio(out, scene, [p.name for p in plans])
        num_cameras = scene.num_views
    else:
        model = colmap.build_model(scene, [p.name for p in plans])
        for name in _STALE[fmt]:
            (out / name).unlink(missing_ok=True)
        writer = colmap.write_text if fmt == "colmap" else colmap.write_binary
        files = writer(out, scene, model)
        num_cameras = len(model.cameras)
    images = write_images(plans, image_folder, scene, link=link_photos)
    return _report(fmt, out, files + images, num_cameras, len(images), scene, warnings)


def _write_nerfstudio(out: Path, scene: ExportScene, names: list[str]) -> list[Path]:
    files = []
    ply_name = None
    if scene.num_points:
        files.append(write_ply(out / PLY_NAME, scene))
        ply_name = PLY_NAME
    elif (out / PLY_NAME).exists():
        (out / PLY_NAME).unlink()  # a stale cloud of an overwritten export would not match these cameras
    meta = transforms_json(scene, [f"{IMAGES_DIR}/{name}" for name in names], ply_name)
    path = out / "transforms.json"
    write_text_atomic(path, json.dumps(meta, indent=2) + "\n")
    return [path] + files


def _report(fmt, out, files, num_cameras, num_images, scene, warnings) -> ExportReport:
    for warning in warnings:
        logger.warning("%s", warning)
    return ExportReport(
        format=fmt,
        out=Path(out),
        files=tuple(files),
        num_cameras=num_cameras,
        num_images=num_images,
        num_points=scene.num_points,
        warnings=tuple(warnings),
    )


def export_reconstruction(
    rec: Reconstruction,
    fmt: str,
    out: str | Path,
    *,
    min_conf: float = DEFAULT_MIN_CONF,
    max_points: int | None = None,
    new_from_world: np.ndarray | None = None,
    overwrite: bool = False,
    images_dir: str | Path | None = None,
    link_photos: bool = False,
) -> ExportReport:
    """:func:`scene_from_reconstruction` then :func:`export_scene` (the arguments of both)."""
    scene = scene_from_reconstruction(rec, min_conf, max_points, new_from_world)
    if scene.num_points == 0 and fmt == "ply":
        best = max((float(np.nanmax(c)) for c in rec.conf if np.size(c)), default=float("nan"))
        raise ExportError(
            f"no point has a confidence above {min_conf:g} (the highest is {best:.3g}): lower --min-conf"
        )
    return export_scene(scene, fmt, out, overwrite=overwrite, images_dir=images_dir, link_photos=link_photos)
