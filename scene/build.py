"""Reconstruction -> Blender scene, in one go on the main thread.

Builds a new collection (named after the photo folder) holding one parent empty (role ``root``, named like
the collection), and under it the point cloud and one camera per photo (CONVENTIONS.md sections 4-5), plus
optional per-view surfaces. The artist moves, rotates and scales the whole reconstruction with the empty;
cameras and points stay consistent because they move together.

Every datablock is registered with the build's :class:`~.datablocks.BuildRecord` the moment it exists: if
anything fails half-way, all of them are removed and the file is as it was.

Cameras are made by :func:`_build_photo_cameras` (one per photo) or, for footage (``recon.is_footage``), by
:func:`_build_footage_camera`: one animated camera with the plate as its background (:mod:`.footage_camera`),
which also sets the scene's frame range, rate and resolution, and aligns and calibrates the plate's clip;
those scene and clip settings are put back too if the build fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import bpy
import numpy as np

from ..addon import ROLE_KEY, Role
from ..core.footage.result import FootageResult, footage_of_reconstruction
from ..core.geometry.blender_camera import blender_camera_from_opencv
from ..core.geometry.surface import surface_quads
from ..properties.build_options import BuildOptions
from . import cameras, footage_camera, geonodes, points, surfaces
from .datablocks import BuildRecord
from .plate import Plate

log = logging.getLogger(__name__)

# Circumradius of a point's triangle in pixel footprints (depth / focal): 1.25 covers the point's pixel
# cell completely (an equilateral triangle holding a unit square has circumradius 1.244), so the photo
# seen through its camera has no holes.
POINT_RADIUS_PER_FOOTPRINT = 1.25
CAMERA_SIZE_PER_EXTENT = 0.1  # camera display size over the scene's extent (median depth or camera spread)
MAX_BASE_NAME = 40  # leaves room for " 000 <photo stem>" in Blender's 63-byte names


@dataclass
class BuildReport:
    """What :func:`build_reconstruction` made: the collection, its parent empty and objects, the number of
    points (every finite point, whatever its confidence), the radius the points got, warnings for the user."""

    collection: bpy.types.Collection
    root: bpy.types.Object
    points_object: bpy.types.Object
    camera_objects: list[bpy.types.Object]
    num_points: int
    point_radius: float
    warnings: list[str] = field(default_factory=list)
    surface_objects: list[bpy.types.Object] = field(default_factory=list)
    clip: bpy.types.MovieClip | None = None  # footage: the plate behind the camera


def collection_name(image_paths) -> str:
    """The photo folder's name ("DUSt3R" when unknown)."""
    if not image_paths:
        return "DUSt3R"
    return Path(image_paths[0]).resolve().parent.name or "DUSt3R"


def unique_base_name(name: str) -> str:
    """``name``, or ``name.001``, ``name.002``...: the first that no collection and no object of ours uses,
    so that the collection, its empty, its points and cameras all carry the same base (Blender's suffix
    applied once, to the base)."""
    name = name[:MAX_BASE_NAME] or "DUSt3R"

    def taken(base: str) -> bool:
        return (
            base in bpy.data.collections or base in bpy.data.objects or f"{base} Points" in bpy.data.objects
        )

    if not taken(name):
        return name
    return next(f"{name}.{k:03d}" for k in count(1) if not taken(f"{name}.{k:03d}"))


def pixel_footprint(recon) -> float:
    """The size of one network pixel at the scene's depth: the median over views of median depth / focal
    (scene units); 0 when no view has a finite positive depth."""
    footprints = []
    for k in range(recon.num_views):
        d = np.asarray(recon.depth[k], dtype=np.float64)
        d = d[np.isfinite(d) & (d > 0)]
        focal = float(recon.K_net[k][0, 0])
        if d.size and np.isfinite(focal) and focal > 0:
            footprints.append(float(np.median(d)) / focal)
    return float(np.median(footprints)) if footprints else 0.0


def default_point_radius(recon) -> float:
    """The point radius that covers each point's pixel on its photo (scene units, > 0)."""
    radius = POINT_RADIUS_PER_FOOTPRINT * pixel_footprint(recon)
    return radius if np.isfinite(radius) and radius > 0 else 1e-3 * scene_extent(recon)


