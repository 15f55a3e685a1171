"""Add-on preferences: the checkpoint and the device, plus the packaging buttons when they exist."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from .properties import DEVICE_ITEMS

# The add-on's root package ("bl_ext.<repo>.dust3r" when installed as an extension).
ADDON_PACKAGE = __package__.rpartition(".")[0]

# Operators written by the packaging engineer; drawn only once they are registered.
OPTIONAL_OPERATORS = (
    ("dust3r.install_torch", "Install PyTorch", "CONSOLE"),
    ("dust3r.download_checkpoint", "Download Checkpoint", "IMPORT"),
)


def operator_exists(idname: str) -> bool:
    """Whether ``bpy.ops.<module>.<name>`` is registered (never raises)."""
    module, _, name = idname.partition(".")
    try:
        getattr(getattr(bpy.ops, module), name).get_rna_type()
    except (AttributeError, KeyError):
        return False
    return True


class DUST3R_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    checkpoint: StringProperty(
        name="Checkpoint",
        description="DUSt3R model: an official .pth file, a Hugging Face folder or its model.safetensors",
        subtype="FILE_PATH",
        default="",
    )
    device: EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "checkpoint")
        layout.prop(self, "device")
        row = layout.row()
        for idname, text, icon in OPTIONAL_OPERATORS:
            if operator_exists(idname):
                row.operator(idname, text=text, icon=icon)
        # PyTorch status, the running set-up task (progress + Cancel) and pip's last lines.
        from ..operators.setup_task import draw_setup_status

        draw_setup_status(layout.box(), context)


def get_preferences(context: bpy.types.Context) -> DUST3R_AP_preferences | None:
    """The add-on's preferences, or None when the add-on was registered without its package entry."""
    addon = context.preferences.addons.get(ADDON_PACKAGE)
    return None if addon is None else addon.preferences


def register() -> None:
    bpy.utils.register_class(DUST3R_AP_preferences)


def unregister() -> None:
    bpy.utils.unregister_class(DUST3R_AP_preferences)
