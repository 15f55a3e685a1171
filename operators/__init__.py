"""Blender operators of the add-on (Operator classes only, one per file), their registration and lifetime hooks.

Operators are thin: properties (:mod:`properties`) -> the core's frozen config -> a background task
(:mod:`jobs`) -> a scene builder (:mod:`scene`). The Blender side runs one way:
``panels -> operators -> jobs -> scene -> properties -> core``, with the shared leaf ``addon`` beside them.
"""

from __future__ import annotations

import bpy

from ..jobs import setup, tasks
from ..jobs.setup import DUST3R_PG_setup_state
from ..jobs.torch_status import activate_user_site_packages
from .activate_camera import DUST3R_OT_activate_camera
from .cancel import DUST3R_OT_cancel
from .cancel_setup import DUST3R_OT_cancel_setup
from .compare import DUST3R_OT_compare_photo
from .download_checkpoint import DUST3R_OT_download_checkpoint
from .export_reconstruction import DUST3R_OT_export_reconstruction
from .import_result import DUST3R_OT_import_result
from .install_torch import DUST3R_OT_install_torch
from .level import DUST3R_OT_level
from .pick_scale_point import DUST3R_OT_pick_scale_point
from .reconstruct import DUST3R_OT_reconstruct
from .reconstruct_footage import DUST3R_OT_reconstruct_footage
from .set_scale import DUST3R_OT_set_scale
from .solid_colors import DUST3R_OT_solid_point_colors

CLASSES = [
    DUST3R_OT_reconstruct,
    DUST3R_OT_cancel,
    DUST3R_OT_reconstruct_footage,
    DUST3R_OT_import_result,
    DUST3R_OT_export_reconstruction,
    DUST3R_OT_activate_camera,
    DUST3R_OT_compare_photo,
    DUST3R_OT_solid_point_colors,
    DUST3R_OT_level,
    DUST3R_OT_set_scale,
    DUST3R_OT_pick_scale_point,
    DUST3R_PG_setup_state,  # before the set-up operators: wm.dust3r_setup holds their progress and log
    DUST3R_OT_install_torch,
    DUST3R_OT_download_checkpoint,
    DUST3R_OT_cancel_setup,
]


@bpy.app.handlers.persistent
def _cancel_on_load(*_args) -> None:
    """A file is being opened: stop the running reconstruction and drop its result (it belongs to the old
    file). A set-up task (PyTorch, a checkpoint) is not about the file: it goes on."""
    tasks.cancel(tasks.RECONSTRUCT, join=True, discard=True)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.app.handlers.load_pre.append(_cancel_on_load)
    setup.register_state()
    activate_user_site_packages()  # an earlier PyTorch install of this add-on


def unregister() -> None:
    tasks.cancel(tasks.RECONSTRUCT, join=True, discard=True)
    setup.unregister_state()
    if _cancel_on_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_cancel_on_load)
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
