"""``python -m core export``: RESULT.npz -> COLMAP, nerfstudio or PLY (INTERFACES.md, the exports entry).

Thin layer over :func:`core.export.export_reconstruction`; see that package for the file layouts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..export import DEFAULT_MIN_CONF, FORMATS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a RESULT.npz as a COLMAP model, nerfstudio transforms.json or PLY point cloud",
        description=(
            "Export the cameras of the original photos and the confident points of RESULT.npz. colmap / "
            "colmap-bin: PATH/cameras, images, points3D (.txt / .bin) and the photos in PATH/images (or "
            "--images-dir); nerfstudio: PATH/transforms.json, PATH/points3D.ply, PATH/images/; ply: PATH as a "
            ".ply file, or PATH/points3D.ply."
        ),
    )
    parser.add_argument("--input", required=True, type=Path, metavar="RESULT.npz")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--out", required=True, type=Path, metavar="PATH", help="a new or empty folder")
    parser.add_argument(
        "--min-conf",
        type=float,
        default=DEFAULT_MIN_CONF,
        metavar="C",
        help=f"export points with a confidence above this (default {DEFAULT_MIN_CONF:g})",
    )
    parser.add_argument(
        "--max-points", type=int, default=None, metavar="N", help="at most N points (fixed-seed subset)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="write into a non-empty folder, replacing the export's files"
    )
    parser.add_argument(
        "--images-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="colmap formats: put the images here instead of PATH/images (e.g. scene/images with "
        "--out scene/sparse/0)",
    )
    parser.add_argument(
        "--link-photos",
        action="store_true",
        help="hard-link the photos instead of copying them, where possible",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..export import export_reconstruction, load_result

    rec = load_result(args.input)
    report = export_reconstruction(
        rec,
        args.format,
        args.out,
        min_conf=args.min_conf,
        max_points=args.max_points,
        overwrite=args.overwrite,
        images_dir=args.images_dir,
        link_photos=args.link_photos,
    )
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"wrote {report.out} ({report.format}): {report.num_images} images, {report.num_cameras} cameras, "
        f"{report.num_points} points"
    )
    return 0
