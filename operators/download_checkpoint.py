"""``dust3r.download_checkpoint``: fetch an official checkpoint into the extension's user folder.

Asks first, honours Blender's "Allow Online Access" setting, downloads on a worker thread with progress and
cancel (``dust3r.cancel_setup``), resumes an interrupted download, and points the add-on preference
``checkpoint`` at the result. The transfer itself is ``core.io.checkpoints`` / ``core.io.download`` (no bpy).
"""

from __future__ import annotations

import logging

import bpy
from bpy.props import EnumProperty, StringProperty

from ..addon import preferences
from ..jobs import setup

log = logging.getLogger(__name__)

CHECKPOINTS_SUBDIR = "checkpoints"
# Mirrors core.io.checkpoints.OFFICIAL_CHECKPOINTS (the operator module must not import the core at load
# time); tests/blender/test_install_ops.py checks that the two lists agree.
CHECKPOINT_ITEMS = (
    ("DUSt3R_ViTLarge_BaseDecoder_512_dpt", "512 DPT", "512 px, DPT head: best quality (2.3 GB)"),
    ("DUSt3R_ViTLarge_BaseDecoder_512_linear", "512 Linear", "512 px, linear head (2.1 GB)"),
    ("DUSt3R_ViTLarge_BaseDecoder_224_linear", "224 Linear", "224 px, linear head: fastest (2.1 GB)"),
)
SOURCE_ITEMS = (
    ("huggingface", "Hugging Face", "model.safetensors (or pytorch_model.bin) + config.json, naver/<name>"),
    ("naver", "NAVER LABS", "The original .pth file from NAVER LABS Europe's download server"),
)


def _set_checkpoint_preference(context: bpy.types.Context, path: str) -> bool:
    prefs = preferences(context)
    if prefs is None or not hasattr(prefs, "checkpoint"):
        return False
    prefs.checkpoint = path
    return True


class DUST3R_OT_download_checkpoint(setup.SetupOperator, bpy.types.Operator):
    """Download an official DUSt3R checkpoint (about 2.2 GB) and use it"""

    bl_idname = "dust3r.download_checkpoint"
    bl_label = "Download Checkpoint"
    bl_options = {"REGISTER", "INTERNAL"}

    checkpoint_name: EnumProperty(name="Checkpoint", items=CHECKPOINT_ITEMS, default=CHECKPOINT_ITEMS[0][0])
    source: EnumProperty(name="Source", items=SOURCE_ITEMS, default="huggingface")
    directory: StringProperty(
        name="Folder",
        description="Where to store it (default: the extension's user folder)",
        subtype="DIR_PATH",
        options={"SKIP_SAVE"},
    )

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if setup.refused_offline(self):
            return {"CANCELLED"}
        self.run_in_background = True
        return context.window_manager.invoke_props_dialog(self, title="Download a DUSt3R checkpoint?")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "checkpoint_name")
        layout.prop(self, "source")
        layout.label(text="About 2.2 GB; an interrupted download resumes.", icon="INFO")

    def execute(self, context: bpy.types.Context) -> set[str]:
        if setup.refused_offline(self):
            return {"CANCELLED"}
        from ..core.io.checkpoints import download_checkpoint

        folder = self.user_folder(self.directory, CHECKPOINTS_SUBDIR)
        if folder is None:
            return {"CANCELLED"}
        name, source = self.checkpoint_name, self.source

        def work(progress, cancel, on_line):
            on_line(f"Downloading {name} from {source} into {folder}")
            return download_checkpoint(name, folder, source, progress, cancel)

        def on_done(path) -> str:
            if _set_checkpoint_preference(bpy.context, str(path)):
                return f"Checkpoint ready and selected: {path}"
            return f"Checkpoint ready: {path}"

        return self.run_setup(context, f"Downloading {name}", work, on_done)
