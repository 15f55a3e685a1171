"""``dust3r.export_reconstruction``: the selected reconstruction, as it is in the scene, -> COLMAP, nerfstudio
or PLY (the core's writers, INTERFACES.md ``python -m core export``).

The cameras and points are gathered on the main thread (:mod:`~..scene.read_back`); the files are written by a
background task (a text COLMAP model of millions of points takes tens of seconds), with progress and cancel
like a reconstruction. Nothing in the scene changes, so there is no undo step.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from ..core.config import DEFAULT_MIN_CONF
from ..jobs.export import ExportRequest
from ..jobs.task_operator import TaskOperator
from ..scene.objects import context_root
from ..scene.read_back import NothingToExport, export_scene_from_blender

FORMAT_ITEMS = (
    ("colmap-bin", "COLMAP (binary)", "cameras.bin, images.bin, points3D.bin and the photos"),
    (
        "colmap",
        "COLMAP (text)",
        "cameras.txt, images.txt, points3D.txt and the photos (slow for many points)",
    ),
    ("nerfstudio", "nerfstudio", "transforms.json, points3D.ply and the photos"),
    ("ply", "PLY Points", "points3D.ply: the confident points with colours and confidence"),
)
NO_RECONSTRUCTION = "Select an object of a DUSt3R reconstruction (its points, a camera or its parent empty)."


class DUST3R_OT_export_reconstruction(TaskOperator, bpy.types.Operator):
    """Export the selected DUSt3R reconstruction (cameras of the original photos and confident points) as
    a COLMAP model, a nerfstudio dataset or a PLY, where it stands in the scene now"""

    bl_idname = "dust3r.export_reconstruction"
    bl_label = "Export DUSt3R Reconstruction"
    bl_options = {"REGISTER"}

    directory: StringProperty(name="Folder", subtype="DIR_PATH", options={"SKIP_SAVE"})
    format: EnumProperty(name="Format", items=FORMAT_ITEMS, default="colmap-bin")
    use_display_threshold: BoolProperty(
        name="Threshold as Shown",
        description="Export the points the viewport shows (the points' live confidence threshold)",
        default=True,
    )
    min_conf: FloatProperty(
        name="Min Confidence", description="Export points above this", default=DEFAULT_MIN_CONF, min=0.0
    )
    max_points: IntProperty(name="Max Points", description="0: all", default=0, min=0)
    overwrite: BoolProperty(
        name="Overwrite", description="Write into a folder that is not empty (replacing the export's files)"
    )

    run_in_background: BoolProperty(options={"HIDDEN", "SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context_root(context) is not None

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        self.run_in_background = True
        if self.directory:
            return super().invoke(context, event)
        context.window_manager.fileselect_add(self)  # the file browser calls execute() on confirm
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        """From the file browser: write in the background (modal, with progress); from scripts: to the end."""
        if self.run_in_background and context.window is not None and not bpy.app.background:
            return super().invoke(context, None)
        return super().execute(context)

    def make_request(self, context: bpy.types.Context) -> ExportRequest:
        from ..core.errors import ConfigError

        root = context_root(context)
        if root is None:
            raise ConfigError(NO_RECONSTRUCTION)
        if not self.directory:
            raise ConfigError("Choose the folder to export into.")
        try:
            scene = export_scene_from_blender(root, None if self.use_display_threshold else self.min_conf)
        except NothingToExport as exc:
            raise ConfigError(str(exc)) from exc
        scene = scene.subsampled(self.max_points or None)
        return ExportRequest(scene, self.format, bpy.path.abspath(self.directory), self.overwrite)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "format")
        layout.prop(self, "use_display_threshold")
        row = layout.row()
        row.enabled = not self.use_display_threshold
        row.prop(self, "min_conf")
        layout.prop(self, "max_points")
        layout.prop(self, "overwrite")
