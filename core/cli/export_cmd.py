"""``python -m core export``: RESULT.npz -> COLMAP, nerfstudio, PLY, glTF binary or depth maps (INTERFACES.md,
the exports entries).

Thin layer over :func:`core.export.export_reconstruction`; see that package for the file layouts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..export import DEFAULT_MIN_CONF, FORMATS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a RESULT.npz as a COLMAP model, nerfstudio transforms.json, PLY, .glb or depth maps",
        description=(
            "Export the cameras of the original photos and the confident points of RESULT.npz. colmap / "
            "colmap-bin: PATH/cameras, images, points3D (.txt / .bin) and the photos in PATH/images (or "
            "--images-dir); nerfstudio: PATH/transforms.json, PATH/points3D.ply, PATH/images/; ply: PATH as a "
            ".ply file, or PATH/points3D.ply; glb: PATH as a .glb file (binary glTF 2.0, +Y up: the points, or "
            "with --mesh each view's surface, and the cameras), or PATH/scene.glb; depth: per view an OpenEXR "
            "file (float32 channels Z and confidence at the photo's resolution) and PATH/depth.json."
        ),
    )
    parser.add_argument("--input", required=True, type=Path, metavar="RESULT.npz")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument(
        "--out", required=True, type=Path, metavar="PATH", help="a new or empty folder (ply, glb: or a file)"
    )
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
    parser.add_argument(
        "--mesh",
        action="store_true",
        help="glb: each view's surface as triangles with vertex colours, instead of the points",
    )
    parser.add_argument(
        "--no-cameras", dest="cameras", action="store_false", help="glb: leave the cameras out"
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
        mesh=args.mesh,
        cameras=args.cameras,
    )
    # report.warnings were logged once, as the export found them (core.export.run)
    if report.format == "depth":
        print(f"wrote {report.out} (depth): {report.num_images} depth maps and depth.json")
    else:
        what = "view surfaces" if args.mesh else f"{report.num_points} points"
        print(
            f"wrote {report.out} ({report.format}): {report.num_images} images, {report.num_cameras} cameras, "
            f"{what}"
        )
    return 0
