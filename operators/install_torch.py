"""``dust3r.install_torch``: install PyTorch into the extension's user folder, with Blender's own pip.

The choice of build (CUDA / Metal / CPU) and the pip run live in ``core.torch_setup`` (no bpy); this
operator asks for confirmation, honours Blender's "Allow Online Access" setting, runs the installer on a
worker thread and shows pip's last lines in the preferences. No restart is needed: the folder is put on
``sys.path`` as soon as pip has finished.
"""

from __future__ import annotations

import logging

import bpy
from bpy.props import StringProperty

from ..jobs import setup

log = logging.getLogger(__name__)


class DUST3R_OT_install_torch(setup.SetupOperator, bpy.types.Operator):
    """Download and install PyTorch for Blender's Python (about 0.3 to 3 GB, depending on the GPU)"""

    bl_idname = "dust3r.install_torch"
    bl_label = "Install PyTorch"
    bl_options = {"REGISTER", "INTERNAL"}

    target: StringProperty(
        name="Target Folder",
        description="Where to install (default: the extension's user folder)",
        subtype="DIR_PATH",
        options={"SKIP_SAVE"},
    )

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if setup.refused_offline(self):
            return {"CANCELLED"}
        from ..core.torch_setup import choose_torch_build

        build = choose_torch_build()
        self.run_in_background = True
        return context.window_manager.invoke_confirm(
            self,
            event,
            title="Install PyTorch?",
            message=f"Download PyTorch ({build.label} build) with pip and install it for this add-on.",
            confirm_text="Install",
        )

    def execute(self, context: bpy.types.Context) -> set[str]:
        if setup.refused_offline(self):
            return {"CANCELLED"}
        from ..core.torch_setup import install_torch, site_packages_subdir

        target = self.user_folder(self.target, site_packages_subdir)
        if target is None:
            return {"CANCELLED"}

        def work(progress, cancel, on_line):
            return install_torch(target, progress, cancel, on_line)

        def on_done(status) -> str:
            version = f" {status.version}" if status.version else ""
            return f"PyTorch{version} is ready ({status.location})."

        return self.run_setup(context, "Installing PyTorch", work, on_done)
