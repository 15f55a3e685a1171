"""Depth passes: per view one OpenEXR file with float32 channels ``Z`` and ``confidence``, plus ``depth.json``.

- ``Z``: the distance along the camera's optical axis (camera z, not the distance to the camera centre), in
  the scene's units (the reconstruction's, or the Blender scene's after Level / Set Scale).
- ``confidence``: the network's confidence (>= 1, higher is surer; never thresholded: the compositor picks).
- Size: the ORIGINAL photo's (frame's) ``W0 x H0``. The network saw a resized centre crop; each photo pixel
  is looked up through that crop (:func:`core.geometry.photo_resample.resample_to_photo`: bilinear inside a
  surface, nearest across a depth edge); pixels the network did not see (cut by the crop, or with no point)
  are NaN. Pixel ``(x0, y0)`` of the file is pixel ``(x0, y0)`` of the photo, row 0 at the top.
- Names: photos ``<photo stem>.exr`` (two photos with one stem: each name gets its view index as a prefix,
  ``0003_IMG_0001.exr``); footage ``<plate stem>.<frame number, 4 digits or more>.exr`` (``plate.1001.exr``),
  which Blender, Nuke and Natron load as one sequence.
- ``depth.json``: per file its ``K`` (3x3, continuous pixel coordinates of the photo), ``cam2world`` (4x4,
  OpenCV camera axes: x right, y down, z forward), ``width``, ``height``, ``dist`` ``(k1, k2)``, the source
  ``image`` and ``frame``, so that a pixel ``(u, v)`` with depth ``Z`` is the camera point
  ``Z * K^-1 (u, v, 1)`` (``u = x0 + 0.5``), undistorted first when ``dist`` is not zero.

Written with the ``OpenEXR`` package (the Academy Software Foundation's bindings, wheels for every platform
Blender runs on; bundled with the extension), ZIP compression (lossless; every EXR reader has it).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from ..errors import DependencyError
from ..footage.read.sequence import parse_numbered
from ..geometry.photo_resample import resample_to_photo
from ..progress import ProgressFn, check_cancel
from .files import ExportError, atomic_write, write_text_atomic
from .photos import is_video_source
from .scene import ExportScene

DEPTH_CHANNEL = "Z"
CONFIDENCE_CHANNEL = "confidence"
META_NAME = "depth.json"
FRAME_DIGITS = 4
OPENEXR_PIN = "openexr==3.5.3"
_SEPARATORS = "._- "


def import_openexr():
    """The ``OpenEXR`` module, or a :class:`DependencyError` that says how to get it."""
    try:
        import OpenEXR
    except ImportError as exc:
        raise DependencyError(
            "Writing depth maps needs the OpenEXR package (bundled with the add-on); from the command line "
            f"install it with: pip install {OPENEXR_PIN}"
        ) from exc
    return OpenEXR


def plate_stem(path: str, is_video: bool) -> str:
    """The name of a shot for its frame files: a video's stem, or an image sequence's prefix without its
    trailing separator (``plate.1001.png`` -> ``plate``); ``frame`` when nothing is left."""
    name = Path(path).name
    if is_video:
        stem = Path(name).stem
    else:
        numbered = parse_numbered(name)
        stem = numbered.prefix if numbered is not None else Path(name).stem
    return "_".join(stem.rstrip(_SEPARATORS).split()) or "frame"


def depth_file_names(scene: ExportScene) -> list[str]:
    """The file name of each view's depth map (see the module's docstring)."""
    if scene.is_footage:
        is_video = is_video_source(scene)
        return [
            f"{plate_stem(p, is_video)}.{int(n):0{FRAME_DIGITS}d}.exr"
            for p, n in zip(scene.image_paths, scene.frame_numbers, strict=True)
        ]
    names = ["_".join(Path(p).stem.split()) + ".exr" for p in scene.image_paths]
    folded = [n.casefold() for n in names]
    if len(set(folded)) < len(folded):
        names = [f"{k:04d}_{n}" for k, n in enumerate(names)]
    return names


def depth_maps(scene: ExportScene, k: int) -> tuple[np.ndarray, np.ndarray]:
    """View ``k``'s ``(Z, confidence)`` at its photo's resolution, ``(H0, W0)`` float32 each."""
    grid = scene.grids[k]
    z, conf = resample_to_photo(grid.depth, (grid.conf,), grid.crop)
    return z, conf


def depth_meta(scene: ExportScene, names: list[str]) -> dict:
    """The content of ``depth.json``."""
    return {
        "convention": (
            "Z: distance along the optical axis (camera z), scene units; pixel (x0, y0) has continuous "
            "coordinates (x0 + 0.5, y0 + 0.5); K: photo intrinsics in those coordinates; cam2world: "
            "camera-to-world, OpenCV camera axes (x right, y down, z forward); NaN: not seen"
        ),
        "channels": [DEPTH_CHANNEL, CONFIDENCE_CHANNEL],
        "views": [
            {
                "file": names[k],
                "image": scene.image_paths[k],
                "frame": int(scene.frame_numbers[k]),
                "width": int(scene.photo_size[k, 0]),
                "height": int(scene.photo_size[k, 1]),
                "K": scene.K_photo[k].tolist(),
                "cam2world": scene.world_from_cam[k].tolist(),
                "dist": scene.dist[k].tolist(),
            }
            for k in range(scene.num_views)
        ],
    }


def write_exr(path: Path, channels: dict[str, np.ndarray]) -> Path:
    """Write float32 ``(H, W)`` ``channels`` as one scanline OpenEXR file (ZIP), atomically."""
    exr = import_openexr()
    header = {"compression": exr.ZIP_COMPRESSION, "type": exr.scanlineimage}
    pixels = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in channels.items()}
    with atomic_write(path) as handle:
        try:
            exr.File(header, pixels).write(handle)
        except (RuntimeError, ValueError) as exc:  # the binding's errors (I/O and encoding)
            raise ExportError(f"cannot write {path}: {exc}") from exc
    return path


def write_depth(
    folder: Path,
    scene: ExportScene,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> list[Path]:
    """Write every view's depth map and ``depth.json`` into ``folder`` (which must exist); returns the files,
    ``depth.json`` first. ``progress(stage, fraction)`` after each map; ``cancel`` is checked before each.

    Raises:
        ExportError: the scene has no per-view grids, or a file cannot be written.
        DependencyError: the OpenEXR package is missing.
        Cancelled: ``cancel`` was set (the maps written so far stay, ``depth.json`` is not written).
    """
    if scene.grids is None:
        raise ExportError("this source has no per-view pixel grids: a depth export needs them")
    import_openexr()  # fail before anything is written
    names = depth_file_names(scene)
    files = []
    for k, name in enumerate(names):
        check_cancel(cancel)
        z, conf = depth_maps(scene, k)
        files.append(write_exr(folder / name, {DEPTH_CHANNEL: z, CONFIDENCE_CHANNEL: conf}))
        if progress is not None:
            progress(f"Depth maps ({k + 1}/{len(names)})", (k + 1) / len(names))
    meta = folder / META_NAME  # last: its presence says the maps are complete
    write_text_atomic(meta, json.dumps(depth_meta(scene, names), indent=2) + "\n")
    return [meta, *files]
