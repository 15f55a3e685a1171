"""The reconstruction settings: defined once, mapped once to the core's frozen ``ReconstructConfig``.

:func:`settings_properties` defines every setting as a Blender property. The scene's PropertyGroup
(``scene.dust3r``, ``panels.properties``, whose settings re-estimate the run when they change) and the
``dust3r.reconstruct`` operator (:class:`ReconstructOperatorSettings` below) both get them from it, so the
sidebar and scripts share one definition, and the operator takes the values a caller did not pass from the
scene.

Defaults come from where they are decided, never written twice: the core's config dataclasses for
everything the core does (``core.config``), :class:`~.build_options.BuildOptions` for the scene builder's
display settings. Enum identifiers are the core's names (checked by tests).
"""

from __future__ import annotations

from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty

from ..core.config import (
    DEVICES,
    FOCAL_MM_RANGE,
    PRECISIONS,
    AlignConfig,
    InferenceConfig,
    ReconstructConfig,
    RefineConfig,
)
from .build_options import BuildOptions

_INFERENCE = InferenceConfig()
_ALIGN = AlignConfig()
_RECONSTRUCT = ReconstructConfig()
_BUILD = BuildOptions()

MODEL_IMAGE_SIZE = "model"  # the image size the checkpoint was trained at (the core's None)
IMAGE_SIZE_ITEMS = (
    (MODEL_IMAGE_SIZE, "From Model", "The size the checkpoint was trained at (512 or 224)"),
    ("512", "512", "Long side to 512 pixels (the official 512 checkpoints)"),
    ("224", "224", "Short side to 224 pixels, square crop (the 224 checkpoint)"),
)
SCENE_GRAPH_ITEMS = (
    ("auto", "Automatic", "Every pair up to 20 photos; above, each photo with its most similar photos"),
    ("complete", "Complete", "Every pair of photos: best quality, N*(N-1) pairs"),
    ("swin", "Sliding Window", "Each photo with its K neighbours in file order (videos, turntables)"),
    ("logwin", "Log Window", "Neighbours at distances 1, 2, 4, ... up to 2^(K-1) in file order"),
    ("oneref", "One Reference", "Every photo paired with one reference photo"),
    (
        "retrieval",
        "Similar Photos",
        "Each photo with its K most similar photos and K more at wider baselines, by the network's own "
        "image features (large unordered sets: the pair count grows linearly)",
    ),
)
# Scene graphs whose name carries a number (the core's "swin-3", "logwin-3", "oneref-0", "retrieval-3-3").
WINDOWED_GRAPHS = ("swin", "logwin", "oneref", "retrieval")
GRAPHS_WITHOUT_WINDOW = ("auto", "complete")
FOCAL_PRIOR_ITEMS = (
    ("none", "Estimate", "Estimate each photo's focal length"),
    ("exif", "From EXIF", "Use the 35 mm-equivalent focal length stored in the photos where present"),
    ("mm", "Fixed", "One known focal length for all photos: the lens of a 36 mm film back on the long side"),
)
DISTORTION_ITEMS = (
    ("none", "None", "A pinhole lens: no distortion estimated"),
    ("k1", "k1", "Estimate radial distortion k1 (one for all photos with Same Camera, else per photo)"),
    ("k1k2", "k1, k2", "Estimate radial distortion k1 and k2 (wide or strongly distorting lenses)"),
)
ALIGN_METHOD_ITEMS = (
    ("fast", "Fast", "Our fast global alignment"),
    ("paper", "Paper", "The paper's Adam optimisation (slower; the reference)"),
)
_DEVICE_LABELS = {
    "auto": ("Automatic", "CUDA, then Apple Metal, then CPU"),
    "cpu": ("CPU", "Run on the CPU"),
    "cuda": ("CUDA", "Run on an NVIDIA GPU"),
    "mps": ("Apple Metal", "Run on an Apple GPU"),
}
DEVICE_ITEMS = tuple((name, *_DEVICE_LABELS[name]) for name in DEVICES)
_PRECISION_LABELS = {
    "auto": (
        "Automatic",
        "The fastest precision this device computes well: bfloat16 on CPUs with AMX or AVX-512 BF16 and on "
        "recent NVIDIA GPUs, float16 on other GPUs, float32 otherwise",
    ),
    "fp32": ("Full (float32)", "Float32 everywhere: the reference numbers, the slowest on GPUs"),
    "bf16": ("bfloat16", "Fast on recent CPUs and NVIDIA GPUs; emulated (much slower) on older CPUs"),
    "fp16": ("float16", "Fast on GPUs; emulated (much slower) on CPUs"),
}
PRECISION_ITEMS = tuple((name, *_PRECISION_LABELS[name]) for name in PRECISIONS)
# The settings whose change changes the sidebar's memory and time estimate.
ESTIMATE_SETTINGS = ("image_size", "scene_graph", "graph_window")

