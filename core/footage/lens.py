"""The shot's lens: a focal length in mm on a film back in mm <-> a focal length in network pixels.

The film back (sensor width) is measured along the frame's LONG side, as Blender's sensor fit and
CONVENTIONS.md section 4 attach it: ``f_px = focal_mm / sensor_mm * long_side_px``. With the default 36 mm
that is the 35 mm-equivalent focal length of :mod:`core.geometry.photo`. The 36 mm is used only when the
artist gave no film back, and the result says so (``sensor_width_assumed``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import DEFAULT_SENSOR_WIDTH_MM, FootageConfig
from ..geometry.photo import FILM_LONG_SIDE_MM, PhotoCrop, focal_35mm_from_net, focal_net_from_35mm


@dataclass(frozen=True)
class ShotLens:
    """``sensor_width_mm`` used; ``sensor_width_assumed`` True when it is the default; ``focal_mm`` given or None."""

    sensor_width_mm: float
    sensor_width_assumed: bool
    focal_mm: float | None

    @classmethod
    def from_config(cls, config: FootageConfig) -> ShotLens:
        assumed = config.sensor_width_mm is None
        sensor = DEFAULT_SENSOR_WIDTH_MM if assumed else float(config.sensor_width_mm)
        return cls(sensor_width_mm=sensor, sensor_width_assumed=assumed, focal_mm=config.focal_mm)

    def known_focal_net(self, crop: PhotoCrop) -> float | None:
        """The given focal in network pixels of a frame cropped as ``crop``, or None when not given."""
        if self.focal_mm is None:
            return None
        return focal_net_from_35mm(self.focal_mm * FILM_LONG_SIDE_MM / self.sensor_width_mm, crop)

    def focal_mm_from_net(self, focal_net: float, crop: PhotoCrop) -> float:
        """A focal in network pixels -> mm on this film back."""
        return focal_35mm_from_net(focal_net, crop) * self.sensor_width_mm / FILM_LONG_SIDE_MM

    def notes(self) -> list[str]:
        """What the UI should say about the lens."""
        if self.sensor_width_assumed:
            return [f"film back unknown: {DEFAULT_SENSOR_WIDTH_MM:g} mm assumed (give the sensor width)"]
        return []
