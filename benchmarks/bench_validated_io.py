"""What the checks of issue 20 cost on a 5 M point result: reading a RESULT.npz checked vs unchecked, and a
whole export with its photos verified vs not (target: under 5 % added).

The result is :func:`bench_export.make_result` (``--views`` photos of ``--photo-size`` as JPEG, ``--net-size``
network pixels each; 20 x 500 x 500 = 5,000,000 points), saved as RESULT.npz. Measured in one run, each
``--repeat`` times (the best is kept), alternating the two sides:

* import: ``Reconstruction.load_npz`` (no check) vs :func:`core.io.result_file.read_result` (zip members'
  declared sizes, npy headers, layout, finite cameras) -- what the CLI export and Blender's import read;
* export: read + select points + ``export_scene`` to COLMAP text (staged, photos copied), with
  ``verify_photo`` (each photo decoded at 1/8 scale, size compared) replaced by a no-op vs as shipped.

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
from core.io.result_file import read_result  # noqa: E402
from core.result import Reconstruction  # noqa: E402


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
    parser.add_argument("--repeat", type=int, default=2)
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
            photos.verify_photo = real_verify if check else (lambda path, size: None)
            try:
                loaded = read_result(result) if check else Reconstruction.load_npz(result)
                scene = scene_from_reconstruction(loaded)
                out = root / f"out_{check}_{k}"
                export_scene(scene, "colmap", out)
                shutil.rmtree(out)
            finally:
                photos.verify_photo = real_verify

        rows = {}
        for name, unchecked, checked in (
            (
                "import (read RESULT.npz)",
                lambda k: Reconstruction.load_npz(result),
                lambda k: read_result(result),
            ),
            ("export colmap (read + select + write)", lambda k: export(False, k), lambda k: export(True, k)),
        ):
            base, new = [], []
            for k in range(args.repeat):
                base.append(_timed(unchecked, k))
                new.append(_timed(checked, k))
            rows[name] = (min(base), min(new))
        print("\n| step | unchecked s | checked s | ratio | added |")
        print("|---|---|---|---|---|")
        for name, (base, new) in rows.items():
            print(f"| {name} | {base:.2f} | {new:.2f} | {new / base:.3f} | {100 * (new / base - 1):+.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