# Slider ranges of the UI. They are SOFT bounds: a value passed from a script outside them is not clamped
# silently but reaches the core's validation, which refuses it with a message (a window wider than the
# photo count is just "complete"; a focal outside the range is a typo).
MAX_GRAPH_WINDOW = 64


def _default_graph() -> tuple[str, int]:
    """The core's default scene graph as (enum item, window)."""
    name, _, number = _INFERENCE.scene_graph.partition("-")
    return name, int(number.split("-")[0]) if number else 3


def settings_properties(options: set[str], estimate_changed=None) -> dict[str, object]:
    """The reconstruction settings as Blender property definitions, each with ``options``;
    ``estimate_changed(self, context)`` becomes the update callback of :data:`ESTIMATE_SETTINGS`."""
    graph, window = _default_graph()
    update = {} if estimate_changed is None else {"update": estimate_changed}  # for ESTIMATE_SETTINGS
    properties = {
        "image_size": EnumProperty(
            name="Image Size",
            items=IMAGE_SIZE_ITEMS,
            default=MODEL_IMAGE_SIZE if _INFERENCE.image_size is None else str(_INFERENCE.image_size),
            options=options,
            **update,
        ),
        "scene_graph": EnumProperty(
            name="Pairs", items=SCENE_GRAPH_ITEMS, default=graph, options=options, **update
        ),
        "graph_window": IntProperty(
            name="Window",
            description="K of the sliding/log window, R of one-reference",
            default=window,
            soft_min=1,
            soft_max=MAX_GRAPH_WINDOW,
            options=options,
            **update,
        ),
        "focal_prior": EnumProperty(
            name="Focal Length", items=FOCAL_PRIOR_ITEMS, default=_RECONSTRUCT.focal_prior, options=options
        ),
        "focal_mm": FloatProperty(
            name="Focal (mm)",
            description="Focal length in mm on a 36 mm film back spanning the photo's long side "
            "(what the Blender camera's lens will show)",
            default=35.0,
            soft_min=FOCAL_MM_RANGE[0],
            soft_max=FOCAL_MM_RANGE[1],
            options=options,
        ),
        "shared_focal": BoolProperty(
            name="Same Camera",
            description="All photos were taken with one camera and zoom",
            default=_ALIGN.shared_focal,
            options=options,
        ),
        "align_method": EnumProperty(
            name="Alignment", items=ALIGN_METHOD_ITEMS, default=_ALIGN.method, options=options
        ),
        "niter": IntProperty(
            name="Iterations",
            description="Iterations of the paper's alignment",
            default=_ALIGN.niter,
            min=0,
            max=10000,
            options=options,
        ),
        "min_conf": FloatProperty(
            name="Min Confidence",
            description="Pixels at or below this confidence are ignored by the alignment",
            default=_ALIGN.min_conf,
            min=0.0,
            options=options,
        ),
        "refine": BoolProperty(
            name="Refine Cameras",
            description="After the alignment, refine the cameras to sub-pixel accuracy on the photos "
            "(correspondences and a bundle adjustment) and report each camera's solve error and uncertainty "
            "in pixels; a camera the images cannot pin down keeps its aligned pose",
            default=_RECONSTRUCT.refine.enabled,
            options=options,
        ),
        "distortion": EnumProperty(
            name="Lens Distortion",
            items=DISTORTION_ITEMS,
            default=_RECONSTRUCT.refine.distortion,
            options=options,
        ),
        "clean_depth": BoolProperty(
            name="Clean Up",
            description="Drop points that other views see as occluded",
            default=_RECONSTRUCT.clean_depth,
            options=options,
        ),
        "surfaces": BoolProperty(
            name="Per-View Surfaces",
            description="Also build one mesh per photo, textured with the photo (confident pixels only)",
            default=_BUILD.surfaces,
            options=options,
        ),
        "conf_threshold": FloatProperty(
            name="Confidence Threshold",
            description="Initial threshold of the point cloud (editable later on its modifier)",
            default=_BUILD.conf_threshold,
            min=0.0,
            options=options,
        ),
        "point_radius": FloatProperty(
            name="Point Radius",
            description="Initial radius of the displayed points (editable later on their modifier); "
            "0: from the reconstruction, a little more than one pixel's footprint at the median depth",
            default=_BUILD.point_radius,
            min=0.0,
            subtype="DISTANCE",
            options=options,
        ),
    }
    return properties


