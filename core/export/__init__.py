"""Exports for the field's own tools: COLMAP (text and binary), nerfstudio's ``transforms.json``, PLY.

Two steps: :func:`scene_from_reconstruction` chooses what to export (the cameras of the ORIGINAL photos,
the confident points with the photo pixels they came from, optionally moved by a similarity), and
:func:`export_scene` writes one format. :func:`export_reconstruction` does both; ``python -m core export``
is a thin layer over it. No bpy, no torch; PyAV only to write the frames of a video.
"""

from .files import ExportError
from .run import FORMATS, ExportReport, export_reconstruction, export_scene
from .scene import ExportScene, split_similarity
from .source import DEFAULT_MIN_CONF, load_result, scene_from_reconstruction

__all__ = [
    "DEFAULT_MIN_CONF",
    "FORMATS",
    "ExportError",
    "ExportReport",
    "ExportScene",
    "export_reconstruction",
    "export_scene",
    "load_result",
    "scene_from_reconstruction",
    "split_similarity",
]
