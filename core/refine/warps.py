"""How a patch of image A looks in image B: the local maps the patch matcher compares through.

``AffineWarp``: ``q + A d`` (the offsets ``d`` of A's patch land at ``A d`` from the match ``q`` in B).
``PlaneWarp``: the exact image in B of the host's local plane (a homography in ``d``): the patch's points
``X + J d`` on the plane, through B's camera and lens. On slanted surfaces the affine map's second-order
error shifts the matched position systematically (a few tenths of a pixel, always the same way on one
surface), which a bundle adjustment turns into camera error; the plane's own image has no such error.
"""

from __future__ import annotations

import numpy as np

from ..geometry.distortion import project_distorted
from ..geometry.transforms import invert_rigid


class AffineWarp:
    """``(M, 2, 2)`` linear maps from A's pixel offsets to B's."""

    def __init__(self, A: np.ndarray):
        self.A = np.asarray(A, dtype=np.float64).reshape(-1, 2, 2)

    def __len__(self) -> int:
        return len(self.A)

    def offsets(self, d: np.ndarray) -> np.ndarray:
        """``(P, 2)`` level-0 offsets in A -> ``(M, P, 2)`` level-0 offsets in B from the match."""
        return np.einsum("mij,pj->mpi", self.A, np.asarray(d, dtype=np.float64))

    def subset(self, index: np.ndarray) -> AffineWarp:
        return AffineWarp(self.A[index])

    def inverse(self) -> AffineWarp:
        """The map from B's offsets back to A's (linear part)."""
        return AffineWarp(np.linalg.inv(self.A))


class PlaneWarp:
    """The image in B of local planes of A.

    Args:
        X: ``(M, 3)`` world points of the patches' centres; J: ``(M, 3, 2)`` world offset per pixel of A.
        world_from_cam: ``(4, 4)`` B's camera; K: ``(3, 3)`` its intrinsics (B's pixels); dist: its lens.
    """

    def __init__(self, X, J, world_from_cam, K, dist=(0.0, 0.0)):
        self.X = np.asarray(X, dtype=np.float64).reshape(-1, 3)
        self.J = np.asarray(J, dtype=np.float64).reshape(-1, 3, 2)
        self.cam_from_world = invert_rigid(np.asarray(world_from_cam, dtype=np.float64))
        self.K = np.asarray(K, dtype=np.float64)
        self.dist = dist
        self.A = self._linear_part()

    def __len__(self) -> int:
        return len(self.X)

    def _project(self, X: np.ndarray) -> np.ndarray:
        xc = X @ self.cam_from_world[:3, :3].T + self.cam_from_world[:3, 3]
        xc[..., 2] = np.maximum(xc[..., 2], 1e-9)
        return project_distorted(self.K, xc, self.dist)

    def _linear_part(self, h: float = 0.5) -> np.ndarray:
        cols = [
            (self._project(self.X + self.J[:, :, k] * h) - self._project(self.X - self.J[:, :, k] * h))
            / (2 * h)
            for k in (0, 1)
        ]
        return np.stack(cols, axis=-1)

    def offsets(self, d: np.ndarray) -> np.ndarray:
        d = np.asarray(d, dtype=np.float64)
        pts = self.X[:, None, :] + np.einsum("mck,pk->mpc", self.J, d)
        return self._project(pts) - self._project(self.X)[:, None, :]

    def subset(self, index: np.ndarray) -> PlaneWarp:
        out = PlaneWarp.__new__(PlaneWarp)
        out.X, out.J, out.A = self.X[index], self.J[index], self.A[index]
        out.cam_from_world, out.K, out.dist = self.cam_from_world, self.K, self.dist
        return out

    def inverse(self) -> AffineWarp:
        return AffineWarp(np.linalg.inv(self.A))


def template_levels(A: np.ndarray, top: int) -> np.ndarray:
    """``(M,)`` int: how many levels higher in A's pyramid the template is taken, so that A's patch and its
    image in B have about the same pixel size (B seeing the patch smaller than A does: a template with finer
    detail than B can show biases the match, consistently over a whole surface)."""
    scale = np.sqrt(np.abs(np.linalg.det(np.asarray(A, dtype=np.float64).reshape(-1, 2, 2))))
    return np.clip(np.rint(-np.log2(np.maximum(scale, 1e-6))), 0, top).astype(np.int64)