# The settings that the operator copies from scene.dust3r when a caller does not pass them.
SETTING_NAMES = tuple(settings_properties(set()))


class ReconstructOperatorSettings:
    """Mixin: the same settings on the operator, never remembered between calls (``SKIP_SAVE``), so that
    a value the caller did not pass is taken from ``scene.dust3r`` rather than from the previous call."""

    __annotations__ = settings_properties({"SKIP_SAVE"})


def graph_name(scene_graph: str, window: int) -> str:
    """The core's scene-graph name: ``auto``, ``complete``, ``swin-K`` / ``logwin-K`` / ``oneref-R``, or
    ``retrieval-K-K`` (K nearest and K wider partners: at the same pair count more accurate than K nearest
    alone, ``benchmarks/bench_retrieval.py``)."""
    if scene_graph == "retrieval":
        return f"retrieval-{int(window)}-{int(window)}"
    return f"{scene_graph}-{int(window)}" if scene_graph in WINDOWED_GRAPHS else scene_graph


def make_config(props, device: str, precision: str = "auto") -> ReconstructConfig:
    """The ``ReconstructConfig`` for ``props`` (anything with the settings' attributes), on ``device`` in
    ``precision`` (both from the preferences or the operator).

    Raises:
        ConfigError: an impossible combination (the message says which).
    """
    inference = InferenceConfig(
        image_size=None if props.image_size == MODEL_IMAGE_SIZE else int(props.image_size),
        scene_graph=graph_name(props.scene_graph, props.graph_window),
        device=device,
        precision=precision,
    )
    align = AlignConfig(
        method=props.align_method,
        niter=int(props.niter),
        min_conf=float(props.min_conf),
        shared_focal=bool(props.shared_focal),
    )
    return ReconstructConfig(
        inference=inference,
        align=align,
        focal_prior=props.focal_prior,
        focal_mm=float(props.focal_mm) if props.focal_prior == "mm" else None,
        clean_depth=bool(props.clean_depth),
        # the distortion is estimated by the refinement: without it there is none to estimate
        refine=RefineConfig(
            enabled=bool(props.refine), distortion=props.distortion if props.refine else "none"
        ),
    )


def build_options(props, name: str | None = None) -> BuildOptions:
    """The scene builder's options for ``props``."""
    return BuildOptions(
        conf_threshold=float(props.conf_threshold),
        point_radius=float(props.point_radius),
        surfaces=bool(props.surfaces),
        name=name,
    )