def scene_extent(recon) -> float:
    """A robust size of the reconstruction (median camera-to-point distance), for display sizes."""
    centres = np.asarray(recon.world_from_cam)[:, :3, 3]
    dists = []
    for d in recon.depth:
        d = np.asarray(d, dtype=np.float64)
        d = d[np.isfinite(d)]
        if d.size:
            dists.append(np.median(d))
    depth = float(np.median(dists)) if dists else 1.0
    spread = float(np.linalg.norm(centres.max(0) - centres.min(0))) if len(centres) > 1 else 0.0
    extent = max(depth, spread)
    return extent if np.isfinite(extent) and extent > 0 else 1.0


def build_reconstruction(
    scene: bpy.types.Scene, result, options: BuildOptions | None = None, plate: Plate | None = None
) -> BuildReport:
    """Build ``result`` into ``scene``: a ``core.result.Reconstruction``, or a shot's
    ``core.footage.result.FootageResult`` (the footage job's, or :func:`read_footage_result`'s).

    Photos: the first camera becomes the scene camera; the render resolution and pixel aspect are its
    photo's (a warning is returned when the photos differ in size). Footage (a ``FootageResult``, or a
    ``Reconstruction`` with ``is_footage``, then seen through :func:`footage_of_reconstruction`): one
    animated camera; ``plate`` says which clip goes behind it and whether the scene keeps its rate (default:
    the plate where the result says it is). On any failure nothing of the build is left and the scene is as
    it was.
    """
    options = options or BuildOptions()
    footage = result if isinstance(result, FootageResult) else None
    if footage is None and result.is_footage:
        footage = footage_of_reconstruction(result)
    recon = footage.reconstruction if footage is not None else result
    if footage is not None and plate is None:
        plate = Plate.of(footage)
    record = BuildRecord()
    existing_clip = bpy.data.movieclips.get(plate.clip_name) if plate and plate.clip_name else None
    snapshot = footage_camera.SceneSnapshot(scene, existing_clip) if footage is not None else None
    try:
        return _build(scene, recon, options, record, footage, plate)
    except BaseException:
        record.remove_all()
        if snapshot is not None:
            snapshot.restore()
        raise


def _build(
    scene: bpy.types.Scene, recon, options: BuildOptions, record: BuildRecord, footage, plate
) -> BuildReport:
    warnings: list[str] = []
    params = [
        blender_camera_from_opencv(recon.world_from_cam[k], recon.K_photo[k], tuple(recon.photo_size[k]))
        for k in range(recon.num_views)
    ]
    default_name = footage_camera.shot_name(footage.info.path) if footage else None
    base = unique_base_name(options.name or default_name or collection_name(recon.image_paths))
    display_size = CAMERA_SIZE_PER_EXTENT * scene_extent(recon)

    collection = record.new("collections", base)
    collection[ROLE_KEY] = Role.RECONSTRUCTION
    root = record.new("objects", base, None)
    root[ROLE_KEY] = Role.ROOT
    root.empty_display_type = "PLAIN_AXES"
    root.empty_display_size = display_size
    collection.objects.link(root)

    radius = options.point_radius if options.point_radius > 0 else default_point_radius(recon)
    points_obj, view_counts = _build_points(record, recon, params, base, radius, options, collection, root)
    num_points = int(view_counts.sum())
    if footage is not None:
        camera = _build_footage_camera(
            record, recon, footage, plate, base, display_size, collection, root, warnings
        )
        scene.collection.children.link(collection)
        footage_camera.apply_to_scene(scene, camera, recon, footage, plate, warnings)
        return BuildReport(
            collection, root, points_obj, [camera.obj], num_points, radius, warnings, clip=camera.clip
        )
    warnings += _empty_view_warnings(recon, view_counts)
    camera_objects = _build_photo_cameras(
        record, recon, params, base, display_size, collection, root, warnings
    )
    surface_objects = (
        _build_surfaces(record, recon, options, base, collection, root, warnings) if options.surfaces else []
    )

    sizes = {tuple(int(v) for v in s) for s in recon.photo_size}
    if len(sizes) > 1:
        warnings.append(
            f"The photos have {len(sizes)} different sizes; the render resolution is the first photo's "
            f"({params[0].resolution[0]}x{params[0].resolution[1]}). Looking through another camera "
            "('Compare with Photo') sets its own."
        )

    scene.collection.children.link(collection)
    if camera_objects:
        cameras.apply_camera_render_settings(scene, camera_objects[0])
    return BuildReport(
        collection, root, points_obj, camera_objects, num_points, radius, warnings, surface_objects
    )


