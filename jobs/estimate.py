"""The sidebar's memory and time estimate of the next run, before the button is pressed.

It is the estimate the core's memory guard makes before any work (:mod:`core.jobs.plan`, with the
heaviest model of the image size, as the guard's first check), so what the sidebar says and what the run
refuses agree. It reads only the photos' headers and counts the graph's pairs: cheap enough for the update
callbacks of the photo folder and of the settings that change it (never computed in ``draw()``). Torch is
never imported here; the device is taken from what is already known (see :func:`estimate_device`).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

import bpy

from ..addon import preferences
from ..core.errors import Dust3rError, ResourceError
from .photos import folder_photos

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SidebarEstimate:
    """What the sidebar shows under the photo count.

    Attributes:
        text: the estimate, e.g. ``"380 pairs, about 5.9 GB, about 73 min on this CPU"``; "" when there is
            nothing to estimate (no photos, torch-free failure).
        problem: the guard's refusal when the run would not fit (the message the run itself would give),
            else "".
    """

    text: str = ""
    problem: str = ""


def estimate_device(device: str) -> str:
    """The device type a run with preference ``device`` would use, without importing torch: ``auto`` is a
    GPU only when torch is already imported in this Blender session and reports one, else the CPU."""
    if device != "auto":
        return device
    torch = sys.modules.get("torch")
    if torch is None:
        return "cpu"
    try:
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        return "mps" if mps is not None and mps.is_available() else "cpu"
    except (AttributeError, RuntimeError):
        return "cpu"


def estimate_photos(paths: list[str], config, device: str) -> SidebarEstimate:
    """The estimate of reconstructing ``paths`` with ``config`` (a ``ReconstructConfig``) on ``device``
    (``cpu``, ``cuda``, ``mps``), and the guard's verdict."""
    if not paths:
        return SidebarEstimate()
    from ..core.jobs.plan import photo_sizes, plan_run
    from ..core.resources.guard import check_fits

    estimate = plan_run(
        photo_sizes(paths), config.inference, config.align, device=device, refine=config.refine.enabled
    )
    problem = ""
    if config.inference.check_memory:
        try:
            check_fits(estimate)
        except ResourceError as exc:
            problem = str(exc)
    return SidebarEstimate(text=estimate.explanation, problem=problem)


def refresh_estimate(settings, context: bpy.types.Context) -> None:
    """Update callback (Blender passes exactly these two): recompute the estimate of ``settings``
    (``scene.dust3r``) from the photos its folder holds now (:func:`show_estimate`)."""
    folder = bpy.path.abspath(settings.photo_folder) if settings.photo_folder else ""
    show_estimate(settings, context, folder_photos(folder)[0] if folder else [])


def show_estimate(settings, context: bpy.types.Context, photos: list[str] | None) -> None:
    """Write ``settings.estimate_text`` / ``estimate_problem`` for ``photos`` (the folder's, as the caller
    has just listed them; None when Pillow is missing), the settings and the preferences' device and
    precision."""
    estimate = SidebarEstimate()
    if photos:
        try:
            estimate = _estimate(photos, settings, context)
        except ImportError as exc:  # NumPy missing: the run will explain it
            log.info("no estimate: %s", exc)
        except (Dust3rError, ValueError, OSError) as exc:  # a bad setting or photo: the run will say it
            log.info("no estimate for %d photos: %s", len(photos), exc)
    settings.estimate_text, settings.estimate_problem = estimate.text, estimate.problem


def refresh_scene_estimates(_prefs, context: bpy.types.Context) -> None:
    """Update callback of the preferences' device and precision: every scene's estimate."""
    for scene in bpy.data.scenes:
        if getattr(scene, "dust3r", None) is not None:
            refresh_estimate(scene.dust3r, context)


def _estimate(photos: list[str], settings, context: bpy.types.Context) -> SidebarEstimate:
    from ..properties.settings import make_config

    prefs = preferences(context)
    device = prefs.device if prefs is not None else "auto"
    precision = prefs.precision if prefs is not None else "auto"
    device = estimate_device(device)
    return estimate_photos(photos, make_config(settings, device, precision), device)
