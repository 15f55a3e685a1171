"""Pure geometry (numpy, optionally torch): frames, cameras, focal estimation, conventions. A leaf package.

The names below need numpy only (the Blender side may import this package). ``matching`` needs scipy and is
imported from its module: ``from core.geometry.matching import find_reciprocal_matches``.
"""

from .cameras import (
    cam_points_to_depth,
    default_principal_point,
    depth_to_cam_points,
    intrinsics_from_focal,
    intrinsics_matrix,
    pixel_grid,
    project,
)
from .focal import estimate_focal_knowing_depth, focal_base
from .procrustes import batched_umeyama, weighted_umeyama
from .transforms import invert_rigid, make_rigid, rotation_angle_deg, skew, transform_points

__all__ = [
    "batched_umeyama",
    "cam_points_to_depth",
    "default_principal_point",
    "depth_to_cam_points",
    "estimate_focal_knowing_depth",
    "focal_base",
    "intrinsics_from_focal",
    "intrinsics_matrix",
    "invert_rigid",
    "make_rigid",
    "pixel_grid",
    "project",
    "rotation_angle_deg",
    "skew",
    "transform_points",
    "weighted_umeyama",
]