def _adopt(obj: bpy.types.Object, collection: bpy.types.Collection, root: bpy.types.Object) -> None:
    """Link ``obj`` into the reconstruction's collection under its parent empty (its world transform
    stays: the empty is at the identity when the build runs)."""
    obj.parent = root
    collection.objects.link(obj)


def _build_points(record, recon, params, base, radius, options, collection, root):
    """The points object (each point a triangle in its camera's image plane, sized by the live modifier);
    returns it and the number of points of each view (``(V,)`` int)."""
    cloud = points.PointViews(recon.pts3d, recon.colors, recon.conf)  # written straight into the mesh
    view_axes = np.stack([np.asarray(p.matrix_world, dtype=np.float64)[:3, :2].T for p in params])
    view_axes /= np.linalg.norm(view_axes, axis=-1, keepdims=True)
    mesh = points.create_point_mesh(record.new, f"{base} Points", cloud, view_axes)
    obj = record.new("objects", f"{base} Points", mesh)
    obj[ROLE_KEY] = Role.POINTS
    _adopt(obj, collection, root)
    mesh.materials.append(geonodes.points_material(record.new))
    geonodes.add_points_modifier(record.new, obj, options.conf_threshold, radius)
    return obj, cloud.counts


def _empty_view_warnings(recon, finite) -> list[str]:
    """A line for each photo that gave no finite point (``finite``: ``(V,)`` the points of each view; its
    camera is built; it shows nothing)."""
    return [
        f"Photo {Path(recon.image_paths[k]).name}: no point with finite coordinates, nothing to show."
        for k, n in enumerate(finite)
        if n == 0
    ]


def _build_photo_cameras(record, recon, params, base, display_size, collection, root, warnings):
    """One camera per photo, its photo as the background."""
    objects = []
    for k, p in enumerate(params):
        stem = Path(recon.image_paths[k]).stem
        obj = cameras.create_camera(
            record, f"{base} {k:03d} {stem}", p, recon.image_paths[k], k, display_size, warnings
        )
        cameras.set_refinement_properties(
            obj, recon.dist[k], recon.solve_error_px[k], recon.uncertainty_px[k], recon.refine_status[k]
        )
        cameras.set_crop(obj, recon.crops[k])
        _adopt(obj, collection, root)
        objects.append(obj)
    return objects


def _build_footage_camera(record, recon, footage, plate, base, display_size, collection, root, warnings):
    """The shot's one animated camera, the plate as its background (:mod:`.footage_camera`)."""
    camera = footage_camera.build_footage_camera(record, recon, footage, plate, base, display_size, warnings)
    _adopt(camera.obj, collection, root)
    return camera


def _build_surfaces(record, recon, options: BuildOptions, base, parent, root, warnings):
    """One textured mesh per view in a child collection; a view with no face to show is skipped."""
    coll = None
    objects = []
    for k in range(recon.num_views):
        pts = np.asarray(recon.pts3d[k])
        valid = (np.asarray(recon.conf[k]) >= options.conf_threshold) & np.isfinite(pts).all(axis=-1)
        quads = surface_quads(valid, recon.depth[k])
        stem = Path(recon.image_paths[k]).stem
        if len(quads) == 0:
            warnings.append(
                f"Photo {Path(recon.image_paths[k]).name}: no surface (no four neighbouring pixels at or "
                f"above the confidence threshold {options.conf_threshold:g}); lower it to get one."
            )
            continue
        if coll is None:
            coll = record.new("collections", f"{base} Surfaces")
            parent.children.link(coll)
        name = f"{base} {k:03d} {stem} Surface"
        mesh = surfaces.create_surface_mesh(record.new, name, pts, quads, recon.crops[k])
        image, _warning = cameras.load_photo(record, recon.image_paths[k], recon.photo_size[k])  # warned
        mesh.materials.append(surfaces.photo_material(record.new, mesh.name, image))
        obj = record.new("objects", mesh.name, mesh)
        obj[ROLE_KEY] = Role.SURFACE
        obj["dust3r_index"] = k
        _adopt(obj, coll, root)
        objects.append(obj)
    return objects
