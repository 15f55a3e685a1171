"""Operator properties -> the core's frozen ``ReconstructConfig`` (the only place that maps them)."""

from __future__ import annotations


def graph_name(scene_graph: str, window: int) -> str:
    """``complete`` or ``swin-K`` / ``logwin-K`` / ``oneref-R`` as the core names scene graphs."""
    return scene_graph if scene_graph == "complete" else f"{scene_graph}-{int(window)}"


def make_config(props, device: str):
    """Build the ``ReconstructConfig`` for ``props`` (anything with the ReconstructSettings attributes).

    Raises:
        ConfigError: an impossible combination (the message says which).
    """
    from ..core.config import AlignConfig, InferenceConfig, ReconstructConfig

    inference = InferenceConfig(
        image_size=int(props.image_size),
        scene_graph=graph_name(props.scene_graph, props.graph_window),
        device=device,
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
    )
