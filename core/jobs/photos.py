"""The whole job: photos -> network pairs -> global alignment -> :class:`~core.result.Reconstruction`.

This is the one entry point the Blender operator and ``python -m core reconstruct`` call. It imports torch
lazily, so importing this module is cheap and works where torch is missing (the error comes when a job
starts, as a :class:`~core.errors.DependencyError` the UI can explain).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..config import FOCAL_MM_RANGE, AlignConfig, ReconstructConfig
from ..errors import ImageError
from ..geometry.photo import PhotoCrop, focal_net_from_35mm, focal_net_from_exif_35mm
from ..io.paths import resolve_path
from ..progress import ProgressFn, check_cancel, no_progress, sub_progress
from ..resources.guard import memory_errors
from ..result import Reconstruction, reconstruction_from_depth
from ..torch_setup import require_torch

logger = logging.getLogger(__name__)

# Share of the whole job each stage gets on the progress bar (measured proportions on CPU, rounded).
_STAGES = {"model": (0.0, 0.04), "images": (0.04, 0.06), "pairs": (0.06, 0.80), "align": (0.80, 0.98)}
_REFINE_FROM = 0.9  # with the refinement (core.jobs.refine), it takes the align stage's share from here


def focal_priors(
    crops: Sequence[PhotoCrop],
    exif_focals_35mm: Sequence[float | None],
    config: ReconstructConfig,
) -> tuple[float | None, ...] | None:
    """Per-view known focal lengths in NETWORK pixels from the photo-level prior, or None.

    ``focal_prior="mm"`` fixes every view to ``config.focal_mm``, a typed focal: mm on a 36 mm film back on
    the photo's LONG side (the Blender camera's lens). ``"exif"`` fixes the views whose photo carries
    ``FocalLengthIn35mmFilm``, the 35 mm equivalent defined on the 43.27 mm full-frame DIAGONAL, and leaves
    the others free (see :mod:`core.geometry.photo` for both conversions).

    EXIF focals are held FIXED although EXIF rounds them to whole millimetres (up to 1.9 % at 26 mm, 3.8 %
    at 13 mm): measured on synthetic scenes (``benchmarks/bench_exif_focal.py``), a free focal STARTED at the
    EXIF value converges to the same optimum as no prior at all, so "EXIF as an initial value" would change
    nothing; asking for ``exif`` means "trust the camera's focal" (exact camera intrinsics for the Blender
    camera), at a small cost in pose accuracy where the network's own focal is better than the rounding.
    """
    if config.focal_prior == "none":
        return None
    if config.focal_prior == "mm":
        return tuple(focal_net_from_35mm(config.focal_mm, crop) for crop in crops)
    low, high = FOCAL_MM_RANGE  # the range a typed --focal-mm must lie in: an EXIF value outside it is noise
    odd = [k for k, f in enumerate(exif_focals_35mm) if f and not low <= f <= high]
    if odd:
        logger.warning(
            "ignoring the EXIF focal length of %d photo(s) (%s mm): outside %g-%g mm; estimating it instead",
            len(odd), ", ".join(f"{exif_focals_35mm[k]:g}" for k in odd[:3]), low, high,
        )  # fmt: skip
    known = tuple(
        focal_net_from_exif_35mm(f, crop) if f and low <= f <= high else None
        for crop, f in zip(crops, exif_focals_35mm, strict=True)
    )
    missing = sum(f is None for f in known)
    if missing:
        logger.info("%d of %d photos have no EXIF 35 mm focal length; estimating those", missing, len(known))
    return known if missing < len(known) else None


def photo_names(paths: Sequence[str | Path]) -> list[str]:
    """How messages name each photo: its file name, or its whole path when two photos share a file name."""
    names = [Path(p).name for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


def _align(preds, align_config: AlignConfig, names: list[str], progress: ProgressFn, cancel):
    from ..align import align_single_view, global_align

    if len(names) == 1:
        progress("Aligning 1/1", 0.0)
        result = align_single_view(preds[0], align_config)
        progress("Aligning 1/1", 1.0)
        return result
    return global_align(preds, align_config, progress=progress, cancel=cancel, view_names=names)


def reconstruct(
    image_paths: Sequence[str | Path],
    checkpoint: str | Path | None,
    config: ReconstructConfig | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    model=None,
    pair_files=None,
) -> Reconstruction:
    """Reconstruct a scene from photos.

    Args:
        image_paths: the photos, in view order (at least one).
        checkpoint: an official ``.pth``, a Hugging Face folder or its ``model.safetensors``; ignored when
            ``model`` is given.
        config: all options; ``ReconstructConfig()`` gives the Blender operator's defaults.
        progress: ``progress(stage, fraction_of_whole_job)``, called from this thread.
        cancel: set it to stop at the next batch or iteration (raises :class:`~core.errors.Cancelled`).
        model: an already loaded ``Dust3rModel`` (to reuse it across calls).
        pair_files: a :class:`core.inference.pair_reuse.PairFiles`: pairs with a valid file there are read,
            the others computed (by its backend) and written to its scratch folder; the result is the same.

    Returns:
        the :class:`Reconstruction`; its ``warnings`` say what was left out (pairs without confident pixels).

    Raises:
        Dust3rError subclasses for every user or environment problem; every photo is checked (exists, still
        photo, usable size) before the model loads.
    """
    config = config or ReconstructConfig()
    progress = progress or no_progress
    paths = [str(resolve_path(p)) for p in image_paths]
    if not paths:
        raise ImageError("No photos were given: choose a folder with photos (JPEG, PNG, WebP, TIFF, BMP).")
    started = time.perf_counter()
    from ..inference.images import check_photo

    for path in paths:  # header only: a bad photo fails in milliseconds, not after the model load
        check_photo(path)
    require_torch()
    from ..inference.images import load_images
    from ..inference.predictor import choose_image_size, resolve_device
    from .plan import RunGuard, photo_sizes

    device = resolve_device(config.inference.device)
    guard = RunGuard(
        photo_sizes(paths), config.inference, device.type, config.align, keep_model=model is not None
    )
    loaded_here = model is None
    if loaded_here:
        guard.check()  # with the heaviest model of the size: before any work
        model = _load_model(checkpoint, device, progress)
    check_cancel(cancel)
    size = choose_image_size(config.inference.image_size, model)  # a 224 model at 512 is a ConfigError
    guard.check(getattr(model, "config", None))
    progress("Loading photos", _STAGES["images"][0])
    images = load_images(paths, size=size)
    check_cancel(cancel)

    inference = replace(config.inference, image_size=size)
    with _StoreSink(guard, getattr(model, "config", None)) as store:
        network_progress = sub_progress(progress, *_STAGES["pairs"])
        if pair_files is None:
            _run_network(model, images, inference, store, network_progress, cancel)
        else:
            pair_files.run(model, paths, images, inference, store, before_compute=store.prepare,
                           progress=network_progress, cancel=cancel)  # fmt: skip
        if loaded_here:
            del model  # the weights are not needed for the alignment
        crops = [img.crop for img in images]
        known = focal_priors(crops, [img.exif_focal_35mm for img in images], config)
        align_config = replace(config.align, known_focals=known) if known is not None else config.align
        align_config = replace(align_config, memory=store.align_memory)  # the guard's choice (auto resolved)
        refine = config.refine.enabled and len(images) > 1
        align_end = _REFINE_FROM if refine else _STAGES["align"][1]
        with memory_errors("aligning the views"):
            aligned = _align(
                store, align_config, photo_names(paths), sub_progress(progress, _STAGES["align"][0], align_end),
                cancel,
            )  # fmt: skip
        # the clean-up compares the views the graph paired
        graph_pairs = [(store[k].i, store[k].j) for k in range(len(store))]
        # the refinement's first guesses from the network's own cross-view geometry, while the store is open
        correspondences = None
        if refine:
            from .refine import network_correspondences

            correspondences = network_correspondences(store, config.refine, len(images))
    check_cancel(cancel)
    refinement = None
    if refine:
        from .refine import refine_on_photos

        refinement = refine_on_photos(images, aligned, align_config, config.refine, photo_names(paths),
                                      sub_progress(progress, align_end, _STAGES["align"][1]), cancel,
                                      correspondences)  # fmt: skip
        aligned = refinement.alignment

    conf = list(aligned.conf)
    with memory_errors("building the point cloud"):
        if config.clean_depth and len(images) > 1:
            from ..align.cleanup import clean_pointcloud

            progress("Cleaning point cloud", _STAGES["align"][1])
            conf = clean_pointcloud(aligned, cancel=cancel, pairs=graph_pairs)
            check_cancel(cancel)
        result = _to_reconstruction(paths, images, aligned, conf)
    if refinement is not None:
        from .refine import with_refinement

        result = with_refinement(result, refinement)
    progress("Done", 1.0)
    logger.info("reconstructed %d views in %.1f s", len(paths), time.perf_counter() - started)
    return result


def _load_model(checkpoint, device, progress: ProgressFn):
    from ..model.checkpoint import load_model

    progress("Loading model", _STAGES["model"][0])
    with memory_errors("loading the model"):
        return load_model(checkpoint, device=device)


class _StoreSink:
    """The run's compact pair store, opened once the pairs are chosen (in RAM or on disk, as the guard's
    estimate with the exact pairs says); closed (scratch file deleted) on exit, also on failure or cancel."""

    def __init__(self, guard, model_config) -> None:
        self.guard, self.model_config = guard, model_config
        self.store = None
        self.align_memory = "auto"

    def prepare(self, pairs) -> None:
        from ..align.store import PairStore

        estimate = self.guard.check(self.model_config, pairs)
        self.align_memory = estimate.align_memory
        self.store = PairStore(on_disk=estimate.storage == "disk", expected_bytes=estimate.disk_bytes)

    def __call__(self, pred) -> None:
        self.store.add(pred)

    def __len__(self) -> int:
        return 0 if self.store is None else len(self.store)

    def __getitem__(self, index):
        return self.store[index]

    def __enter__(self) -> _StoreSink:
        return self

    def __exit__(self, *exc) -> None:
        if self.store is not None:
            self.store.close()


def _run_network(model, images, inference, store: _StoreSink, progress: ProgressFn, cancel) -> None:
    from ..inference.backend import make_backend
    from ..inference.scene import infer_scene

    infer_scene(
        make_backend("local", config=inference, model=model),
        images,
        inference.scene_graph,
        inference,
        store,
        progress=progress,
        cancel=cancel,
        before_decode=store.prepare,
    )


def _to_reconstruction(paths, images, aligned, conf) -> Reconstruction:
    return reconstruction_from_depth(
        paths,
        aligned.world_from_cam,
        aligned.intrinsics(),
        [img.crop for img in images],
        aligned.depth,
        conf,
        [img.rgb.astype(np.float32) / 255.0 for img in images],
        pts3d=aligned.pts3d,
        warnings=aligned.warnings,
    )
