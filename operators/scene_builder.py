"""Reconstruction -> Blender scene, in one go on the main thread.

Builds a new collection (named after the photo folder) with one point-cloud object and one camera per photo,
following CONVENTIONS.md sections 4-5. If anything fails half-way, every datablock made so far is removed,
so the file is as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ..addon import ROLE_KEY, Role
from ..core.geometry.blender_camera import blender_camera_from_opencv
from . import cameras, geonodes, points, surfaces
from .build_options import BuildOptions

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What :func:`build_reconstruction` made: the collection and its objects, the number of points (every
    finite point, whatever its confidence) and warnings for the user."""

    collection: bpy.types.Collection
    points_object: bpy.types.Object
    camera_objects: list[bpy.types.Object]
    num_points: int
    warnings: list[str] = field(default_factory=list)
    surface_objects: list[bpy.types.Object] = field(default_factory=list)


def collection_name(image_paths) -> str:
    """The photo folder's name ("DUSt3R" when unknown)."""
    if not image_paths:
        return "DUSt3R"
    return Path(image_paths[0]).resolve().parent.name or "DUSt3R"


def _scene_extent(recon) -> float:
    """A robust size of the reconstruction (median camera-to-point distance), for display sizes."""
    centres = np.asarray(recon.world_from_cam)[:, :3, 3]
    dists = [np.median(np.asarray(d, dtype=np.float64)) for d in recon.depth if np.size(d)]
    depth = float(np.median(dists)) if dists else 1.0
    spread = float(np.linalg.norm(centres.max(0) - centres.min(0))) if len(centres) > 1 else 0.0
    extent = max(depth, spread)
    return extent if np.isfinite(extent) and extent > 0 else 1.0


# Datablocks a build may share with earlier ones (photos, the points material and node group): those that
# were not in the file before a failed build are removed with the rest.
_SHARED_KINDS = ("images", "materials", "node_groups")


class _Created:
    """Datablocks made by one build, removed again if the build fails."""

    def __init__(self) -> None:
        self.ids: list[bpy.types.ID] = []
        self._shared_before = {id_.as_pointer() for kind in _SHARED_KINDS for id_ in getattr(bpy.data, kind)}

    def add(self, datablock):
        self.ids.append(datablock)
        return datablock

    def remove_all(self) -> None:
        new_shared = [
            id_
            for kind in _SHARED_KINDS
            for id_ in getattr(bpy.data, kind)
            if id_.as_pointer() not in self._shared_before
        ]
        alive = {}
        for datablock in (*self.ids, *new_shared):
            try:
                alive[datablock.as_pointer()] = datablock
            except ReferenceError:  # already gone together with its owner
                continue
        bpy.data.batch_remove(list(alive.values()))  # also unlinks them from whatever still uses them


def build_reconstruction(scene: bpy.types.Scene, recon, options: BuildOptions | None = None) -> BuildReport:
    """Build ``recon`` (a ``core.result.Reconstruction``) into ``scene``.

    The first camera becomes the scene camera; the render resolution and pixel aspect are its photo's (a
    warning is returned when the photos differ in size).
    """
    options = options or BuildOptions()
    created = _Created()
    try:
        return _build(scene, recon, options, created)
    except Exception:
        created.remove_all()
        raise


def _build(scene: bpy.types.Scene, recon, options: BuildOptions, created: _Created) -> BuildReport:
    name = options.name or collection_name(recon.image_paths)
    warnings: list[str] = []
    params = [
        blender_camera_from_opencv(recon.world_from_cam[k], recon.K_photo[k], tuple(recon.photo_size[k]))
        for k in range(recon.num_views)
    ]

    collection = created.add(bpy.data.collections.new(name))
    collection[ROLE_KEY] = Role.RECONSTRUCTION

    cloud = points.gather_points(recon.pts3d, recon.colors, recon.conf)
    mesh = created.add(points.create_point_mesh(f"{name} Points", cloud))
    points_obj = created.add(bpy.data.objects.new(f"{name} Points", mesh))
    points_obj[ROLE_KEY] = Role.POINTS
    collection.objects.link(points_obj)
    mesh.materials.append(geonodes.points_material())
    geonodes.add_points_modifier(points_obj, options.conf_threshold, options.point_radius)

    display_size = 0.1 * _scene_extent(recon)
    camera_objects = []
    for k, p in enumerate(params):
        stem = Path(recon.image_paths[k]).stem
        obj = cameras.create_camera(f"{name} {k:03d} {stem}", p, recon.image_paths[k], k, display_size)
        created.add(obj.data)
        created.add(obj)
        collection.objects.link(obj)
        camera_objects.append(obj)

    surface_objects = _build_surfaces(recon, options, name, collection, created) if options.surfaces else []

    sizes = {tuple(int(v) for v in s) for s in recon.photo_size}
    if len(sizes) > 1:
        warnings.append(
            f"The photos have {len(sizes)} different sizes; the render resolution is the first photo's "
            f"({params[0].resolution[0]}x{params[0].resolution[1]}). Set each camera's own with "
            "'Set DUSt3R Camera Active'."
        )

    scene.collection.children.link(collection)
    if camera_objects:
        cameras.apply_camera_render_settings(scene, camera_objects[0])
    return BuildReport(collection, points_obj, camera_objects, len(cloud), warnings, surface_objects)


def _build_surfaces(
    recon, options: BuildOptions, name: str, parent, created: _Created
) -> list[bpy.types.Object]:
    """One textured mesh per view in a child collection."""
    coll = created.add(bpy.data.collections.new(f"{name} Surfaces"))
    parent.children.link(coll)
    objects = []
    for k in range(recon.num_views):
        crop = recon.crops[k]
        pts = np.asarray(recon.pts3d[k])
        valid = (np.asarray(recon.conf[k]) >= options.conf_threshold) & np.isfinite(pts).all(axis=-1)
        quads = surfaces.surface_quads(valid, recon.depth[k])
        stem = Path(recon.image_paths[k]).stem
        mesh = created.add(surfaces.create_surface_mesh(f"{name} {k:03d} {stem} Surface", pts, quads, crop))
        mat = created.add(surfaces.photo_material(mesh.name, cameras.load_photo(recon.image_paths[k])))
        mesh.materials.append(mat)
        obj = created.add(bpy.data.objects.new(mesh.name, mesh))
        obj[ROLE_KEY] = Role.SURFACE
        obj["dust3r_index"] = k
        coll.objects.link(obj)
        objects.append(obj)
    return objects
