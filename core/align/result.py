"""What an alignment returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry.cameras import intrinsics_from_focal


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
