"""One call per export: check the output, place the images, write the format's files."""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..io.output_paths import check_output_file
from ..result import Reconstruction
from . import colmap
from .files import ExportError, write_text_atomic
from .nerfstudio import transforms_json
from .photos import plan_images, write_images
from .ply import write_ply
from .scene import ExportScene
from .source import DEFAULT_MIN_CONF, scene_from_reconstruction
from .staging import check_target_folder, make_parents, remove_empty, staged_folder

logger = logging.getLogger(__name__)

FORMATS = ("colmap", "colmap-bin", "nerfstudio", "ply")
PLY_NAME = "points3D.ply"
IMAGES_DIR = "images"
# COLMAP folders may also hold the rig files of COLMAP >= 3.12; a stale model of the other encoding would be
# read instead of ours, so an overwrite removes it.
_STALE = {
    "colmap": frozenset(colmap.BINARY_FILES + ("rigs.bin", "frames.bin", "rigs.txt", "frames.txt")),
    "colmap-bin": frozenset(colmap.TEXT_FILES + ("rigs.bin", "frames.bin", "rigs.txt", "frames.txt")),
    # a stale cloud of an overwritten export would not match these cameras
    "nerfstudio": frozenset({PLY_NAME}),
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
    option: str = "--out",
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
        option: how messages name ``out`` (``--out`` on the command line, ``The export folder`` in Blender).

    Raises:
        ConfigError: unknown format, or ``images_dir`` with a format that has no choice of image folder.
        ExportError: the output cannot be written, or (``ply``) there is no point to write.
        ImageError, DependencyError: a photo is missing; a video needs PyAV.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if images_dir is not None and fmt not in ("colmap", "colmap-bin"):
        raise ConfigError("--images-dir applies to the colmap and colmap-bin formats only")
    warnings = []
    if scene.num_points == 0:
        if fmt == "ply":
            raise ExportError("no point to write: every point is at or below the confidence threshold")
        warnings.append("no point is above the confidence threshold: the cameras are written without points")
    if fmt == "ply" and Path(out).suffix.lower() == ".ply":
        return _report(
            fmt, Path(out), [_write_ply_file(Path(out), scene, overwrite, option)], 0, 0, scene, warnings
        )
    target = check_target_folder(out, overwrite, option)
    if fmt == "ply":
        with staged_folder(target) as stage:
            write_ply(stage / PLY_NAME, scene)
        return _report(fmt, Path(out), [target / PLY_NAME], 0, 0, scene, warnings)
    plans = plan_images(scene)  # checks the photos before anything is written
    image_target = None if images_dir is None else check_target_folder(images_dir, overwrite, "--images-dir")
    if image_target == target:
        raise ConfigError("--images-dir must be another folder than --out (or left out for PATH/images)")
    names = [p.name for p in plans]
    if image_target is not None and (image_target in target.parents or target in image_target.parents):
        raise ConfigError("--images-dir and --out must not lie inside each other")
    with contextlib.ExitStack() as stack:
        # With --images-dir the images are staged on their own and published first (the stacks exit in
        # reverse order), then the model: an interruption between the two leaves the new images beside the
        # previous model, whose own images are kept (carried over) unless the new export replaced them.
        stage = stack.enter_context(staged_folder(target, _STALE.get(fmt, frozenset())))
        image_stage = None if image_target is None else stack.enter_context(staged_folder(image_target))
        if fmt == "nerfstudio":
            files = _write_nerfstudio(stage, scene, names)
            num_cameras = scene.num_views
        else:
            model = colmap.build_model(scene, names)
            writer = colmap.write_text if fmt == "colmap" else colmap.write_binary
            files = writer(stage, scene, model)
            num_cameras = len(model.cameras)
        images = write_images(plans, stage / IMAGES_DIR if image_stage is None else image_stage, scene,
                              link=link_photos)  # fmt: skip
        files = [target / p.relative_to(stage) for p in files]
        images = [(image_target or target / IMAGES_DIR) / Path(p).name for p in images]
    return _report(fmt, Path(out), files + images, num_cameras, len(images), scene, warnings)


def _write_ply_file(path: Path, scene: ExportScene, overwrite: bool, option: str) -> Path:
    """A single ``.ply`` file: checked first, written atomically, no folder left behind on a failure."""
    given = path
    path = check_output_file(path, option, ".ply")
    if path.exists() and not overwrite:
        raise ExportError(f"{given} exists: choose another name, or pass --overwrite")
    created = make_parents(path.parent)
    try:
        return write_ply(path, scene)
    except BaseException:
        remove_empty(created)
        raise


def _write_nerfstudio(out: Path, scene: ExportScene, names: list[str]) -> list[Path]:
    files = []
    ply_name = None
    if scene.num_points:
        files.append(write_ply(out / PLY_NAME, scene))
        ply_name = PLY_NAME
    meta = transforms_json(scene, [f"{IMAGES_DIR}/{name}" for name in names], ply_name)
    path = out / "transforms.json"
    write_text_atomic(path, json.dumps(meta, indent=2, allow_nan=False) + "\n")
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
