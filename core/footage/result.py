"""What a footage job returns: the reconstruction of the shot plus how each frame's pose was found.

Per frame (view) ``status``:

* ``reconstructed``: in the global alignment (its points are in the point cloud);
* ``localised``: posed against the reconstruction (paper section 4.1), no points of its own;
* ``interpolated``: posed by SLERP/linear interpolation between its neighbours (the fast fill);
* ``flagged``: a pose that should not be trusted as is (black or duplicated frame, failed localisation, a
  jump off the camera path); ``notes`` says why and what the pose is (interpolated, copied, as solved);
* ``unknown``: read from a footage RESULT.npz that does not record it (written by another tool).

Views that were not reconstructed carry no geometry: their ``depth`` and ``pts3d`` are NaN (the Blender
builder drops non-finite points) and their ``conf`` is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config import DEFAULT_SENSOR_WIDTH_MM
from ..result import Reconstruction
from .read.info import FootageInfo

RECONSTRUCTED = "reconstructed"
LOCALISED = "localised"
INTERPOLATED = "interpolated"
FLAGGED = "flagged"
UNKNOWN = "unknown"
STATUSES = (RECONSTRUCTED, LOCALISED, INTERPOLATED, FLAGGED, UNKNOWN)
# the footage arrays of RESULT.npz beside the reconstruction's (docs/CONTRACTS.md "core/footage")
FOOTAGE_ARRAYS = (
    "frame_status",
    "frame_notes",
    "sensor_width_mm",
    "sensor_width_assumed",
    "focal_mm",
    "fps_rational",
    "footage_path",
    "footage_kind",
    "messages",
)


@dataclass(frozen=True)
class FootageResult:
    """A reconstructed shot.

    Attributes:
        reconstruction: one view per output frame, in frame order; ``frame_numbers``, ``fps``, ``dist``
            and ``solve_error_px`` filled (``solve_error_px`` NaN until a refinement runs).
        status: per view, one of :data:`STATUSES`.
        notes: per view, a short explanation ('' when there is nothing to say).
        info: the footage as probed.
        sensor_width_mm: the film back (long side) the lens refers to; ``sensor_width_assumed`` True when it
            is the 36 mm default because none was given.
        focal_mm: the shot's focal length in mm on that film back (given, or estimated).
        messages: shot-level notes for the artist (assumed film back or frame rate, gaps, flagged frames).
    """

    reconstruction: Reconstruction
    status: tuple[str, ...]
    notes: tuple[str, ...]
    info: FootageInfo
    sensor_width_mm: float
    sensor_width_assumed: bool
    focal_mm: float
    messages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = self.reconstruction.num_views
        if len(self.status) != n or len(self.notes) != n:
            raise ValueError(
                f"status and notes need {n} entries, got {len(self.status)} and {len(self.notes)}"
            )
        unknown = set(self.status) - set(STATUSES)
        if unknown:
            raise ValueError(f"unknown frame status {sorted(unknown)}")

    def count(self, status: str) -> int:
        return sum(s == status for s in self.status)

    def summary(self) -> str:
        """One line: how many frames were solved how."""
        parts = [f"{self.count(s)} {s}" for s in STATUSES if self.count(s)]
        return f"{self.reconstruction.num_views} frames: " + ", ".join(parts)

    def extra_arrays(self) -> dict[str, np.ndarray]:
        """The footage arrays RESULT.npz carries beside the reconstruction's (docs/CONTRACTS.md)."""
        rate = self.info.fps_rational or (0, 0)
        return {
            "frame_status": np.array(self.status, dtype=str),
            "frame_notes": np.array(self.notes, dtype=str),
            "sensor_width_mm": np.float64(self.sensor_width_mm),
            "sensor_width_assumed": np.bool_(self.sensor_width_assumed),
            "focal_mm": np.float64(self.focal_mm),
            "fps_rational": np.array(rate, dtype=np.int64),
            "footage_path": np.array(self.info.path),
            "footage_kind": np.array(self.info.kind),
        }

    def save_npz(self, path: str | Path) -> None:
        """RESULT.npz of INTERFACES.md (footage) plus :meth:`extra_arrays`."""
        self.reconstruction.save_npz(path, extra=self.extra_arrays())


def footage_of_reconstruction(recon: Reconstruction) -> FootageResult:
    """What a footage ``recon`` (``recon.is_footage``) says of its shot on its own: every frame with points
    ``reconstructed`` (``unknown`` without), no recorded rate, the plate named by the first view's path
    (one path for all views: a video), the default film back assumed, the focal unknown (NaN)."""
    paths = list(recon.image_paths)
    frames = np.asarray(recon.frame_numbers, dtype=np.int64)
    width, height = (int(v) for v in recon.photo_size[0])
    info = FootageInfo(
        path=str(paths[0]),
        kind="video" if len(set(paths)) == 1 else "sequence",
        frame_count=recon.num_views,
        first_frame=int(frames.min()),
        last_frame=int(frames.max()),
        fps=float(recon.fps),
        fps_rational=None,
        width=width,
        height=height,
        codec="",
    )
    return FootageResult(
        reconstruction=recon,
        status=tuple(RECONSTRUCTED if np.isfinite(p).any() else UNKNOWN for p in recon.pts3d),
        notes=("",) * recon.num_views,
        info=info,
        sensor_width_mm=DEFAULT_SENSOR_WIDTH_MM,
        sensor_width_assumed=True,
        focal_mm=float("nan"),
    )


def read_footage_result(path: str | Path, recon: Reconstruction) -> FootageResult:
    """The footage side of a RESULT.npz whose reconstruction ``recon`` :func:`core.result.read_result` read
    (checked there: sizes, layout, values). Arrays of :data:`FOOTAGE_ARRAYS` that are absent or of the wrong
    length keep the values of :func:`footage_of_reconstruction`; a status this version does not know reads
    ``unknown``.

    Raises:
        OSError, ValueError: the file cannot be read again.
    """
    n = recon.num_views
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in FOOTAGE_ARRAYS if name in data.files}
    base = footage_of_reconstruction(recon)

    def per_frame(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        values = tuple(str(s) for s in np.asarray(arrays.get(name, default)).reshape(-1))
        return values if len(values) == n else default

    status = tuple(s if s in STATUSES else UNKNOWN for s in per_frame("frame_status", base.status))
    rate = tuple(int(v) for v in np.asarray(arrays.get("fps_rational", (0, 0))).reshape(-1)[:2])
    sensor = float(arrays.get("sensor_width_mm", base.sensor_width_mm))
    info = replace(
        base.info,
        path=str(arrays.get("footage_path", base.info.path)),
        kind=str(arrays.get("footage_kind", base.info.kind)),
        fps_rational=rate if len(rate) == 2 and min(rate) > 0 else None,
    )
    return replace(
        base,
        status=status,
        notes=per_frame("frame_notes", base.notes),
        info=info,
        sensor_width_mm=sensor if np.isfinite(sensor) and sensor > 0 else base.sensor_width_mm,
        sensor_width_assumed=bool(arrays.get("sensor_width_assumed", "sensor_width_mm" not in arrays)),
        focal_mm=float(arrays.get("focal_mm", base.focal_mm)),
        messages=tuple(str(m) for m in np.asarray(arrays.get("messages", ())).reshape(-1)),
    )
