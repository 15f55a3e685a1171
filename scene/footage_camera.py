"""One animated camera for a shot (INTERFACES.md section 3, ``dust3r.reconstruct_footage``).

The camera (role ``footage_camera``) gets one LINEAR key per view on the scene frame that shows that source
frame (the frame number itself: the MovieClip is mapped so that scene frame ``k`` shows plate frame ``k``),
its location and a quaternion rotation whose sign never flips between keys, the shot's lens on its film back
(keyed only when the focal changes), and the plate as its background. At the end of the build
(:func:`apply_to_scene`) the clip is aligned to the scene frames and its tracking camera set to the same
focal, sensor, principal point and distortion (:mod:`.footage_lens`), and the scene gets the shot's frame
range, rate, resolution and camera. :class:`SceneSnapshot` puts all of that back if the build fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..addon import ROLE_KEY, Role
from ..core.footage.result import FootageResult
from ..core.footage.trajectory import continuous_quaternions
from ..core.geometry.blender_camera import BlenderCameraParams
from .animation import key_channels
from .cameras import (
    DISTORTION_KEY,
    REFINE_STATUS_KEY,
    SOLVE_ERROR_KEY,
    UNCERTAINTY_KEY,
    add_background,
    set_crop,
    set_lens,
)
from .footage_lens import (
    TrackingCamera,
    blender_frame_rate,
    footage_camera_params,
    lens_changes,
    tracking_camera,
)
from .plate import Plate

log = logging.getLogger(__name__)

FRAME_NUMBERS_KEY = "dust3r_frame_numbers"
FRAME_STATUS_KEY = "dust3r_frame_status"
FRAME_NOTES_KEY = "dust3r_frame_notes"
FRAME_PATHS_KEY = "dust3r_frame_paths"
LOCATION = [("location", i) for i in range(3)]
ROTATION = [("rotation_quaternion", i) for i in range(4)]
LENS = [("lens", 0), ("shift_x", 0), ("shift_y", 0)]


@dataclass
class FootageCamera:
    """What :func:`build_footage_camera` made: the camera object, the plate's clip (None: no plate), the
    camera of every view, and the tracking camera the clip gets at the end of the build."""

    obj: bpy.types.Object
    clip: bpy.types.MovieClip | None
    params: list[BlenderCameraParams]
    tracking: TrackingCamera


def shot_name(footage_path: str) -> str:
    """``plate`` for ``.../plate.mp4`` or ``.../plate.####.exr``."""
    name = Path(footage_path).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem.rstrip("#").rstrip("._- ") or "Footage"


def build_footage_camera(
    record,
    recon,
    footage: FootageResult,
    plate: Plate,
    base: str,
    display_size: float,
    warnings: list[str],
) -> FootageCamera:
    """The animated camera of ``recon`` (a footage ``Reconstruction``), every datablock registered."""
    frames = np.asarray(recon.frame_numbers, dtype=np.int64)
    params = [
        footage_camera_params(
            recon.world_from_cam[k], recon.K_photo[k], tuple(recon.photo_size[k]), footage.sensor_width_mm
        )
        for k in range(recon.num_views)
    ]
    name = f"{base} Camera"
    cam = record.new("cameras", name)
    set_lens(cam, params[0], display_size)
    if lens_changes(recon.K_photo):
        values = [(p.lens, p.shift_x, p.shift_y) for p in params]
        key_channels(record, cam, f"{name} Lens", LENS, frames, np.array(values))
    cam[DISTORTION_KEY] = [float(v) for v in recon.dist[0]]

    obj = record.new("objects", name, cam)
    obj.rotation_mode = "QUATERNION"
    obj.matrix_world = Matrix(np.asarray(params[0].matrix_world).tolist())
    matrices = np.stack([np.asarray(p.matrix_world, dtype=np.float64) for p in params])
    poses = np.concatenate([matrices[:, :3, 3], continuous_quaternions(matrices[:, :3, :3])], axis=1)
    key_channels(record, obj, f"{name} Action", LOCATION + ROTATION, frames, poses)
    _tag(obj, recon, footage, params[0])

    clip = _clip(record, plate, warnings)
    if clip is not None:
        add_background(cam, clip=clip)
    return FootageCamera(obj, clip, params, tracking_camera(params[0], recon.K_photo[0], recon.dist[0]))


