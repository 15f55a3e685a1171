"""Blender UI: settings (scene.dust3r), add-on preferences and the sidebar panel. Never imports the core."""

from __future__ import annotations

from . import menus, preferences, properties, sidebar

_MODULES = (properties, preferences, sidebar, menus)


def register() -> None:
    for module in _MODULES:
        module.register()


def unregister() -> None:
    for module in reversed(_MODULES):
        module.unregister()
