"""Blender UI: settings (scene.dust3r), add-on preferences and the sidebar panel. Never imports the core."""

from __future__ import annotations

from . import footage_panel, menus, preferences, properties, sidebar

_MODULES = (properties, preferences, sidebar, footage_panel, menus)


def register() -> None:
    for module in _MODULES:
        module.register()


def unregister() -> None:
    for module in reversed(_MODULES):
        module.unregister()
