"""DUSt3R for Blender: cameras and a coloured point cloud from a folder of photos.

Blender loads this package as ``bl_ext.<repository>.dust3r``. This module only registers and unregisters;
it never imports torch (the network is imported when a reconstruction starts).
"""

from __future__ import annotations

from . import operators, panels


def register() -> None:
    panels.register()
    operators.register()


def unregister() -> None:
    operators.unregister()
    panels.unregister()
