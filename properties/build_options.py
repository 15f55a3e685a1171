"""What the scene builder is asked to make, with its defaults (the one place they are written). No bpy."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.config import DEFAULT_MIN_CONF


@dataclass(frozen=True)
class BuildOptions:
    """Options of one scene build.

    Attributes:
        conf_threshold: initial confidence threshold of the point cloud's live filter (its modifier input);
            also the fixed threshold of the per-view surfaces.
        point_radius: initial radius of the displayed points, scene units; 0 (the default) takes it from the
            reconstruction itself (a little more than one pixel's footprint, depth / focal, at the median
            depth), so a scene 1 or 100 units across gets points of the same size on the photo.
        surfaces: also build one textured mesh per view.
        name: base name of the collection and its objects (default: the photo folder's name).
    """

    conf_threshold: float = DEFAULT_MIN_CONF
    point_radius: float = 0.0
    surfaces: bool = False
    name: str | None = None
