"""Blender operators of the add-on, the running job's lifetime hooks, and their registration."""

from __future__ import annotations

import bpy

from . import job, setup_task
from .activate_camera import DUST3R_OT_activate_camera
from .download_checkpoint import DUST3R_OT_download_checkpoint
from .install_torch import DUST3R_OT_install_torch
from .reconstruct import DUST3R_OT_cancel, DUST3R_OT_reconstruct
from .setup_task import DUST3R_OT_cancel_setup, DUST3R_PG_setup_state

CLASSES = [
    DUST3R_OT_reconstruct,
    DUST3R_OT_cancel,
    DUST3R_OT_activate_camera,
    DUST3R_PG_setup_state,  # before the set-up operators: wm.dust3r_setup holds their progress and log
    DUST3R_OT_install_torch,
    DUST3R_OT_download_checkpoint,
    DUST3R_OT_cancel_setup,
]


@bpy.app.handlers.persistent
def _cancel_on_load(*_args) -> None:
    """A file is being opened: stop the running job and drop its result (it belongs to the old file)."""
    job.cancel_current(join=True, discard=True)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.app.handlers.load_pre.append(_cancel_on_load)
    setup_task.register_state()


def unregister() -> None:
    job.cancel_current(join=True, discard=True)
    setup_task.unregister_state()
    if _cancel_on_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_cancel_on_load)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
