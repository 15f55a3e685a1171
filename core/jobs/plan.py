"""Estimating a concrete run (photo files, a config, a model) and guarding it: the pipeline's and CLI's entry.

``plan_run`` reads only the photos' headers (Pillow opens lazily) and counts the graph's pairs, so it can
run before the model is loaded; once the pairs are chosen (retrieval graphs) it is called again with them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..config import AlignConfig, InferenceConfig
from ..model.configs import ModelConfig
from ..resources.guard import check_fits
from ..resources.memory import Machine, RunEstimate, estimate_run

logger = logging.getLogger(__name__)


def photo_sizes(paths: Sequence[str | Path]) -> list[tuple[int, int]]:
    """``(W0, H0)`` of each photo from its header; unreadable files count as 512x384 (the loader reports
    them properly later)."""
    from PIL import Image, UnidentifiedImageError

    sizes = []
    for path in paths:
        try:
            with Image.open(path) as img:
                sizes.append(tuple(int(v) for v in img.size))
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
            sizes.append((512, 384))
    return sizes


def plan_run(
    sizes: Sequence[tuple[int, int]],
    config: InferenceConfig,
    align: AlignConfig | None = None,
    model_config: ModelConfig | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
    device: str = "cpu",
    keep_model: bool = False,
    with_result: bool = True,
    sequence: bool = False,
    refine: bool = False,
) -> RunEstimate:
    """The :class:`RunEstimate` of a run over photos of ``sizes`` (``(W0, H0)``) with ``config``.

    Args:
        align: the alignment settings (defaults when None: ``infer`` aligns nothing).
        pairs: the chosen pairs when known; else the graph's count (an upper bound for retrieval).
        device: the resolved device type (``cpu``, ``cuda``, ``mps``).
        keep_model, with_result, refine: see :func:`~core.resources.memory.estimate_run`.
    """
    from ..graphs.photos import count_pairs

    num_pairs = list(pairs) if pairs is not None else count_pairs(len(sizes), config.scene_graph, sequence)
    vram = None
    if device == "cuda":
        vram = _free_vram()
    return estimate_run(
        sizes,
        num_pairs,
        model_config,
        config if model_config is None else replace(config, image_size=None),  # a model knows its size
        align,
        device,
        keep_model=keep_model,
        with_result=with_result,
        machine=Machine(available_vram_bytes=vram),
        refine=refine,
    )


def _free_vram() -> int | None:
    try:
        import torch

        return int(torch.cuda.mem_get_info()[0])
    except (ImportError, RuntimeError):
        return None


def guard_run(estimate: RunEstimate, enabled: bool = True, level: int = logging.INFO) -> RunEstimate:
    """Log ``estimate`` (at ``level``) and refuse it (:class:`~core.errors.ResourceError`) when it does not
    fit."""
    logger.log(
        level, "estimate: %s (peak in %s: %s)", estimate.explanation, estimate.phase, estimate.breakdown()
    )
    if enabled:
        check_fits(estimate)
    return estimate


class RunGuard:
    """The memory guard of one run, checked at each point where the run becomes better known.

    Args:
        sizes: ``(W0, H0)`` of the photos (:func:`photo_sizes`).
        config: the inference settings (``check_memory`` False: estimates are logged, never refused).
        device: the resolved device type. Other arguments: see :func:`plan_run`.
    """

    def __init__(
        self,
        sizes: Sequence[tuple[int, int]],
        config: InferenceConfig,
        device: str,
        align: AlignConfig | None = None,
        keep_model: bool = False,
        with_result: bool = True,
        sequence: bool = False,
    ) -> None:
        self.sizes, self.config, self.device, self.align = list(sizes), config, device, align
        self.options = dict(keep_model=keep_model, with_result=with_result, sequence=sequence)
        self._told = False  # the estimate is logged once (INFO), at the first check that knows the model

    def check(self, model_config: ModelConfig | None = None, pairs=None) -> RunEstimate:
        """Estimate (the heaviest model of the size when ``model_config`` is None; the graph's pair count
        when ``pairs`` is None) and refuse the run when it does not fit.

        The estimate is logged at INFO once, at the first check that knows the model (an estimate with the
        heaviest model of the size would mislead: "3.6 GB, 81 s" for a run of 278 MB); the others at DEBUG.
        A refusal states its own estimate, whichever check refuses."""
        estimate = plan_run(
            self.sizes, self.config, self.align, model_config, pairs, self.device, **self.options
        )
        tell = model_config is not None and not self._told
        self._told = self._told or tell
        return guard_run(estimate, self.config.check_memory, logging.INFO if tell else logging.DEBUG)