def _tag(obj: bpy.types.Object, recon, footage: FootageResult, p: BlenderCameraParams) -> None:
    """The custom properties scripts read (INTERFACES.md section 3 and docs/CONTRACTS.md)."""
    obj[ROLE_KEY] = Role.FOOTAGE_CAMERA
    obj["dust3r_image"] = str(footage.info.path)
    obj["dust3r_footage_kind"] = footage.info.kind
    obj[FRAME_NUMBERS_KEY] = [int(f) for f in recon.frame_numbers]
    obj[FRAME_STATUS_KEY] = list(footage.status)
    obj[FRAME_NOTES_KEY] = list(footage.notes)
    if footage.info.kind != "video":
        obj[FRAME_PATHS_KEY] = [str(path) for path in recon.image_paths]
    obj["dust3r_fps"] = float(recon.fps)
    obj["dust3r_resolution"] = [int(v) for v in p.resolution]
    obj["dust3r_pixel_aspect"] = [float(v) for v in p.pixel_aspect]
    set_crop(obj, recon.crops[0])  # one plate size: every frame was cropped alike
    obj["dust3r_sensor_width_mm"] = float(footage.sensor_width_mm)
    obj["dust3r_sensor_width_assumed"] = bool(footage.sensor_width_assumed)
    error = recon.solve_error_rms_px
    if error is not None:  # the refinement ran: the shot's RMS, and each frame's (NaN: not refined)
        obj[SOLVE_ERROR_KEY] = error
        obj["dust3r_frame_solve_error_px"] = [float(e) for e in recon.solve_error_px]
    # per frame: 1-sigma reprojection uncertainty (pixels of the frames) and the refinement's status
    obj[UNCERTAINTY_KEY] = [float(e) for e in recon.uncertainty_px]
    obj[REFINE_STATUS_KEY] = [s or "kept: refinement off" for s in recon.refine_status]


def _clip(record, plate: Plate, warnings: list[str]) -> bpy.types.MovieClip | None:
    """The artist's clip (``clip_name``), or the plate loaded as a new one; None (and a warning) if neither."""
    if plate.clip_name:
        clip = bpy.data.movieclips.get(plate.clip_name)
        if clip is None:
            warnings.append(f"Movie clip '{plate.clip_name}' is gone: the camera has no background plate.")
        return clip
    if not plate.clip_path:
        return None
    try:
        return record.load_clip(plate.clip_path)
    except RuntimeError as exc:
        log.warning("cannot load %s as a movie clip: %s", plate.clip_path, exc)
        warnings.append(
            f"Blender cannot open {Path(plate.clip_path).name} as a movie clip ({exc}): the camera has no "
            "background plate."
        )
        return None


def clip_first_frame(clip: bpy.types.MovieClip) -> int:
    """The source frame number of the clip's first frame: 1 for a movie (videos count from 1), the file
    number of the image its ``filepath`` names for a sequence (Blender starts the clip there)."""
    if clip.source != "SEQUENCE":
        return 1
    from ..core.footage.read.sequence import parse_numbered

    parsed = parse_numbered(Path(bpy.path.abspath(clip.filepath)).name)
    return parsed.number if parsed is not None else 1


