"""``dust3r.reconstruct``: photos -> cameras and a point cloud.

Thin operator: properties -> frozen config -> a background task (:mod:`~..jobs.reconstruct`) -> scene builder.
"""

from __future__ import annotations

import bpy
from bpy.props import CollectionProperty, EnumProperty, StringProperty

from ..addon import preferences
from ..jobs.photos import resolve_photos
from ..jobs.reconstruct import JobRequest, checkpoint_path
from ..jobs.task_operator import TaskOperator
from ..properties.settings import (
    DEVICE_ITEMS,
    PRECISION_ITEMS,
    SETTING_NAMES,
    ReconstructOperatorSettings,
    build_options,
    make_config,
)


class DUST3R_OT_reconstruct(TaskOperator, ReconstructOperatorSettings, bpy.types.Operator):
    """Reconstruct cameras and a coloured point cloud from a folder of photos"""

    bl_idname = "dust3r.reconstruct"
    bl_label = "Reconstruct from Photos"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(name="Folder", subtype="DIR_PATH", options={"SKIP_SAVE"})
    files: CollectionProperty(type=bpy.types.OperatorFileListElement, options={"HIDDEN", "SKIP_SAVE"})
    checkpoint: StringProperty(
        name="Checkpoint",
        description="Overrides the add-on preference",
        subtype="FILE_PATH",
        options={"SKIP_SAVE"},
    )
    device: EnumProperty(
        name="Device", description="Overrides the add-on preference", items=DEVICE_ITEMS, default="auto",
        options={"SKIP_SAVE"},
    )  # fmt: skip
    precision: EnumProperty(
        name="Precision", description="Overrides the add-on preference", items=PRECISION_ITEMS,
        default="auto", options={"SKIP_SAVE"},
    )  # fmt: skip

    def make_request(self, context: bpy.types.Context) -> JobRequest:
        """Resolve settings, photos and checkpoint; raises the core's Dust3rError on user mistakes."""
        settings = context.scene.dust3r
        for name in SETTING_NAMES:
            if not self.properties.is_property_set(name):
                setattr(self, name, getattr(settings, name))
        prefs = preferences(context)
        for name in ("device", "precision"):
            if not self.properties.is_property_set(name) and prefs is not None:
                setattr(self, name, getattr(prefs, name))
        checkpoint = checkpoint_path(self.checkpoint, prefs)
        directory = self.directory or settings.photo_folder
        paths, warnings = resolve_photos(
            bpy.path.abspath(directory) if directory else "", [f.name for f in self.files]
        )
        return JobRequest(
            image_paths=tuple(paths),
            checkpoint=checkpoint,
            config=make_config(self, self.device, self.precision),
            build=build_options(self),
            scene_name=context.scene.name,
            warnings=tuple(warnings),
        )

    def draw(self, context: bpy.types.Context) -> None:
        # The "Adjust Last Operation" panel would re-run the whole reconstruction synchronously for any
        # tweak; point the user to the sidebar (and the live filter on the points' modifier) instead.
        self.layout.label(text="Change settings in the sidebar's DUSt3R tab and run again.", icon="INFO")
