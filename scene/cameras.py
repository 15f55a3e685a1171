"""One Blender camera per photo, set up exactly as CONVENTIONS.md section 4 says.

The numbers come from ``core.geometry.blender_camera`` (the one place where OpenCV meets Blender); this
module only copies them onto datablocks.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import tempfile
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..addon import ROLE_KEY, Role, role_of, user_dir
from ..core.geometry.blender_camera import BlenderCameraParams
from ..core.geometry.photo import PhotoCrop

log = logging.getLogger(__name__)


EXIF_ORIENTATION_TAG = 0x0112
# Custom properties of the refinement (INTERFACES.md section 3): the RMS reprojection error in pixels of the
# ORIGINAL photo on the camera OBJECT, and the radial distortion (k1, k2) of OpenCV's model on normalised
# coordinates (core.geometry.distortion) on the camera DATA, only when it was estimated.
SOLVE_ERROR_KEY = "dust3r_solve_error_px"
UNCERTAINTY_KEY = "dust3r_uncertainty_px"
REFINE_STATUS_KEY = "dust3r_refine_status"
DISTORTION_KEY = "dust3r_distortion"
# How the photo became the network image: [W1, H1, ox, oy, W2, H2] (PhotoCrop's resized size, crop offset and
# network size; the photo size is "dust3r_resolution"). The depth and glTF surface exports read it.
CROP_KEY = "dust3r_crop"


def _pillow_errors() -> tuple[type[BaseException], ...]:
    """What Pillow raises for a file it will not read: broken or unknown files, and decompression bombs
    (``DecompressionBombError`` is not an ``OSError``)."""
    try:
        from PIL import Image
    except ImportError:
        return (OSError, ValueError, SyntaxError)
    return (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


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
    except (OSError, ValueError, SyntaxError):  # not a decompression bomb: load_photo refuses those
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


def load_photo(record, path: str, photo_size=None) -> tuple[bpy.types.Image | None, str | None]:
    """The photo as a Blender image (shared when already loaded) and None, or None and a warning for the
    artist when it cannot be shown (missing, unreadable, too large for Pillow, a format Blender cannot read
    such as HEIC): the camera is right without it. ``record`` is the build's ``BuildRecord``.

    With ``photo_size`` ``(W0, H0)`` (a result's photo), only a file that decodes as a photo of that upright
    size is loaded (:func:`core.inference.images.verify_photo`): a path in a crafted or stale RESULT.npz
    that names a text file, a key or another picture never becomes an image of the .blend (which File >
    External Data > Pack Resources would then put inside it)."""
    name = Path(path).name
    if not Path(path).is_file():
        return None, f"Photo {name} not found at {path}: its camera has no background photo."
    if photo_size is not None:
        problem = _photo_problem(path, tuple(int(v) for v in photo_size))
        if problem is not None:
            log.warning("not showing %s as a camera background: %s", path, problem)
            return None, f"Photo {name} cannot be shown ({problem}): its camera has no background photo."
    try:
        return record.load_image(display_photo_path(path)), None
    except (RuntimeError, *_pillow_errors()) as exc:
        log.warning("cannot show %s as a camera background: %s", path, exc)
        return None, f"Photo {name} cannot be shown ({exc}): its camera has no background photo."


def _photo_problem(path: str, photo_size: tuple[int, int]) -> str | None:
    """Why ``path`` is not the photo of ``photo_size`` a result names, or None (cached per file state: the
    camera and its surface ask for the same photo)."""
    try:
        stat = Path(path).stat()
    except OSError as exc:
        return exc.strerror or str(exc)
    return _checked_photo(str(path), photo_size, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _checked_photo(path: str, photo_size: tuple[int, int], _size: int, _mtime_ns: int) -> str | None:
    from ..core.errors import ImageError
    from ..core.inference.images import verify_photo

    try:
        verify_photo(path, photo_size)
    except ImageError as exc:
        return str(exc).replace(f"{path}: ", "").replace(str(path), Path(path).name)
    return None


def set_lens(cam: bpy.types.Camera, params: BlenderCameraParams, display_size: float) -> None:
    """Lens, film back and shift of ``params`` (``core.geometry.blender_camera``) on camera data, its
    viewport size (Blender units) and a clipping range that follows it."""
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


def add_background(cam: bpy.types.Camera, image=None, clip=None) -> None:
    """The photo (an Image) or the plate (a MovieClip) behind everything the camera shows, fitted to the
    frame, opaque."""
    bg = cam.background_images.new()
    if clip is not None:
        bg.source = "MOVIE_CLIP"
        bg.clip = clip
    else:
        bg.image = image
    bg.frame_method = "FIT"
    bg.alpha = 1.0
    bg.display_depth = "BACK"
    cam.show_background_images = True


def create_camera(
    record,
    name: str,
    params: BlenderCameraParams,
    photo_path: str,
    index: int,
    display_size: float,
    warnings: list[str] | None = None,
) -> bpy.types.Object:
    """A camera object matching one photo; the photo is its background image.

    Args:
        record: the build's ``BuildRecord`` (every datablock made here is registered with it at once).
        name: name of the camera object and its data.
        params: lens, sensor, shift and ``matrix_world`` from ``core.geometry.blender_camera``.
        photo_path: the ORIGINAL photo (shown upright even when EXIF rotates it).
        index: the view index, stored as ``obj["dust3r_index"]``.
        display_size: size of the camera in the viewport, Blender units (it also sets the clipping range).
        warnings: gets a line for the artist when the photo cannot be shown.
    """
    cam = record.new("cameras", name)
    set_lens(cam, params, display_size)
    image, warning = load_photo(record, photo_path, params.resolution)
    if warning is not None and warnings is not None:
        warnings.append(warning)
    if image is not None:
        add_background(cam, image=image)

    obj = record.new("objects", name, cam)
    obj.matrix_world = Matrix(np.asarray(params.matrix_world, dtype=np.float64).tolist())
    obj[ROLE_KEY] = Role.CAMERA
    obj["dust3r_image"] = str(Path(photo_path).resolve())
    obj["dust3r_index"] = int(index)
    obj["dust3r_resolution"] = [int(v) for v in params.resolution]
    obj["dust3r_pixel_aspect"] = [float(v) for v in params.pixel_aspect]
    return obj


def set_crop(cam_obj: bpy.types.Object, crop: PhotoCrop) -> None:
    """Store ``crop`` (all but the photo size) as ``cam_obj[CROP_KEY]``."""
    cam_obj[CROP_KEY] = [float(v) for v in (*crop.resized_size, *crop.crop_offset, *crop.net_size)]


def crop_of(cam_obj: bpy.types.Object) -> PhotoCrop | None:
    """The crop stored by :func:`set_crop` with the camera's ``dust3r_resolution``; None when the camera has
    none (built by a version before it was stored)."""
    values = cam_obj.get(CROP_KEY)
    if values is None or len(values) != 6:
        return None
    w1, h1, ox, oy, w2, h2 = (float(v) for v in values)

    def tidy(v: float):
        return int(v) if v.is_integer() else v

    return PhotoCrop(
        photo_size=tuple(int(v) for v in cam_obj["dust3r_resolution"]),
        resized_size=(tidy(w1), tidy(h1)),
        crop_offset=(tidy(ox), tidy(oy)),
        net_size=(int(w2), int(h2)),
    )


def set_refinement_properties(
    cam_obj: bpy.types.Object, dist, solve_error_px: float, uncertainty_px: float, status: str
) -> None:
    """Store what the refinement found on a camera: ``dist`` ``(2,)`` ``(k1, k2)`` on its data when not
    zero, ``solve_error_px`` (pixels of the original photo) on the object when finite (NaN: not refined),
    ``uncertainty_px`` (its 1-sigma reprojection uncertainty, photo pixels) and ``status`` (``refined``,
    ``kept: <reason>``; ``kept: refinement off`` when none ran) always."""
    k = np.asarray(dist, dtype=np.float64).reshape(2)
    if np.any(k != 0.0):
        cam_obj.data[DISTORTION_KEY] = [float(v) for v in k]
    if np.isfinite(solve_error_px):
        cam_obj[SOLVE_ERROR_KEY] = float(solve_error_px)
    cam_obj[UNCERTAINTY_KEY] = float(uncertainty_px)
    cam_obj[REFINE_STATUS_KEY] = str(status) or "kept: refinement off"


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
