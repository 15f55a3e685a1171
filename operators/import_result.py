"""``dust3r.import_result``: the scene ``dust3r.reconstruct`` builds, from a ``RESULT.npz`` made elsewhere.

A result written by ``python -m core reconstruct`` (a farm, a script, another machine) holds everything
but the photos' pixels, which are found at its ``image_paths`` or, when the photos moved, next to the file
under the same names. A photo found nowhere is reported and left out of the background images; its camera
and points are still built (the file has all of their geometry and colours). A file that is not a readable
RESULT.npz is refused with what is wrong, and nothing is built. A footage result (``fps > 0``) builds one
animated camera with its plate (:mod:`~..scene.footage_camera`), found at ``footage_path`` / ``image_paths`` or next
to the file; a plate found nowhere is reported and the camera is built without it.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import bpy
from bpy.props import StringProperty
from bpy_extras.io_utils import ImportHelper

from ..addon import PATH_OPTIONS
from ..core.footage.result import read_footage_result
from ..core.result import RESULT_ARRAYS
from ..jobs.reports import TextReports
from ..properties.settings import build_options
from ..scene import viewport
from ..scene.build import build_reconstruction
from ..scene.datablocks import blender_text
from ..scene.plate import locate_footage, status_lines

log = logging.getLogger(__name__)

RESULT_HINT = "a RESULT.npz written by 'python -m core reconstruct'"


class ResultError(ValueError):
    """The file is not a RESULT.npz that can be imported (the message says why, for the artist)."""


def load_result(path: str):
    """Read and check a RESULT.npz (:func:`core.result.read_result`, the core's one reader: damaged, crafted
    or foreign files, bad numbers are refused with the command line's checks).

    Raises:
        ResultError: missing file, not a readable .npz, not a DUSt3R result, or damaged.
    """
    from ..core.result import ResultFileError, read_result

    file = Path(path)
    try:
        return read_result(file)
    except ResultFileError as exc:
        raise ResultError(_message(exc, path, file.name)) from None


def _message(exc, path: str, name: str) -> str:
    """The artist's words for what :func:`core.result.read_result` refused."""
    if exc.problem == "missing":
        return f"{path} does not exist. Choose {RESULT_HINT}."
    if exc.problem == "unreadable":
        return f"{name} is not a readable .npz file ({exc.detail}). Choose {RESULT_HINT}."
    if exc.problem == "arrays":
        required = [a for a in exc.missing_arrays if a in RESULT_ARRAYS]
        if not required:  # a per-view array (depth_3, colors_0...) is missing
            return f"{name} is not a complete DUSt3R result: it has no '{exc.missing_arrays[0]}'."
        names = ", ".join(f"'{a}'" for a in required)
        noun = "array" if len(required) == 1 else "arrays"
        return f"{name} is not a DUSt3R result: it has no {names} {noun}. Choose {RESULT_HINT}."
    return f"{name} is not a valid DUSt3R result: {exc.detail}"


def locate_photos(recon, result_path: str):
    """``recon`` with each photo's path where it is: as recorded, else next to the result file under its
    name; and a warning naming the photos found nowhere (their cameras get no background photo)."""
    folder = Path(result_path).resolve().parent
    paths, missing = [], []
    for recorded in recon.image_paths:
        beside = folder / Path(recorded).name
        if Path(recorded).is_file():
            paths.append(recorded)
        elif beside.is_file():
            paths.append(str(beside))
        else:
            paths.append(recorded)
            missing.append(Path(recorded).name)
    warnings = []
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        warnings.append(
            f"{len(missing)} of {recon.num_views} photos not found at their recorded paths nor next to the "
            f"result ({shown}): their cameras and points are built without the photo. Put the photos "
            "next to the .npz file and import again to see them."
        )
    moved = sum(1 for a, b in zip(paths, recon.image_paths, strict=True) if a != b)
    if moved:
        log.info("%d photos found next to %s instead of their recorded paths", moved, result_path)
    return dataclasses.replace(recon, image_paths=tuple(paths)), warnings


class DUST3R_OT_import_result(TextReports, bpy.types.Operator, ImportHelper):
    """Build cameras and points from a RESULT.npz written by the command line (python -m core reconstruct)"""

    bl_idname = "dust3r.import_result"
    bl_label = "Import DUSt3R Result"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})
    # ImportHelper's own filepath, with the "//" (blend-relative) prefix allowed as on every path of ours
    filepath: StringProperty(
        name="File Path", subtype="FILE_PATH", maxlen=1024, options={"SKIP_SAVE", "HIDDEN", *PATH_OPTIONS}
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        path = bpy.path.abspath(self.filepath)
        try:
            recon = load_result(path)
        except ResultError as exc:
            self.say({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if recon.is_footage:
            return self._import_footage(context, recon, path)
        recon, warnings = locate_photos(recon, path)
        report = build_reconstruction(context.scene, recon, build_options(context.scene.dust3r))
        for text in (*recon.warnings, *warnings, *report.warnings):  # the run's own notes first
            self.say({"WARNING"}, text)
        for level, text in viewport.after_build():
            self.say({level}, text)
        context.scene.dust3r.last_summary = f"{len(report.camera_objects)} photos, {report.num_points:,} points, from {blender_text(Path(path).name)}"
        self.say(
            {"INFO"},
            f"DUSt3R: {len(report.camera_objects)} cameras and {report.num_points:,} points in "
            f"'{report.collection.name}' from {Path(path).name}",
        )
        return {"FINISHED"}

    def _import_footage(self, context: bpy.types.Context, recon, path: str) -> set[str]:
        """One animated camera and the plate behind it (INTERFACES.md section 3)."""
        try:
            footage = read_footage_result(path, recon)
        except (OSError, ValueError) as exc:
            self.say({"ERROR"}, f"{Path(path).name}: the footage arrays cannot be read ({exc}).")
            return {"CANCELLED"}
        footage, plate, warnings = locate_footage(footage, path)
        report = build_reconstruction(context.scene, footage, build_options(context.scene.dust3r), plate)
        for text in (*recon.warnings, *footage.messages, *warnings, *report.warnings):
            self.say({"WARNING"}, text)
        for text in status_lines(footage):
            self.say({"INFO"}, text)
        for level, text in viewport.after_build():
            self.say({level}, text)
        context.scene.dust3r.last_summary = (
            f"{recon.num_views} frames, {report.num_points:,} points, from {blender_text(Path(path).name)}"
        )
        self.say(
            {"INFO"},
            f"DUSt3R: an animated camera on {recon.num_views} frames and {report.num_points:,} points in "
            f"'{report.collection.name}' from {Path(path).name}",
        )
        return {"FINISHED"}
