"""The footage settings: defined once (:func:`footage_properties`: the sidebar's ``scene.dust3r.footage`` and
``dust3r.reconstruct_footage`` take the same definitions), mapped once to the core's frozen ``FootageConfig``.

Frame selection (every K-th frame, at most N, a start/end range), the fill of the frames in between, and the
lens: a known focal in mm, and the film back from Blender's camera presets (:mod:`.camera_presets`), a
custom width, or "Unknown", when the core assumes 36 mm and says so. Defaults come from
``core.config.FootageConfig``. The network and alignment settings are the photo settings of ``scene.dust3r``
(:mod:`.settings`), less the ones that only photos have.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty

from ..core.config import DEFAULT_SENSOR_WIDTH_MM, FootageConfig, ReconstructConfig
from .camera_presets import PRESET_SUBDIR, SensorPreset, read_presets

log = logging.getLogger(__name__)

_FOOTAGE = FootageConfig()
SENSOR_UNKNOWN = "UNKNOWN"
SENSOR_CUSTOM = "CUSTOM"
SOURCE_ITEMS = (
    ("FILE", "File", "A video file (or one frame of an image sequence)"),
    ("FOLDER", "Folder", "A folder holding one numbered image sequence (plate.1001.exr ...)"),
    ("CLIP", "Movie Clip", "Footage already loaded in the Movie Clip Editor"),
)
FILL_ITEMS = (
    (
        "localise",
        "Localise",
        "Pose each frame in between against the reconstruction (the paper's localisation)",
    ),
    ("interpolate", "Interpolate", "Interpolate the frames in between (fast; for smooth camera moves)"),
    ("none", "None", "Key only the reconstructed frames"),
)
# Photo settings that footage does not use: the lens is the footage's own, the pairs follow the frame order,
# and one camera gets no per-view surfaces.
PHOTO_ONLY = ("focal_prior", "focal_mm", "shared_focal", "scene_graph", "graph_window", "surfaces")

_presets: list[SensorPreset] | None = None
_sensor_items: list[tuple[str, str, str, int]] = []  # kept alive: Blender reads the strings later


def sensor_presets(refresh: bool = False) -> list[SensorPreset]:
    """Blender's camera presets (bundled and the user's), read once per session."""
    global _presets
    if _presets is None or refresh:
        _presets = read_presets(bpy.utils.preset_paths(PRESET_SUBDIR))
    return _presets


def preset(key: str) -> SensorPreset | None:
    return next((p for p in sensor_presets() if p.key == key), None)


def sensor_items(_self=None, _context=None) -> list[tuple[str, str, str, int]]:
    """The "Sensor" dropdown: Unknown (36 mm assumed), Custom, then every camera preset."""
    items = [
        (
            SENSOR_UNKNOWN,
            f"Unknown ({DEFAULT_SENSOR_WIDTH_MM:g} mm assumed)",
            f"The film back is not known: {DEFAULT_SENSOR_WIDTH_MM:g} mm is assumed, and the result says so. "
            "The focal in mm then only means something on that film back",
            0,
        ),
        (SENSOR_CUSTOM, "Custom", "Type the sensor width in mm (the long side of the frame)", 1),
    ]
    items += [(p.key, p.label, p.description(), k + 2) for k, p in enumerate(sensor_presets())]
    _sensor_items[:] = items
    return _sensor_items


def _sensor_chosen(settings, _context) -> None:
    """A preset fills the width (the width field then shows what will be used)."""
    chosen = preset(settings.sensor)
    if chosen is not None and settings.sensor_width != chosen.sensor_width:
        settings.sensor_width = chosen.sensor_width


def _width_typed(settings, _context) -> None:
    """A width that is not the chosen preset's turns the dropdown to Custom."""
    chosen = preset(settings.sensor)
    if chosen is not None and abs(settings.sensor_width - chosen.sensor_width) > 1e-6:
        settings.sensor = SENSOR_CUSTOM


