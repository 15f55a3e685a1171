"""Footage in, one camera per frame out: ``reconstruct_footage(source, checkpoint, config, progress, cancel)``.

Stages (progress labels): ``Loading model``; ``Decoding k/N``; ``Encoding k/N`` then ``Pairs k/P`` (the
reconstructed frames: encoded once, loop-closing pairs chosen from the encoder features, pairs of the
temporal graph decoded); ``Aligning ...`` (one shared camera) and the refinement hook; ``Localising k/M``
(the frames filled in by localisation); then the poses are checked for jumps and the result is built
(:mod:`~core.footage.assemble`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from ..config import FootageConfig
from ..footage.align import align_shot, shot_align_config
from ..footage.assemble import KeyReconstruction, assemble_result
from ..footage.lens import ShotLens
from ..footage.localise import (
    Correspondences,
    Localisation,
    default_inlier_px,
    localise_frame,
    pair_correspondences,
)
from ..footage.plan import DecodedFrames, decode_frames, plan_frames
from ..footage.read.errors import FootageError
from ..footage.read.source import FootageSource, open_footage
from ..footage.result import FootageResult
from ..graphs.temporal import footage_pairs, loop_closure_pairs
from ..inference.images import normalize_rgb8
from ..progress import ProgressFn, check_cancel, no_progress, sub_progress
from ..torch_setup import require_torch
from .refine import network_correspondences, refine_shot

log = logging.getLogger(__name__)

_STAGES = {
    "model": (0.0, 0.03),
    "decode": (0.03, 0.15),
    "network": (0.15, 0.75),
    "align": (0.75, 0.88),
    "localise": (0.88, 0.98),
}
LOCALISE_REFERENCES = 2  # the nearest reconstructed frame before and after


def reconstruct_footage(
    source: str | Path | Sequence[str | Path] | FootageSource,
    checkpoint: str | Path | None,
    config: FootageConfig | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    model=None,
    make_backend_for=None,
) -> FootageResult:
    """Reconstruct a shot with one camera: a pose per frame, one lens, the point cloud of the frames.

    Args:
        source: a video file, an image-sequence folder, one frame of a sequence, a list of numbered frames,
            or a :class:`~core.footage.read.source.FootageSource` (e.g. frames the caller decoded).
        checkpoint: the model checkpoint; ignored when ``model`` is given.
        config: frame selection, fill, lens, network and alignment settings.
        progress: ``progress(stage, fraction_of_whole_job)``; cancel: checked between frames and batches.
        model: an already loaded ``Dust3rModel``.
        make_backend_for: ``make_backend_for(model, inference_config)`` -> a
            :class:`~core.inference.backend.PairBackend` (e.g. Ray workers) that decodes the reconstructed
            frames' pairs instead of this process (same predictions); the localised frames stay local.

    Raises:
        Dust3rError subclasses (FootageError, ConfigError, DependencyError, DeviceError, Cancelled, ...).
    """
    config = config or FootageConfig()
    progress = progress or no_progress
    started = time.perf_counter()
    source = open_footage(source, config.fps)
    plan = plan_frames(source, config)
    require_torch()
    from ..inference.predictor import choose_image_size

    model = _load_model(model, checkpoint, config, progress)
    check_cancel(cancel)
    size = choose_image_size(config.reconstruct.inference.image_size, model)
    frames = decode_frames(
        source, plan.decode, size, config.check_frames, sub_progress(progress, *_STAGES["decode"]), cancel
    )
    keys = [n for n in plan.keys if n not in frames.checks]
    if not keys:
        raise FootageError(
            f"{source.info.path}: none of the {len(plan.keys)} chosen frames can be reconstructed "
            "(all black, blank or duplicated): choose another range"
        )
    lens = ShotLens.from_config(config)
    from ..inference.backend import make_backend

    # the one network runner; its features stay cached by slot between the key frames and the localised ones
    network = make_backend("local", config=config.reconstruct.inference, model=model).runner
    key = _reconstruct_keys(network, keys, frames, lens, config, progress, cancel, make_backend_for)
    fills = [n for n in plan.fills if n not in frames.checks] if config.fill == "localise" else []
    min_conf = config.reconstruct.align.min_conf
    localised = _localise(
        network, key, fills, frames, min_conf, sub_progress(progress, *_STAGES["localise"]), cancel
    )
    result = assemble_result(source, plan, frames, key, localised, lens, config)
    progress("Done", 1.0)
    log.info("footage: %s in %.1f s", result.summary(), time.perf_counter() - started)
    return result


def _load_model(model, checkpoint, config: FootageConfig, progress: ProgressFn):
    if model is not None:
        return model
    from ..inference.predictor import resolve_device
    from ..model.checkpoint import load_model

    progress("Loading model", _STAGES["model"][0])
    return load_model(checkpoint, device=resolve_device(config.reconstruct.inference.device))


def _reconstruct_keys(
    network, keys: list[int], frames: DecodedFrames, lens: ShotLens, config: FootageConfig, progress, cancel,
    make_backend_for=None,
) -> KeyReconstruction:  # fmt: skip
    """Encode the reconstructed frames once, choose the pairs, decode them, align, refine, clean."""
    lo, hi = _STAGES["network"]
    n = len(keys)
    tensors = [normalize_rgb8(frames.rgb[k]) for k in keys]
    elsewhere_images = tensors if make_backend_for is not None else None
    network.encode_slots(
        range(n),
        tensors,
        after_batch=lambda d: progress(f"Encoding {d}/{n}", lo + (hi - lo) * 0.3 * d / n),
        cancel=cancel,
    )
    del tensors
    offsets = config.temporal_offsets
    loops = (
        loop_closure_pairs(network.descriptors(range(n)), max(offsets))
        if config.loop_closure and n > 2
        else []
    )
    pairs = footage_pairs(n, offsets, loops)
    if make_backend_for is None:
        preds = network.decode_slots(
            pairs,
            after_batch=lambda d: progress(
                f"Pairs {d}/{len(pairs)}", lo + (hi - lo) * (0.3 + 0.7 * d / len(pairs))
            ),
            cancel=cancel,
        )
    else:
        preds = _decode_elsewhere(make_backend_for, network, elsewhere_images, pairs,
                                  sub_progress(progress, lo + (hi - lo) * 0.3, hi), cancel)  # fmt: skip
    del elsewhere_images
    known = lens.known_focal_net(frames.crop)
    aligned = align_shot(
        preds, n, config.reconstruct.align, known, sub_progress(progress, *_STAGES["align"]), cancel
    )
    correspondences = network_correspondences(preds, config.reconstruct.refine, n)
    del preds
    check_cancel(cancel)
    # the refinement (core/refine); the localised frames are posed against its output
    refined = refine_shot(
        aligned, [_RGB(frames.rgb[k]) for k in keys], shot_align_config(config.reconstruct.align, n, known),
        config.reconstruct.refine, sub_progress(progress, _STAGES["align"][1], _STAGES["align"][1]), cancel,
        correspondences,
    )  # fmt: skip
    aligned = refined.aligned
    conf = list(aligned.conf)
    if config.reconstruct.clean_depth and n > 1:
        from ..align.cleanup import clean_pointcloud

        progress("Cleaning point cloud", _STAGES["align"][1])
        conf = clean_pointcloud(aligned, cancel=cancel, pairs=pairs)  # the views the temporal graph paired
    log.info("footage: %d reconstructed frames, %d pairs (%d loop-closing)", n, len(pairs), len(loops))
    return KeyReconstruction(keys=keys, aligned=aligned, conf=conf, refinement=refined, loop_pairs=loops)


def _decode_elsewhere(make_backend_for, network, images, pairs, progress, cancel) -> list:
    """The predictions of ``pairs`` (in that order) from another backend (the Ray workers)."""
    got = {}
    backend = make_backend_for(network.model, network.config)
    try:
        backend.run_pairs(
            images, pairs, lambda pred: got.__setitem__((pred.i, pred.j), pred), progress, cancel
        )
    finally:
        backend.close()
    check_cancel(cancel)
    return [got[(int(i), int(j))] for i, j in pairs]


class _RGB:
    """A view's network image for the refinement hook (``.rgb`` ``(H, W, 3)`` uint8)."""

    def __init__(self, rgb) -> None:
        self.rgb = rgb


