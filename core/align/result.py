"""What an alignment returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..geometry.cameras import depth_to_cam_points, intrinsics_from_focal
from ..geometry.transforms import make_rigid, transform_points

if TYPE_CHECKING:
    from .camera_fit import Cameras


@dataclass(frozen=True)
class AlignmentResult:
    """N views in one world frame (OpenCV axes, arbitrary scale unless priors fix it).

    Attributes:
        world_from_cam: ``(N, 4, 4)`` float64 camera-to-world rigid transforms.
        focals: ``(N,)`` float64 focal lengths in NETWORK-image pixels (fx = fy).
        principal_points: ``(N, 2)`` float64 ``(cx, cy)`` in network-image INDEX coordinates.
        depth: N arrays ``(H_n, W_n)`` float32, z of each pixel in its own camera frame.
        pts3d: N arrays ``(H_n, W_n, 3)`` float32, world points of each pixel.
        conf: N arrays ``(H_n, W_n)`` float32, per-pixel confidence used for masking (>= 1).
        loss_history: the objective after each iteration (diagnostics; may be empty).
        seconds: wall time of the alignment.
        warnings: one-line, user-facing notes that did not stop the alignment (pairs left out because one
            of their pointmaps had no confident pixel); empty when all went well.
    """

    world_from_cam: np.ndarray
    focals: np.ndarray
    principal_points: np.ndarray
    depth: list[np.ndarray]
    pts3d: list[np.ndarray]
    conf: list[np.ndarray]
    loss_history: list[float] = field(default_factory=list)
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()

    @property
    def num_views(self) -> int:
        return int(self.world_from_cam.shape[0])

    def intrinsics(self) -> np.ndarray:
        """``(N, 3, 3)`` float64 network-image intrinsics ``K_net`` (index coordinates)."""
        return np.stack(
            [intrinsics_from_focal(f, pp) for f, pp in zip(self.focals, self.principal_points, strict=True)]
        )


def result_from_cameras(cams: Cameras, depths, confs, history: list[float]) -> AlignmentResult:
    """Assemble an :class:`AlignmentResult` from solved cameras and full-resolution depth maps.

    Args:
        cams: the solved cameras (rotation, centre, focal, principal point per view).
        depths: N ``(H_n, W_n)`` z-depths; confs: N ``(H_n, W_n)`` confidences.
        history: the objective after each iteration.
    """
    n = len(depths)
    world_from_cam = np.stack([make_rigid(cams.rot[v], cams.centre[v]) for v in range(n)])
    pts3d = [
        transform_points(world_from_cam[v], depth_to_cam_points(depth, cams.focal[v], cams.pp[v])).astype(
            np.float32
        )
        for v, depth in enumerate(depths)
    ]
    return AlignmentResult(
        world_from_cam=world_from_cam,
        focals=cams.focal.astype(np.float64).copy(),
        principal_points=cams.pp.astype(np.float64).copy(),
        depth=[np.asarray(d, dtype=np.float32) for d in depths],
        pts3d=pts3d,
        conf=[np.asarray(c, dtype=np.float32) for c in confs],
        loss_history=[float(x) for x in history],
    )
