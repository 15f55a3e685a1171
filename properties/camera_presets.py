"""Blender's camera presets (Properties > Camera > Camera Presets) read as data: the sensors artists know.

A preset is a small Python file (``Arri_Alexa_LF.py``) that sets ``bpy.context.camera.sensor_width`` and
friends. It is never run: :func:`read_preset` parses it (``ast``) and takes the literal numbers it assigns,
so a preset folder can hold anything without the add-on executing it. No bpy here: the folders come from
``bpy.utils.preset_paths("camera")`` at the caller (the subfolder Blender's own preset menu uses).
"""

from __future__ import annotations

import ast
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PRESET_SUBDIR = "camera"  # bpy.utils.preset_paths(PRESET_SUBDIR): scripts/presets/camera, bundled and user


@dataclass(frozen=True)
class SensorPreset:
    """One camera preset.

    Attributes:
        key: the file's stem (``Arri_Alexa_LF``), stable between sessions: the identifier in enums.
        label: what Blender's preset menu shows (``Arri Alexa LF``, ``1/1.8 inch``).
        sensor_width: the sensor's width in mm (its long side for every bundled preset).
        sensor_height: its height in mm, None when the preset sets none.
    """

    key: str
    label: str
    sensor_width: float
    sensor_height: float | None = None

    def description(self) -> str:
        height = f" x {self.sensor_height:g}" if self.sensor_height else ""
        return f"{self.label}: {self.sensor_width:g}{height} mm sensor"


def display_name(file_name: str) -> str:
    """Blender's menu label of a preset file: ``1_slash_1.8_inch.py`` -> ``1/1.8 inch`` (as
    ``bpy.path.display_name(name, title_case=False)``, without bpy)."""
    stem = file_name[:-3] if file_name.endswith(".py") else file_name
    return stem.replace("_slash_", "/").replace("_", " ").strip()


def _camera_attribute(target: ast.expr) -> str | None:
    """``sensor_width`` for ``bpy.context.camera.sensor_width`` (or ``camera.sensor_width``), else None."""
    if not isinstance(target, ast.Attribute):
        return None
    owner = target.value
    owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
    return target.attr if owner_name == "camera" else None


def read_preset(path: str | Path) -> SensorPreset | None:
    """The preset in ``path``, or None when it sets no positive literal ``sensor_width`` (or cannot be read)."""
    path = Path(path)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
        log.warning("camera preset %s skipped: %s", path, exc)
        return None
    values: dict[str, float] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        name = _camera_attribute(node.targets[0])
        if name not in ("sensor_width", "sensor_height"):
            continue
        try:
            value = float(ast.literal_eval(node.value))
        except (ValueError, TypeError, SyntaxError):
            continue
        if math.isfinite(value) and value > 0:
            values[name] = value
    if "sensor_width" not in values:
        return None
    return SensorPreset(
        key=path.stem,
        label=display_name(path.name),
        sensor_width=values["sensor_width"],
        sensor_height=values.get("sensor_height"),
    )


def read_presets(folders: Iterable[str | Path]) -> list[SensorPreset]:
    """Every readable preset of ``folders`` (the first folder wins for a name), sorted by label."""
    found: dict[str, SensorPreset] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            if path.stem in found:
                continue
            preset = read_preset(path)
            if preset is not None:
                found[preset.key] = preset
    return sorted(found.values(), key=lambda p: p.label.lower())