def _localise(
    network,
    key: KeyReconstruction,
    fills: list[int],
    frames: DecodedFrames,
    min_conf: float,
    progress,
    cancel,
) -> dict[int, Localisation | None]:
    """Pose each frame of ``fills`` against its nearest reconstructed frames (paper section 4.1)."""
    if not fills:
        return {}
    aligned = key.aligned
    K = aligned.intrinsics()[0]
    pp = aligned.principal_points[0]
    inlier_px = default_inlier_px(frames.crop.net_size)
    first_slot = len(key.keys)
    out: dict[int, Localisation | None] = {}
    batch = network.batch_size()
    for start in range(0, len(fills), batch):
        check_cancel(cancel)
        chunk = fills[start : start + batch]
        slots = [first_slot + start + k for k in range(len(chunk))]
        network.encode_slots(slots, [normalize_rgb8(frames.rgb[q]) for q in chunk], cancel=cancel)
        refs = {slot: key.nearest(q, LOCALISE_REFERENCES) for slot, q in zip(slots, chunk, strict=True)}
        preds = network.decode_slots([(slot, r) for slot in slots for r in refs[slot]], cancel=cancel)
        for slot, q in zip(slots, chunk, strict=True):
            parts = [
                pair_correspondences(p, aligned.pts3d[p.j], key.conf[p.j], pp, min_conf)
                for p in preds
                if p.i == slot
            ]
            out[q] = localise_frame(Correspondences.concatenate(parts), K, inlier_px, seed=q)
        network.forget(slots)
        progress(
            f"Localising {min(start + batch, len(fills))}/{len(fills)}", (start + len(chunk)) / len(fills)
        )
    return out
