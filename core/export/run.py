"""One call per export: check the output, place the images, write the format's files."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..io.output_paths import check_output_file
from ..progress import ProgressFn
from ..result import Reconstruction
from . import colmap
from .depth import write_depth
from .files import ExportError, write_text_atomic
from .gltf import write_glb
from .nerfstudio import transforms_json
from .photos import plan_images, write_images
from .ply import write_ply
from .scene import ExportScene
from .source import DEFAULT_MIN_CONF, scene_from_reconstruction
from .staging import check_target_folder, make_parents, remove_empty, staged_folder

logger = logging.getLogger(__name__)

FORMATS = ("colmap", "colmap-bin", "nerfstudio", "ply", "glb", "depth")
PLY_NAME = "points3D.ply"
GLB_NAME = "scene.glb"
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
    mesh: bool = False,
    cameras: bool = True,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    option: str = "--out",
) -> ExportReport:
    """Write ``scene`` in format ``fmt`` to ``out``.

    Args:
        scene: cameras and points (:func:`~core.export.source.scene_from_reconstruction`, or built from
            a Blender scene).
        fmt: ``colmap`` / ``colmap-bin``: ``out/cameras``, ``images``, ``points3D`` (``.txt`` / ``.bin``) and
            the images in ``images_dir`` (default ``out/images``); ``nerfstudio``: ``out/transforms.json``,
            ``out/points3D.ply`` and ``out/images/``; ``ply``: a PLY file (``out`` ending in ``.ply``) or
            ``out/points3D.ply``; ``glb``: a binary glTF file (``out`` ending in ``.glb``) or
            ``out/scene.glb`` (:mod:`.gltf`); ``depth``: one OpenEXR file per view and ``depth.json`` in
            the folder ``out`` (:mod:`.depth`; needs ``scene.grids``).
        out: a folder that is new or empty (or a ``.ply`` file that does not exist) unless ``overwrite``.
        overwrite: write into a non-empty folder, replacing the files of the export (others are kept).
        images_dir: where the COLMAP formats put the images (e.g. ``scene/images`` with ``out =
            scene/sparse/0``, the layout Gaussian-splat trainers read).
        link_photos: hard-link photos instead of copying them, where the file system allows.
        mesh: ``glb`` only: per-view triangle meshes instead of the points (needs ``scene.grids``).
        cameras: ``glb`` only: write the cameras (False: ``--no-cameras``).
        progress, cancel: ``depth`` only (seconds a 4K view): reported and checked between the maps.
        option: how messages name ``out`` (``--out`` on the command line, ``The export folder`` in Blender).

    Raises:
        ConfigError: unknown format, or an option of another format (``images_dir``, ``mesh``, ``cameras``).
        ExportError: the output cannot be written, or (``ply``, ``glb``) there is nothing to write.
        ImageError, DependencyError: a photo is missing; a video needs PyAV; depth maps need OpenEXR.
        Cancelled: ``cancel`` was set (``depth``).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if images_dir is not None and fmt not in ("colmap", "colmap-bin"):
        raise ConfigError("--images-dir applies to the colmap and colmap-bin formats only")
    if (mesh or not cameras) and fmt != "glb":
        raise ConfigError("--mesh and --no-cameras apply to --format glb only")
    if fmt == "glb":
        return _export_glb(scene, Path(out), overwrite, mesh, cameras, option)
    if fmt == "depth":
        target = check_target_folder(out, overwrite, option)
        with staged_folder(target) as stage:
            files = [target / p.relative_to(stage) for p in write_depth(stage, scene, progress, cancel)]
        return _report(fmt, out, files, scene.num_views, len(files) - 1, scene, [])
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
    return _write_single_file(path, overwrite, option, ".ply", lambda checked: write_ply(checked, scene))


def _write_single_file(path: Path, overwrite: bool, option: str, suffix: str, write):
    """``write(checked_path)`` for a one-file export (``.ply``, ``.glb``): the name checked first, the file
    written atomically by ``write``, no parent folder left behind on a failure; returns what ``write`` does."""
    given = path
    path = check_output_file(path, option, suffix)
    if path.exists() and not overwrite:
        raise ExportError(f"{given} exists: choose another name, or pass --overwrite")
    created = make_parents(path.parent)
    try:
        return write(path)
    except BaseException:
        remove_empty(created)
        raise


def _export_glb(
    scene: ExportScene, out: Path, overwrite: bool, mesh: bool, cameras: bool, option: str
) -> ExportReport:
    if mesh and scene.grids is None:
        raise ExportError("this export source has no per-view pixel grids: --mesh needs them")

    def write(path: Path):
        return write_glb(path, scene, mesh=mesh, cameras=cameras)

    if out.suffix.lower() == ".glb":
        path, warnings = _write_single_file(out, overwrite, option, ".glb", write)
    else:
        target = check_target_folder(out, overwrite, option)
        with staged_folder(target) as stage:
            _, warnings = write(stage / GLB_NAME)
        path = target / GLB_NAME
    return _report("glb", path, [path], scene.num_views if cameras else 0, 0, scene, warnings)


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
    mesh: bool = False,
    cameras: bool = True,
) -> ExportReport:
    """:func:`scene_from_reconstruction` then :func:`export_scene` (the arguments of both)."""
    scene = scene_from_reconstruction(rec, min_conf, max_points, new_from_world)
    if scene.num_points == 0 and (fmt == "ply" or (fmt == "glb" and not cameras)):
        best = max((float(np.nanmax(c)) for c in rec.conf if np.size(c)), default=float("nan"))
        raise ExportError(
            f"no point has a confidence above {min_conf:g} (the highest is {best:.3g}): lower --min-conf"
        )
    return export_scene(
        scene,
        fmt,
        out,
        overwrite=overwrite,
        images_dir=images_dir,
        link_photos=link_photos,
        mesh=mesh,
        cameras=cameras,
    )