def footage_properties(options: set[str]) -> dict[str, object]:
    """The footage settings as Blender property definitions, each with ``options``."""
    return {
        "every": IntProperty(
            name="Every",
            description="Reconstruct every K-th frame (the others get the fill below)",
            default=_FOOTAGE.every,
            min=1,
            soft_max=100,
            options=options,
        ),
        "max_frames": IntProperty(
            name="Max Frames",
            description="Reconstruct at most this many frames, spread evenly (first and last kept); 0: no limit",
            default=_FOOTAGE.max_frames or 0,
            min=0,
            options=options,
        ),
        "use_range": BoolProperty(
            name="Frame Range",
            description="Only the frames from Start to End (source frame numbers: videos count from 1, "
            "sequences keep their file numbers)",
            default=False,
            options=options,
        ),
        "start": IntProperty(name="Start", description="First source frame", default=1, options=options),
        "end": IntProperty(
            name="End", description="Last source frame (inclusive)", default=1, options=options
        ),
        "fill": EnumProperty(name="Fill", items=FILL_ITEMS, default=_FOOTAGE.fill, options=options),
        "use_focal": BoolProperty(
            name="Known Focal",
            description="The lens's focal length is known (it is kept, not estimated)",
            default=False,
            options=options,
        ),
        "focal_mm": FloatProperty(
            name="Focal (mm)",
            description="The real focal length of the lens, on the sensor below",
            default=35.0,
            soft_min=1.0,
            soft_max=1000.0,
            options=options,
        ),
        "sensor": EnumProperty(
            name="Sensor",
            description="The camera's film back (Blender's camera presets); Unknown: 36 mm is assumed",
            items=sensor_items,
            default=0,
            update=_sensor_chosen,
            options=options,
        ),
        "sensor_width": FloatProperty(
            name="Sensor Width (mm)",
            description="Film back in mm along the frame's long side",
            default=DEFAULT_SENSOR_WIDTH_MM,
            soft_min=1.0,
            soft_max=100.0,
            update=_width_typed,
            options=options,
        ),
    }


FOOTAGE_SETTING_NAMES = tuple(footage_properties(set()))


def footage_property(name: str):
    """One footage setting's definition, made anew (for a PropertyGroup's class-body annotations)."""
    return footage_properties(set())[name]


def sensor_width_mm(props) -> float | None:
    """The film back of ``props`` in mm; None when it is Unknown (the core then assumes 36 mm)."""
    if props.sensor == SENSOR_UNKNOWN:
        return None
    chosen = preset(props.sensor)
    return float(chosen.sensor_width if chosen is not None else props.sensor_width)


def make_footage_config(props, base: ReconstructConfig, fps: float | None = None) -> FootageConfig:
    """The ``FootageConfig`` for ``props`` (anything with the footage settings' attributes).

    Args:
        base: the network, alignment and clean-up settings (its photo focal prior is dropped).
        fps: the rate of an image sequence (the scene's); None for videos, which know theirs.

    Raises:
        ConfigError: an impossible combination (the message says which).
    """
    return FootageConfig(
        reconstruct=dataclasses.replace(base, focal_prior="none", focal_mm=None),
        start=int(props.start) if props.use_range else None,
        end=int(props.end) if props.use_range else None,
        every=int(props.every),
        max_frames=int(props.max_frames) or None,
        fill=props.fill,
        focal_mm=float(props.focal_mm) if props.use_focal else None,
        sensor_width_mm=sensor_width_mm(props),
        fps=fps,
    )


@dataclass(frozen=True)
class FootageSummary:
    """What the sidebar shows about the chosen footage (probed once, in an update callback)."""

    text: str = ""
    error: str = ""
    first_frame: int = 0
    last_frame: int = 0


def describe_footage(path: str, fps: float | None = None) -> FootageSummary:
    """Probe ``path`` (a video, a sequence folder or frame) without decoding it; never raises. ``fps``: the
    rate an image sequence will get (the scene's)."""
    if not path:
        return FootageSummary()
    try:
        from ..core.errors import Dust3rError
        from ..core.footage import read_footage_info
    except ImportError as exc:
        return FootageSummary(error=f"A package the add-on needs is missing ({exc.name}): reinstall it.")
    try:
        info = read_footage_info(path, fps)
    except Dust3rError as exc:
        return FootageSummary(error=str(exc))
    except OSError as exc:
        return FootageSummary(error=f"Cannot read {path}: {exc}")
    return FootageSummary(info.summary(), "", info.first_frame, info.last_frame)


def chosen_footage_path(settings) -> str:
    """The absolute path of the footage ``settings`` (``scene.dust3r.footage``) point at; '' for none."""
    if settings.source == "CLIP":
        clip = bpy.data.movieclips.get(settings.clip) if settings.clip else None
        return bpy.path.abspath(clip.filepath, library=clip.library) if clip is not None else ""
    value = settings.filepath if settings.source == "FILE" else settings.directory
    return bpy.path.abspath(value) if value else ""
