"""Blender-side settings: the sidebar and operator properties, footage settings, camera presets, build options."""
