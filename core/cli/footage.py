"""The footage options of ``python -m core reconstruct`` (``--video FILE`` or ``--images ... --sequence``).

Kept here so that :mod:`core.cli.reconstruct_cmd` only registers them and hands footage runs over.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from ..config import FILL_MODES, FootageConfig, ReconstructConfig
from ..errors import ConfigError
from ..footage.result import FootageResult

logger = logging.getLogger(__name__)
_FOOTAGE_ONLY = ("every", "max_frames", "start", "end", "sensor_width", "fps", "allow_gaps")


def add_footage_arguments(parser: argparse.ArgumentParser, sources) -> None:
    """Register ``--video`` in the ``sources`` group (beside ``--images``) and the footage options."""
    sources.add_argument(
        "--video",
        metavar="FILE",
        help="footage: a video file (H.264/H.265/ProRes, .mp4/.mov/.mkv), or an image-sequence folder",
    )
    group = parser.add_argument_group("footage (--video, or --images of numbered frames with --sequence)")
    group.add_argument(
        "--sequence",
        action="store_true",
        help="--images are the numbered frames of one shot (plate.1001.exr ...)",
    )
    group.add_argument("--every", type=int, default=None, metavar="K", help="reconstruct every K-th frame")
    group.add_argument("--max-frames", type=int, default=None, metavar="N", help="at most N frames, spread")
    group.add_argument(
        "--start", type=int, default=None, metavar="F", help="first frame (videos count from 1)"
    )
    group.add_argument("--end", type=int, default=None, metavar="F", help="last frame (inclusive)")
    group.add_argument(
        "--sensor-width",
        type=float,
        default=None,
        metavar="MM",
        help="film back in mm (default: 36, said so)",
    )
    group.add_argument("--fps", type=float, default=None, help="frame rate of an image sequence (default 24)")
    group.add_argument(
        "--fill",
        choices=FILL_MODES,
        default=FootageConfig.fill,
        help="frames between the reconstructed ones: localise (default), interpolate, or none (left out)",
    )
    group.add_argument("--allow-gaps", action="store_true", help="reconstruct a sequence with missing frames")


def is_footage(args: argparse.Namespace) -> bool:
    """True for a footage run; footage-only options without footage are a :class:`ConfigError`."""
    footage = bool(args.video) or args.sequence
    if not footage:
        given = [name for name in _FOOTAGE_ONLY if getattr(args, name) not in (None, False)]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise ConfigError(
                f"{flags}: footage options need --video FILE, or --images of numbered frames with --sequence"
            )
    return footage


def footage_config(args: argparse.Namespace, base: ReconstructConfig) -> FootageConfig:
    """The :class:`FootageConfig` of the command line; ``base`` holds the network/alignment options."""
    return FootageConfig(
        reconstruct=replace(base, focal_prior="none", focal_mm=None),
        start=args.start,
        end=args.end,
        every=1 if args.every is None else args.every,
        max_frames=args.max_frames,
        fill=args.fill,
        focal_mm=args.focal_mm,
        sensor_width_mm=args.sensor_width,
        fps=args.fps,
        allow_gaps=args.allow_gaps,
    )


def run_footage(args: argparse.Namespace, base: ReconstructConfig, out: Path) -> FootageResult:
    """Reconstruct the footage and write RESULT.npz at ``out`` (checked by the caller before any work), with
    ``frame_numbers``, ``fps`` and the frame status."""
    from ..jobs.footage import reconstruct_footage

    if args.focal_exif:
        raise ConfigError("--focal-exif is for photos; for footage give --focal-mm and --sensor-width")
    config = footage_config(args, base)
    source = args.video if args.video else args.images

    def report(stage: str, fraction: float) -> None:
        logger.info("%5.1f%% %s", 100.0 * fraction, stage)

    result = reconstruct_footage(source, args.checkpoint, config, progress=report)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.save_npz(out)
    return result


def report_lines(result: FootageResult, out) -> list[str]:
    """What the command prints after a footage run."""
    lines = [f"note: {message}" for message in result.messages]
    lines.append(f"wrote {out}: {result.summary()}, {result.info.fps:g} fps, lens {result.focal_mm:.1f} mm")
    return lines
