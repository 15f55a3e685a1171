"""What a footage job returns: the reconstruction of the shot plus how each frame's pose was found.

Per frame (view) ``status``:

* ``reconstructed``: in the global alignment (its points are in the point cloud);
* ``localised``: posed against the reconstruction (paper section 4.1), no points of its own;
* ``interpolated``: posed by SLERP/linear interpolation between its neighbours (the fast fill);
* ``flagged``: a pose that should not be trusted as is (black or duplicated frame, failed localisation, a
  jump off the camera path); ``notes`` says why and what the pose is (interpolated, copied, as solved).

Views that were not reconstructed carry no geometry: their ``depth`` and ``pts3d`` are NaN (the Blender
builder drops non-finite points) and their ``conf`` is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..result import Reconstruction
from .read.info import FootageInfo

RECONSTRUCTED = "reconstructed"
LOCALISED = "localised"
INTERPOLATED = "interpolated"
FLAGGED = "flagged"
STATUSES = (RECONSTRUCTED, LOCALISED, INTERPOLATED, FLAGGED)


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


def read_frame_status(path: str | Path) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``(status, notes)`` per view of a RESULT.npz, or None when it is not a footage result."""
    with np.load(path, allow_pickle=False) as data:
        if "frame_status" not in data.files:
            return None
        status = tuple(str(s) for s in data["frame_status"])
        notes = (
            tuple(str(s) for s in data["frame_notes"]) if "frame_notes" in data.files else ("",) * len(status)
        )
    return status, notes
