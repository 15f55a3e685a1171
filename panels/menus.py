"""File > Import > DUSt3R Result (.npz)."""

from __future__ import annotations

import bpy


def draw_import_entry(self, _context: bpy.types.Context) -> None:
    self.layout.operator("dust3r.import_result", text="DUSt3R Result (.npz)")


def register() -> None:
    bpy.types.TOPBAR_MT_file_import.append(draw_import_entry)


def unregister() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(draw_import_entry)
