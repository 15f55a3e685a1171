"""One Blender camera per photo, set up exactly as CONVENTIONS.md section 4 says.

The numbers come from ``core.geometry.blender_camera`` (the one place where OpenCV meets Blender); this
module only copies them onto datablocks.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..addon import ROLE_KEY, Role, role_of, user_dir
from ..core.geometry.blender_camera import BlenderCameraParams

log = logging.getLogger(__name__)


EXIF_ORIENTATION_TAG = 0x0112


def _exif_orientation(path: str) -> int:
    """The photo's EXIF orientation (1 = upright; 1 when unknown or unreadable)."""
    try:
        from PIL import Image
    except ImportError:
        return 1
    try:
        with Image.open(path) as img:
            if img.format == "PNG":  # getexif() would decode a PNG; its eXIf chunk, if any, is in info
                raw = img.info.get("exif")
                if not raw:
                    return 1
                exif = Image.Exif()
                exif.load(raw)
            else:
                exif = img.getexif()
            return int(exif.get(EXIF_ORIENTATION_TAG, 1) or 1)
    except (OSError, ValueError, SyntaxError):
        return 1


def _upright_dir() -> Path:
    try:
        return Path(user_dir("upright_photos"))
    except ValueError:  # not loaded as an extension (e.g. imported directly): use the temporary folder
        folder = Path(tempfile.gettempdir()) / "dust3r_upright_photos"
        folder.mkdir(exist_ok=True)
        return folder


def display_photo_path(path: str) -> str:
    """A file Blender shows the way the artist sees ``path``.

    Blender ignores EXIF orientation when it loads images, so for a photo that EXIF rotates or mirrors we
    show an upright copy (written once into the add-on's user folder, keyed by path, size and time).
    """
    orientation = _exif_orientation(path)
    if orientation == 1:
        return path
    from PIL import Image, ImageOps

    stat = Path(path).stat()
    key = hashlib.sha1(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = _upright_dir() / f"{Path(path).stem}_{key}.png"
    if not target.is_file():
        with Image.open(path) as img:
            ImageOps.exif_transpose(img).save(target)
    return str(target)


def load_photo(path: str) -> bpy.types.Image | None:
    """The photo as a Blender image (shared when already loaded), or None if Blender cannot read it."""
    try:
        return bpy.data.images.load(display_photo_path(path), check_existing=True)
    except (RuntimeError, OSError) as exc:  # e.g. HEIC, which Blender cannot read: the camera is still right
        log.warning("cannot show %s as a camera background: %s", path, exc)
        return None


def create_camera(
    name: str, params: BlenderCameraParams, photo_path: str, index: int, display_size: float
) -> bpy.types.Object:
    """A camera object matching one photo; the photo is its background image.

    Args:
        name: name of the camera object and its data.
        params: lens, sensor, shift and ``matrix_world`` from ``core.geometry.blender_camera``.
        photo_path: the ORIGINAL photo (shown upright even when EXIF rotates it).
        index: the view index, stored as ``obj["dust3r_index"]``.
        display_size: size of the camera in the viewport, Blender units (it also sets the clipping range).
    """
    cam = bpy.data.cameras.new(name)
    cam.lens_unit = "MILLIMETERS"
    cam.sensor_fit = params.sensor_fit
    cam.sensor_width = params.sensor_width
    cam.sensor_height = params.sensor_height
    cam.lens = params.lens
    cam.shift_x = params.shift_x
    cam.shift_y = params.shift_y
    cam.display_size = display_size
    # DUSt3R's scale is arbitrary: keep near points of a small reconstruction inside the clipping range.
    cam.clip_start = min(cam.clip_start, 0.1 * display_size)
    cam.clip_end = max(cam.clip_end, 1000.0 * display_size)
    image = load_photo(photo_path)
    if image is not None:
        bg = cam.background_images.new()
        bg.image = image
        bg.frame_method = "FIT"
        bg.alpha = 1.0
        bg.display_depth = "BACK"
        cam.show_background_images = True

    obj = bpy.data.objects.new(name, cam)
    obj.matrix_world = Matrix(np.asarray(params.matrix_world, dtype=np.float64).tolist())
    obj[ROLE_KEY] = Role.CAMERA
    obj["dust3r_image"] = str(Path(photo_path).resolve())
    obj["dust3r_index"] = int(index)
    obj["dust3r_resolution"] = [int(v) for v in params.resolution]
    obj["dust3r_pixel_aspect"] = [float(v) for v in params.pixel_aspect]
    return obj


def apply_camera_render_settings(scene: bpy.types.Scene, cam_obj: bpy.types.Object) -> bool:
    """Make a DUSt3R camera the scene camera with its photo's resolution; False if it is not one of ours."""
    if role_of(cam_obj) != Role.CAMERA:
        return False
    render = scene.render
    render.resolution_x, render.resolution_y = (int(v) for v in cam_obj["dust3r_resolution"])
    render.resolution_percentage = 100
    render.pixel_aspect_x, render.pixel_aspect_y = (float(v) for v in cam_obj["dust3r_pixel_aspect"])
    scene.camera = cam_obj
    return True
