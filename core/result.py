"""The result of a whole reconstruction, as the Blender builder and ``python -m core reconstruct`` use it."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .geometry.camera_uncertainty import aligned_uncertainty_px
from .geometry.cameras import depth_to_cam_points
from .geometry.photo import K_photo_from_K_net, PhotoCrop, crop_from_intrinsics
from .geometry.transforms import transform_points
from .io.atomic import save_npz
from .result_file import (  # noqa: F401  (RESULT_ARRAYS, PER_VIEW_ARRAYS: the key list, read here)
    PER_VIEW_ARRAYS,
    RESULT_ARRAYS,
    ResultFileError,
    check_layout,
    check_values,
    first_line,
    inspect_npz,
)


@dataclass(frozen=True)
class Reconstruction:
    """N views reconstructed in one world frame (OpenCV axes; scale arbitrary unless a prior fixed it).

    Attributes:
        image_paths: N absolute photo paths, in view order.
        world_from_cam: ``(N, 4, 4)`` float64, camera-to-world transforms (OpenCV camera axes).
        K_photo: ``(N, 3, 3)`` float64, intrinsics of the ORIGINAL photo in continuous pixel coordinates.
        photo_size: ``(N, 2)`` int, ``(W0, H0)`` after EXIF orientation.
        K_net: ``(N, 3, 3)`` float64, intrinsics of the network image in index pixel coordinates.
        net_size: ``(N, 2)`` int, ``(W2, H2)``.
        depth: N arrays ``(H2, W2)`` float32, z in each camera's frame.
        pts3d: N arrays ``(H2, W2, 3)`` float32, world points of the network pixels.
        conf: N arrays ``(H2, W2)`` float32, confidence (>= 1 from the network).
        colors: N arrays ``(H2, W2, 3)`` float32, RGB in ``[0, 1]`` (sRGB-encoded values of the photo).
        frame_numbers: ``(N,)`` int64, the source frame of each view (footage), ``0..N-1`` for photos.
        fps: frames per second of the footage; 0 for photos.
        dist: ``(N, 2)`` float64 radial distortion ``(k1, k2)`` of each ORIGINAL photo (OpenCV's model on
            normalised coordinates, INTERFACES.md); zeros when not estimated.
        solve_error_px: ``(N,)`` float64 RMS reprojection error of the refinement's kept correspondences, in
            pixels of the ORIGINAL photo; NaN where no refinement ran.
        crops: N :class:`~core.geometry.photo.PhotoCrop`, how each photo became its network image; by default
            recovered from ``K_net`` and ``K_photo`` (files written before the crops were stored).
        solve_error_total_px: RMS reprojection error of all the refinement's kept correspondences together,
            photo pixels (the figure a matchmover reads: "solve error 0.31 px"); NaN where no refinement ran.
        refine_status: per view, ``"refined"`` or why the refinement kept its aligned camera (e.g. ``"kept as
            aligned: too few correspondences (12, needs 30)"``); empty strings where no refinement ran (saved
            as ``"kept: refinement off"``).
        uncertainty_px: ``(N,)`` float32 1-sigma reprojection uncertainty of each camera, pixels of the ORIGINAL
            photo (frame): from the refinement's bundle adjustment for refined views, the alignment's for the
            others (never 0); by default (no refinement ran) the alignment's, ``f tan(1 deg)``
            (:func:`core.geometry.camera_uncertainty.aligned_uncertainty_px`).
        refine_warnings: user-facing sentences from the refinement (views kept as aligned, views whose solve
            error is far above the others'), for the log and the UI.
        warnings: one-line, user-facing notes about the run that did not stop it (a pair of photos left out
            of the alignment, ...), for the UI to show; empty when all went well.
    """

    image_paths: tuple[str, ...]
    world_from_cam: np.ndarray
    K_photo: np.ndarray
    photo_size: np.ndarray
    K_net: np.ndarray
    net_size: np.ndarray
    depth: tuple[np.ndarray, ...]
    pts3d: tuple[np.ndarray, ...]
    conf: tuple[np.ndarray, ...]
    colors: tuple[np.ndarray, ...]
    frame_numbers: np.ndarray | None = None
    fps: float = 0.0
    dist: np.ndarray | None = None
    solve_error_px: np.ndarray | None = None
    crops: tuple[PhotoCrop, ...] | None = field(default=None, compare=False)
    solve_error_total_px: float = float("nan")
    refine_status: tuple[str, ...] | None = None
    refine_warnings: tuple[str, ...] = ()
    uncertainty_px: np.ndarray | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        n = len(self.image_paths)
        for name in ("world_from_cam", "K_photo", "K_net"):
            shape = np.shape(getattr(self, name))
            expected = (n, 4, 4) if name == "world_from_cam" else (n, 3, 3)
            if shape != expected:
                raise ValueError(f"{name} must have shape {expected}, got {shape}")
        for name in ("photo_size", "net_size"):
            if np.shape(getattr(self, name)) != (n, 2):
                raise ValueError(f"{name} must have shape {(n, 2)}, got {np.shape(getattr(self, name))}")
        self._fill_defaults(n)
        for name in ("depth", "pts3d", "conf", "colors"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} must hold {n} arrays, got {len(getattr(self, name))}")
        for k in range(n):
            w2, h2 = (int(v) for v in self.net_size[k])
            for name, tail in (("depth", ()), ("pts3d", (3,)), ("conf", ()), ("colors", (3,))):
                shape = np.shape(getattr(self, name)[k])
                if shape != (h2, w2, *tail):
                    raise ValueError(f"{name}[{k}] must have shape {(h2, w2, *tail)}, got {shape}")

        if np.shape(self.frame_numbers) != (n,):
            raise ValueError(f"frame_numbers must have shape {(n,)}, got {np.shape(self.frame_numbers)}")
        for name, shape in (("dist", (n, 2)), ("solve_error_px", (n,)), ("uncertainty_px", (n,))):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"{name} must have shape {shape}, got {np.shape(getattr(self, name))}")
        if len(self.crops) != n:
            raise ValueError(f"crops must hold {n} entries, got {len(self.crops)}")
        if not (np.isfinite(self.fps) and self.fps >= 0):
            raise ValueError(f"fps must be a finite number >= 0, got {self.fps}")
        if len(self.refine_status) != n:
            raise ValueError(f"refine_status must hold {n} entries, got {len(self.refine_status)}")

    def _fill_defaults(self, n: int) -> None:
        """Fill the optional fields that were left out (the dataclass is frozen: set them once, here)."""
        defaults = {
            "frame_numbers": lambda: np.arange(n, dtype=np.int64),
            "dist": lambda: np.zeros((n, 2)),
            "solve_error_px": lambda: np.full(n, np.nan),
            "uncertainty_px": lambda: _aligned_uncertainty(self.K_photo, n),
        }
        for name, make in defaults.items():
            value = getattr(self, name)
            object.__setattr__(self, name, make() if value is None else np.asarray(value))
        object.__setattr__(self, "frame_numbers", self.frame_numbers.astype(np.int64))
        object.__setattr__(self, "dist", self.dist.astype(np.float64))
        object.__setattr__(self, "solve_error_px", self.solve_error_px.astype(np.float64))
        object.__setattr__(self, "uncertainty_px", self.uncertainty_px.astype(np.float32))
        object.__setattr__(self, "fps", float(self.fps))
        object.__setattr__(self, "solve_error_total_px", float(self.solve_error_total_px))
        status = ("",) * n if self.refine_status is None else tuple(str(x) for x in self.refine_status)
        object.__setattr__(self, "refine_status", status)
        object.__setattr__(self, "refine_warnings", tuple(str(x) for x in self.refine_warnings))
        object.__setattr__(self, "warnings", tuple(str(w) for w in self.warnings))
        if self.crops is None and np.shape(self.K_net) == (n, 3, 3) and np.shape(self.K_photo) == (n, 3, 3):
            crops = tuple(
                crop_from_intrinsics(self.K_net[k], self.K_photo[k], self.photo_size[k], self.net_size[k])
                for k in range(n)
            )
            object.__setattr__(self, "crops", crops)
        elif self.crops is not None:
            object.__setattr__(self, "crops", tuple(self.crops))

    @property
    def num_views(self) -> int:
        return len(self.image_paths)

    @property
    def solve_error_rms_px(self) -> float | None:
        """The run's solve error in pixels of the original photos: :attr:`solve_error_total_px` (all kept
        correspondences together) when recorded, else the RMS of the refined views' errors (results that
        hold only those); None when no view was refined."""
        if np.isfinite(self.solve_error_total_px):
            return float(self.solve_error_total_px)
        e = self.solve_error_px[np.isfinite(self.solve_error_px)]
        return float(np.sqrt(np.mean(e * e))) if e.size else None

    @property
    def is_footage(self) -> bool:
        """True for a reconstruction of consecutive frames of one shot (``fps > 0``)."""
        return self.fps > 0

    def save_npz(self, path: str | Path, extra: Mapping[str, np.ndarray] | None = None) -> None:
        """Write the ``RESULT.npz`` layout of INTERFACES.md section 1 (``cam2world`` = ``world_from_cam``),
        plus the ``extra`` arrays (e.g. the footage's per-frame status), which may not reuse a name.

        The write is atomic (:func:`core.io.atomic.save_npz`): an interrupted write leaves the previous file.
        ``path`` must end with ``.npz`` (it is used exactly as given).
        """
        arrays: dict[str, np.ndarray] = {
            "image_paths": np.array(self.image_paths, dtype=str),
            "cam2world": np.asarray(self.world_from_cam, dtype=np.float64),
            "K_photo": np.asarray(self.K_photo, dtype=np.float64),
            "photo_size": np.asarray(self.photo_size, dtype=np.int64),
            "K_net": np.asarray(self.K_net, dtype=np.float64),
            "net_size": np.asarray(self.net_size, dtype=np.int64),
            "frame_numbers": np.asarray(self.frame_numbers, dtype=np.int64),
            "fps": np.asarray(self.fps, dtype=np.float64),
            "dist": np.asarray(self.dist, dtype=np.float64),
            "solve_error_px": np.asarray(self.solve_error_px, dtype=np.float64),
            "uncertainty_px": np.asarray(self.uncertainty_px, dtype=np.float32),
            "refine_status": np.array([s or "kept: refinement off" for s in self.refine_status], dtype=str),
            "resized_size": np.array([c.resized_size for c in self.crops], dtype=np.float64),
            "crop_offset": np.array([c.crop_offset for c in self.crops], dtype=np.float64),
            "warnings": np.array(self.warnings, dtype=str).reshape(-1),
        }
        if np.isfinite(self.solve_error_total_px) or any(self.refine_status) or self.refine_warnings:
            arrays["solve_error_total_px"] = np.asarray(self.solve_error_total_px, dtype=np.float64)
            arrays["refine_warnings"] = np.array(self.refine_warnings, dtype=str).reshape(-1)
        for k in range(self.num_views):
            arrays[f"depth_{k}"] = np.asarray(self.depth[k], dtype=np.float32)
            arrays[f"pts3d_{k}"] = np.asarray(self.pts3d[k], dtype=np.float32)
            arrays[f"conf_{k}"] = np.asarray(self.conf[k], dtype=np.float32)
            arrays[f"colors_{k}"] = np.asarray(self.colors[k], dtype=np.float32)
        for name, value in (extra or {}).items():
            if name in arrays:
                raise ValueError(f"extra array {name!r} would overwrite a RESULT.npz array")
            arrays[name] = np.asarray(value)
        save_npz(path, arrays, compressed=True)

    @classmethod
    def load_npz(cls, path: str | Path) -> Reconstruction:
        """Read a file written by :meth:`save_npz` (the optional arrays may be absent)."""
        with np.load(path, allow_pickle=False) as data:
            n = len(data["image_paths"])
            optional = {
                name: data[name]
                for name in ("frame_numbers", "dist", "solve_error_px", "uncertainty_px")
                if name in data.files
            }
            if "fps" in data.files:
                optional["fps"] = float(data["fps"])
            if "solve_error_total_px" in data.files:
                optional["solve_error_total_px"] = float(data["solve_error_total_px"])
            for name in ("refine_status", "refine_warnings"):
                if name in data.files:
                    optional[name] = tuple(str(x) for x in data[name].reshape(-1))
            if "refine_status" in optional:  # written for results without a refinement: read back as empty
                optional["refine_status"] = tuple(
                    "" if x == "kept: refinement off" else x for x in optional["refine_status"]
                )
            if "warnings" in data.files:
                optional["warnings"] = tuple(str(w) for w in data["warnings"])
            if "resized_size" in data.files and "crop_offset" in data.files:
                optional["crops"] = tuple(
                    PhotoCrop(
                        photo_size=tuple(int(v) for v in data["photo_size"][k]),
                        resized_size=tuple(_tidy(v) for v in data["resized_size"][k]),
                        crop_offset=tuple(_tidy(v) for v in data["crop_offset"][k]),
                        net_size=tuple(int(v) for v in data["net_size"][k]),
                    )
                    for k in range(n)
                )
            return cls(
                image_paths=tuple(str(p) for p in data["image_paths"]),
                world_from_cam=data["cam2world"],
                K_photo=data["K_photo"],
                photo_size=data["photo_size"],
                K_net=data["K_net"],
                net_size=data["net_size"],
                depth=tuple(data[f"depth_{k}"] for k in range(n)),
                pts3d=tuple(data[f"pts3d_{k}"] for k in range(n)),
                conf=tuple(data[f"conf_{k}"] for k in range(n)),
                colors=tuple(data[f"colors_{k}"] for k in range(n)),
                **optional,
            )


def read_result(path: str | Path) -> Reconstruction:
    """THE reader of a RESULT.npz (import, export, the footage build): checked (:mod:`core.result_file`:
    declared sizes and npy headers before inflating, the layout, then the values), then
    :meth:`Reconstruction.load_npz`.

    Raises:
        ResultFileError: the file is missing, not an npz, damaged or crafted (``unreadable``), lacks arrays
            of :data:`RESULT_ARRAYS` or :data:`PER_VIEW_ARRAYS` (``arrays``), or holds arrays of the wrong
            dtype, shape or values (``invalid``); no pickle is ever loaded.
    """
    path = Path(path)
    check_layout(inspect_npz(path), path)
    try:
        rec = Reconstruction.load_npz(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:  # a bad CRC, a truncated member
        raise ResultFileError(path, "unreadable", f"damaged: {first_line(exc)}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultFileError(path, "invalid", first_line(exc)) from None
    check_values(rec, path)
    return rec


def _tidy(value: float) -> int | float:
    """An integer when ``value`` is one (crop sizes and offsets are integers when the core made them)."""
    value = float(value)
    return int(round(value)) if abs(value - round(value)) < 1e-6 else value


def reconstruction_from_depth(
    image_paths: Sequence[str],
    world_from_cam: np.ndarray,
    K_net: np.ndarray,
    crops: Sequence[PhotoCrop],
    depth: Sequence[np.ndarray],
    conf: Sequence[np.ndarray],
    colors: Sequence[np.ndarray],
    pts3d: Sequence[np.ndarray] | None = None,
    warnings: Sequence[str] = (),
) -> Reconstruction:
    """A :class:`Reconstruction` from known cameras and depth maps (ground truth, or another tool's output).

    Args:
        image_paths: N photo paths.
        world_from_cam: ``(N, 4, 4)`` OpenCV camera-to-world transforms.
        K_net: ``(N, 3, 3)`` intrinsics of the network images, index pixel coordinates.
        crops: how each photo became its network image (identity crops when the photo IS the network image).
        depth: N ``(H2, W2)`` z-depths in each camera's frame.
        conf: N ``(H2, W2)`` confidences.
        colors: N ``(H2, W2, 3)`` RGB in ``[0, 1]``.
        pts3d: N ``(H2, W2, 3)`` world points when the caller already has them (an alignment computes
            them); by default the depth maps back-projected through ``K_net`` and ``world_from_cam``.
        warnings: the run's user-facing warnings (see :class:`Reconstruction`).

    The photo intrinsics come from :func:`~core.geometry.photo.K_photo_from_K_net`.
    """
    world_from_cam = np.asarray(world_from_cam, dtype=np.float64)
    K_net = np.asarray(K_net, dtype=np.float64)
    if pts3d is None:
        pts3d = [
            transform_points(T, depth_to_cam_points(d, (K[0, 0], K[1, 1]), K[:2, 2]))
            for T, K, d in zip(world_from_cam, K_net, depth, strict=True)
        ]
    return Reconstruction(
        image_paths=tuple(str(p) for p in image_paths),
        world_from_cam=world_from_cam,
        K_photo=np.stack([K_photo_from_K_net(K, crop) for K, crop in zip(K_net, crops, strict=True)]),
        photo_size=np.array([crop.photo_size for crop in crops], dtype=np.int64),
        K_net=K_net,
        net_size=np.array([crop.net_size for crop in crops], dtype=np.int64),
        depth=tuple(np.asarray(d, dtype=np.float32) for d in depth),
        pts3d=tuple(np.asarray(p, dtype=np.float32) for p in pts3d),
        conf=tuple(np.asarray(c, dtype=np.float32) for c in conf),
        colors=tuple(np.asarray(c, dtype=np.float32) for c in colors),
        crops=tuple(crops),
        warnings=tuple(warnings),
    )


def _aligned_uncertainty(K_photo, n: int) -> np.ndarray:
    """``(N,)`` the alignment's uncertainty in photo pixels (NaN when ``K_photo`` is malformed: validated
    elsewhere)."""
    K = np.asarray(K_photo, dtype=np.float64)
    return aligned_uncertainty_px(K) if K.shape == (n, 3, 3) else np.full(n, np.nan)
