"""What an export writes: cameras of the original photos and points, in one world frame (OpenCV axes).

:class:`ExportScene` is the seam between the sources (a ``RESULT.npz``, or the cameras and points as they
are in a Blender scene) and the format writers (COLMAP, nerfstudio, PLY), which read nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import ConfigError

# A similarity's rotation block divided by its scale must be orthonormal to this tolerance.
_SIMILARITY_TOL = 1e-6
SUBSAMPLE_SEED = 0


def subsample_indices(total: int, max_points: int | None) -> np.ndarray | slice:
    """Sorted indices of a deterministic uniform subset of ``max_points`` among ``total`` (all: a slice), so
    that the same input always gives the same export."""
    if max_points is None or total <= max_points:
        return slice(None)
    rng = np.random.default_rng(SUBSAMPLE_SEED)
    return np.sort(rng.choice(total, size=max_points, replace=False))


@dataclass(frozen=True)
class ExportScene:
    """N views (the ORIGINAL photos) and P points in one world frame.

    Attributes:
        image_paths: N source files: the photo of each view, or the same video file for every view of a video.
        frame_numbers: ``(N,)`` int64, the source frame of each view (``0..N-1`` for photos).
        is_footage: True for consecutive frames of one shot (a video or an image sequence): the exported
            images are then named by their frame numbers.
        world_from_cam: ``(N, 4, 4)`` float64 rigid camera-to-world transforms, OpenCV camera axes
            (x right, y down, z forward).
        K_photo: ``(N, 3, 3)`` float64 intrinsics of the photos, continuous pixel coordinates (pixels).
        photo_size: ``(N, 2)`` int64 ``(W0, H0)`` pixels, after EXIF orientation.
        dist: ``(N, 2)`` float64 radial distortion ``(k1, k2)`` (OpenCV's model; zeros: a pinhole).
        points: ``(P, 3)`` float64 world points.
        colors: ``(P, 3)`` uint8 sRGB colours.
        confidence: ``(P,)`` float32 network confidence (``>= 1``).
        point_view: ``(P,)`` int64, the view each point was seen in, ``-1`` where unknown.
        point_uv: ``(P, 2)`` float64, the photo pixel (continuous coordinates) each point was seen at in
            ``point_view``; NaN where unknown. ``point_view`` and ``point_uv`` default to "unknown".
    """

    image_paths: tuple[str, ...]
    frame_numbers: np.ndarray
    is_footage: bool
    world_from_cam: np.ndarray
    K_photo: np.ndarray
    photo_size: np.ndarray
    dist: np.ndarray
    points: np.ndarray
    colors: np.ndarray
    confidence: np.ndarray
    point_view: np.ndarray | None = field(default=None)
    point_uv: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        n = len(self.image_paths)
        if n == 0:
            raise ConfigError("nothing to export: the reconstruction has no views")
        arrays = {
            "frame_numbers": (np.int64, (n,)),
            "world_from_cam": (np.float64, (n, 4, 4)),
            "K_photo": (np.float64, (n, 3, 3)),
            "photo_size": (np.int64, (n, 2)),
            "dist": (np.float64, (n, 2)),
        }
        p = int(np.size(self.points)) // 3
        if self.point_view is None:
            object.__setattr__(self, "point_view", np.full(p, -1, dtype=np.int64))
        if self.point_uv is None:
            object.__setattr__(self, "point_uv", np.full((p, 2), np.nan))
        arrays |= {
            "points": (np.float64, (p, 3)),
            "colors": (np.uint8, (p, 3)),
            "confidence": (np.float32, (p,)),
            "point_view": (np.int64, (p,)),
            "point_uv": (np.float64, (p, 2)),
        }
        object.__setattr__(self, "image_paths", tuple(str(s) for s in self.image_paths))
        for name, (dtype, shape) in arrays.items():
            value = np.asarray(getattr(self, name), dtype=dtype)
            if value.size == 0 and 0 in shape:
                value = value.reshape(shape)  # no points: any empty array will do
            if value.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {np.shape(getattr(self, name))}")
            object.__setattr__(self, name, value)
        if np.any(self.point_view >= n) or np.any(self.point_view < -1):
            raise ValueError(f"point_view must be -1 or a view index below {n}")

    @property
    def num_views(self) -> int:
        return len(self.image_paths)

    @property
    def num_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def cam_from_world(self) -> np.ndarray:
        """``(N, 4, 4)`` float64 world-to-camera transforms (the inverse of ``world_from_cam``)."""
        R = self.world_from_cam[:, :3, :3]
        out = np.zeros_like(self.world_from_cam)
        out[:, :3, :3] = np.swapaxes(R, 1, 2)
        out[:, :3, 3] = -np.einsum("nji,nj->ni", R, self.world_from_cam[:, :3, 3])
        out[:, 3, 3] = 1.0
        return out

    def subsampled(self, max_points: int | None) -> ExportScene:
        """At most ``max_points`` of the points (:func:`subsample_indices`); the views are unchanged."""
        keep = subsample_indices(self.num_points, max_points)
        fields = ("points", "colors", "confidence", "point_view", "point_uv")
        return replace(self, **{name: getattr(self, name)[keep] for name in fields})

    def transformed(self, new_from_world: np.ndarray) -> ExportScene:
        """The same scene in another world frame, ``x_new = s R x + t`` (a similarity: the artist's
        level, scale and move of the reconstruction). Cameras stay rigid; every projection is unchanged.

        Args:
            new_from_world: ``(4, 4)`` similarity (uniform scale ``s > 0``, rotation, translation).

        Raises:
            ConfigError: the matrix is not a similarity (shear, non-uniform scale, mirror, not finite).
        """
        s, R, t = split_similarity(new_from_world)
        world_from_cam = self.world_from_cam.copy()
        world_from_cam[:, :3, :3] = R @ self.world_from_cam[:, :3, :3]
        world_from_cam[:, :3, 3] = s * self.world_from_cam[:, :3, 3] @ R.T + t
        return replace(self, world_from_cam=world_from_cam, points=s * self.points @ R.T + t)


def split_similarity(new_from_world: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(s, R, t)`` of a 4x4 similarity ``[[s R, t], [0, 1]]``.

    Raises:
        ConfigError: not a finite 4x4 similarity with a positive scale and a proper rotation.
    """
    T = np.asarray(new_from_world, dtype=np.float64)
    if T.shape != (4, 4) or not np.isfinite(T).all():
        raise ConfigError(f"the world transform must be a finite 4x4 matrix, got shape {T.shape}")
    if not np.allclose(T[3], [0.0, 0.0, 0.0, 1.0]):
        raise ConfigError("the world transform's last row must be (0, 0, 0, 1)")
    A = T[:3, :3]
    det = float(np.linalg.det(A))
    if det <= 0:
        raise ConfigError("the world transform must keep handedness (a mirror cannot be exported)")
    s = det ** (1.0 / 3.0)
    R = A / s
    if not np.allclose(R.T @ R, np.eye(3), atol=_SIMILARITY_TOL):
        raise ConfigError("the world transform must be a similarity (uniform scale, rotation, translation)")
    return s, R, T[:3, 3].copy()
