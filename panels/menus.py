"""File > Import > DUSt3R Result (.npz) and File > Export > DUSt3R Reconstruction."""

from __future__ import annotations

import bpy


def draw_import_entry(self, _context: bpy.types.Context) -> None:
    self.layout.operator("dust3r.import_result", text="DUSt3R Result (.npz)")


def draw_export_entry(self, _context: bpy.types.Context) -> None:
    self.layout.operator(
        "dust3r.export_reconstruction", text="DUSt3R Reconstruction (COLMAP, nerfstudio, PLY, glTF, depth)"
    )


def register() -> None:
    bpy.types.TOPBAR_MT_file_import.append(draw_import_entry)
    bpy.types.TOPBAR_MT_file_export.append(draw_export_entry)


def unregister() -> None:
    bpy.types.TOPBAR_MT_file_export.remove(draw_export_entry)
    bpy.types.TOPBAR_MT_file_import.remove(draw_import_entry)