# ------------------------------------------------------------------------------------- end of the build
_RENDER = ("fps", "fps_base", "resolution_x", "resolution_y", "resolution_percentage")
_RENDER += ("pixel_aspect_x", "pixel_aspect_y")
_SCENE = ("frame_start", "frame_end", "frame_current", "camera", "active_clip")
_CLIP = ("frame_start", "frame_offset")
_TRACKING = ("sensor_width", "pixel_aspect", "focal_length_pixels", "principal_point_pixels")
_TRACKING += ("distortion_model", "k1", "k2", "k3", "units")


class SceneSnapshot:
    """The scene settings (and an existing clip's) that :func:`apply_to_scene` changes, to put back."""

    def __init__(self, scene: bpy.types.Scene, clip: bpy.types.MovieClip | None = None) -> None:
        self.scene, self.clip = scene, clip
        self.render = {n: getattr(scene.render, n) for n in _RENDER}
        self.values = {n: getattr(scene, n) for n in _SCENE}
        self.clip_values = {n: getattr(clip, n) for n in _CLIP} if clip is not None else {}
        camera = clip.tracking.camera if clip is not None else None
        self.tracking = {n: _copy(getattr(camera, n)) for n in _TRACKING} if camera is not None else {}

    def restore(self) -> None:
        for name, value in self.render.items():
            setattr(self.scene.render, name, value)
        for name, value in self.values.items():
            _set_if_alive(self.scene, name, value)
        if self.clip is not None:
            for name, value in self.clip_values.items():
                setattr(self.clip, name, value)
            for name, value in self.tracking.items():
                setattr(self.clip.tracking.camera, name, value)


def _copy(value):
    return tuple(value) if hasattr(value, "__len__") and not isinstance(value, str) else value


def _set_if_alive(owner, name: str, value) -> None:
    try:
        setattr(owner, name, value)
    except ReferenceError:  # an ID of the failed build (already removed): leave the field cleared
        setattr(owner, name, None)


def apply_to_scene(
    scene: bpy.types.Scene, camera: FootageCamera, recon, footage: FootageResult, plate: Plate, warnings
) -> None:
    """Scene frame range, rate, resolution and camera from the shot; the clip aligned and calibrated."""
    frames = np.asarray(recon.frame_numbers, dtype=np.int64)
    render = scene.render
    p = camera.params[0]
    if not plate.keep_scene_rate:
        render.fps, render.fps_base = blender_frame_rate(recon.fps, footage.info.fps_rational)
    render.resolution_x, render.resolution_y = (int(v) for v in p.resolution)
    render.resolution_percentage = 100
    render.pixel_aspect_x, render.pixel_aspect_y = (float(v) for v in p.pixel_aspect)
    scene.frame_start, scene.frame_end = int(frames.min()), int(frames.max())
    scene.camera = camera.obj
    if camera.clip is not None:
        _align_clip(camera.clip, camera.tracking, p.resolution, warnings)
        scene.active_clip = camera.clip
    scene.frame_set(int(frames.min()))


def _align_clip(clip: bpy.types.MovieClip, tracking: TrackingCamera, size, warnings) -> None:
    """Scene frame k shows plate frame k; the tracking camera is the reconstruction's lens."""
    clip.frame_offset = 0
    clip.frame_start = clip_first_frame(clip)
    clip_size = tuple(int(v) for v in clip.size)
    if clip_size != tuple(int(v) for v in size):
        warnings.append(
            f"Movie clip '{clip.name}' is {clip_size[0]}x{clip_size[1]} pixels but the frames were "
            f"reconstructed at {size[0]}x{size[1]}: its tracking camera is left as it was."
        )
        return
    cam = clip.tracking.camera
    cam.units = "MILLIMETERS"
    cam.sensor_width = tracking.sensor_width
    cam.pixel_aspect = tracking.pixel_aspect
    cam.focal_length_pixels = tracking.focal_length_pixels
    cam.principal_point_pixels = tracking.principal_point_pixels
    cam.distortion_model = "POLYNOMIAL"
    cam.k1, cam.k2, cam.k3 = tracking.k1, tracking.k2, tracking.k3
