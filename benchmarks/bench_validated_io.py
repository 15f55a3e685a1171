"""What the checks of issue 20 cost on a 5 M point result: reading a RESULT.npz checked vs unchecked, and a
whole export with its photos verified vs not (target: under 5 % added).

The result is :func:`bench_export.make_result` (``--views`` photos of ``--photo-size`` as JPEG, ``--net-size``
network pixels each; 20 x 500 x 500 = 5,000,000 points), saved as RESULT.npz. Measured in one run, each
``--repeat`` times (the best is kept), alternating the two sides:

* import: ``Reconstruction.load_npz`` (no check) vs :func:`core.result.read_result` (zip members'
  declared sizes, npy headers, layout, finite cameras) -- what the CLI export and Blender's import read;
* export: read + select points + ``export_scene`` (``--format``, default nerfstudio; staged, photos
  copied), with ``verify_photo`` (each photo's header, size and completeness: ``decode=False``, as the
  export calls it) replaced by a no-op vs as shipped. ``--decode`` times the photo checks with a decode
  (JPEG at 1/8 scale, what Blender's import does per background photo) instead.

The machine may be shared: the two sides' totals differ by noise of several per cent, so the last columns
also time the checks ALONE (headers + layout + values; plus every photo's check for the export) and divide
them by the unchecked total: that is the cost the checks add.

Example::

    OMP_NUM_THREADS=1 python benchmarks/bench_validated_io.py
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from core.export import export_scene, photos, scene_from_reconstruction  # noqa: E402
from core.result import Reconstruction, read_result  # noqa: E402
from core.result_file import check_layout, check_values, inspect_npz  # noqa: E402


def _bench_export_module():
    spec = importlib.util.spec_from_file_location("bench_export", Path(__file__).with_name("bench_export.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> int:
    bench_export = _bench_export_module()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--views", type=int, default=20)
    parser.add_argument("--net-size", type=bench_export.parse_size, default=(500, 500), metavar="WxH")
    parser.add_argument("--photo-size", type=bench_export.parse_size, default=(2000, 2000), metavar="WxH")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--format", default="nerfstudio", choices=("colmap", "colmap-bin", "nerfstudio"))
    parser.add_argument("--decode", action="store_true", help="time the photo checks with a decode")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-validated-") as tmp:
        root = Path(tmp)
        (root / "photos").mkdir()
        rec = bench_export.make_result(root / "photos", args.views, args.net_size, args.photo_size)
        result = root / "RESULT.npz"
        rec.save_npz(result)
        points = sum(int(p.shape[0] * p.shape[1]) for p in rec.pts3d)
        print(f"{args.views} views, {points:,} points, RESULT.npz {result.stat().st_size / 1e6:.0f} MB")

        real_verify = photos.verify_photo

        def export(check: bool, k: int) -> None:
            photos.verify_photo = real_verify if check else (lambda path, size, decode=True: None)
            try:
                loaded = read_result(result) if check else Reconstruction.load_npz(result)
                out = root / f"out_{check}_{k}"
                export_scene(scene_from_reconstruction(loaded), args.format, out)
                shutil.rmtree(out)
            finally:
                photos.verify_photo = real_verify

        def checks_alone(k: int) -> None:  # what read_result adds to load_npz: headers, layout, values
            members = inspect_npz(result)
            check_layout(members, result)
            check_values(rec, result)

        def photo_checks(k: int) -> None:  # what the export adds: every photo decoded and measured
            for path, size in zip(rec.image_paths, rec.photo_size, strict=True):
                real_verify(path, size, decode=args.decode)

        def best(fn) -> float:
            return min(_timed(fn, k) for k in range(args.repeat))

        print(f"\nbest of {args.repeat}, format {args.format}")
        print("| step | unchecked s | checked s | ratio | the checks alone s | checks / unchecked |")
        print("|---|---|---|---|---|---|")
        pairs = (
            ("import (read RESULT.npz)", lambda k: Reconstruction.load_npz(result), lambda k: read_result(result),
             checks_alone),
            (f"export {args.format} (read + select + write)", lambda k: export(False, k), lambda k: export(True, k),
             lambda k: (checks_alone(k), photo_checks(k))),
        )  # fmt: skip
        for name, unchecked, checked, alone in pairs:
            base, new = [], []
            for k in range(args.repeat):  # alternating, so that a busy moment hits both sides
                base.append(_timed(unchecked, k))
                new.append(_timed(checked, k))
            extra = best(alone)
            print(f"| {name} | {min(base):.2f} | {min(new):.2f} | {min(new) / min(base):.3f} | {extra:.3f} | "
                  f"{100 * extra / min(base):.1f} % |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
