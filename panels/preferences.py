"""Add-on preferences: the checkpoint, the device and precision, the set-up buttons and the set-up task's state."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from ..addon import ADDON_PACKAGE
from ..jobs.estimate import refresh_scene_estimates
from ..jobs.torch_status import torch_summary
from ..operators.cancel_setup import DUST3R_OT_cancel_setup
from ..properties.settings import DEVICE_ITEMS, PRECISION_ITEMS

LOG_LINES = 8

SETUP_OPERATORS = (
    ("dust3r.install_torch", "Install PyTorch", "CONSOLE"),
    ("dust3r.download_checkpoint", "Download Checkpoint", "IMPORT"),
)


class DUST3R_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    checkpoint: StringProperty(
        name="Checkpoint",
        description="DUSt3R model: an official .pth file, a Hugging Face folder or its model.safetensors",
        subtype="FILE_PATH",
        default="",
    )
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto", update=refresh_scene_estimates)
    precision: EnumProperty(
        name="Precision",
        description="Compute precision of the network (the results are stored in float32 whatever it is)",
        items=PRECISION_ITEMS,
        default="auto",
        update=refresh_scene_estimates,
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "checkpoint")
        layout.prop(self, "device")
        layout.prop(self, "precision")
        row = layout.row()
        for idname, text, icon in SETUP_OPERATORS:
            row.operator(idname, text=text, icon=icon)
        draw_setup_status(layout.box(), context)


def draw_setup_status(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The PyTorch status and the running (or last) set-up task: progress + Cancel, or its outcome, and the
    last lines of its log. Reads plain properties only (``wm.dust3r_setup``); never imports torch."""
    summary = torch_summary()
    layout.label(text=summary, icon="CHECKMARK" if "not" not in summary else "ERROR")
    state = getattr(context.window_manager, "dust3r_setup", None)
    if state is None:
        return
    if state.running:
        row = layout.row(align=True)
        row.progress(factor=state.progress, type="BAR", text=f"{state.task}: {state.stage}")
        row.operator(DUST3R_OT_cancel_setup.bl_idname, text="", icon="CANCEL")
    elif state.message:
        layout.label(text=state.message, icon="ERROR" if state.failed else "INFO")
    if state.log:
        column = layout.column(align=True)
        column.scale_y = 0.7
        for line in state.log.splitlines()[-LOG_LINES:]:
            column.label(text=line)


def register() -> None:
    bpy.utils.register_class(DUST3R_AP_preferences)


def unregister() -> None:
    bpy.utils.unregister_class(DUST3R_AP_preferences)
