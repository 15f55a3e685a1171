"""Builds tests/data/reference (and tests/data/tiny_linear_224), the vendored subset of ../shared/reference.

    python tests/data/vendor_reference.py [--reference ../shared/reference] [--check]

Every vendored file is one of (see ``ENTRIES``; tests/data/README.md lists them with their sizes):

* ``copy``: the reference file, byte-identical (its sha256 is in the reference's own ``fixtures.json`` manifest);
* ``gzip``: the reference file, byte-identical once gunzipped (``name.gz``, written with mtime 0);
* ``facts``: the entries of ``inputs_<size>.json`` for the vendored images, unchanged, plus ``sha256_img`` and
  ``sha256_uint8``: the sha256 of the official ``img<i>`` / ``uint8_<i>`` arrays of ``inputs_<size>.npz``
  (so a replay of the preprocessing can be checked without them);
* ``arrays``: an npz of some arrays of a reference npz, unchanged, or sliced as stated: ``[::5, ::5]`` of the
  maps of an output (``subsample_stride`` = 5 is stored with them) or ``[:, ::5]`` of the tokens of an
  intermediate (``token_stride`` = 5);
* ``tensors``: a safetensors file with the tensors of the reference ``model.safetensors`` under one prefix.

Run it only to change the subset; ``--check`` rebuilds everything in memory and compares it with what is in
tests/data (exit 1 on a difference).
Only numpy, safetensors and the standard library are used, so the result does not depend on our code.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE  # targets are relative to tests/data
DEFAULT_REFERENCE = HERE.parents[2] / "shared" / "reference"
STRIDE = 5
IMAGES = (0, 1)  # img0 (landscape 640x480) and img1 (portrait 480x640): pair (1, 0) is the portrait golden

LINEAR_TOKENS = (
    "patch_embed__call0_out1",
    "patch_embed__call1_out1",
    "enc_norm__call0",
    "enc_norm__call1",
    "dec_blocks_0__call0_out0",
    "dec_blocks2_0__call0_out0",
    "dec_norm__call0",
    "dec_norm__call1",
)
# DPT hooks [0, 6, 9, 12] of head 1 (view 1): the encoder output, decoder layers 6 and 9, dec_norm(layer 12)
DPT_HOOKS = ("enc_norm__call0", "dec_blocks_5__call0_out0", "dec_blocks_8__call0_out0", "dec_norm__call0")
MAPS = ("pred1_pts3d", "pred1_conf", "pred2_pts3d_in_other_view", "pred2_conf")

# (vendored path, kind, source path, options)
ENTRIES = [
    ("reference/checkpoints.json.gz", "gzip", "checkpoints.json", {}),
    ("reference/fixtures.json.gz", "gzip", "fixtures.json", {}),
    ("reference/images/img0_640x480.png", "copy", "images/img0_640x480.png", {}),
    ("reference/images/img1_480x640.png", "copy", "images/img1_480x640.png", {}),
    ("reference/inputs_512.json", "facts", "inputs_512", {}),
    ("reference/inputs_224.json", "facts", "inputs_224", {}),
    ("reference/models/tiny_linear/model.safetensors", "copy", "models/tiny_linear/model.safetensors", {}),
    ("reference/models/tiny_linear/config.json", "copy", "models/tiny_linear/config.json", {}),
    # the tiny 224 model stays where the demo and the install check find it (tests/data/tiny_linear_224)
    ("tiny_linear_224/tiny_linear_224.pth", "copy", "models/tiny_linear_224/tiny_linear_224.pth", {}),
    ("tiny_linear_224/model.safetensors", "copy", "models/tiny_linear_224/model.safetensors", {}),
    ("tiny_linear_224/config.json", "copy", "models/tiny_linear_224/config.json", {}),
    ("reference/models/tiny_dpt/config.json", "copy", "models/tiny_dpt/config.json", {}),
    (
        "reference/models/tiny_dpt/downstream_head1.safetensors",
        "tensors",
        "models/tiny_dpt/model.safetensors",
        {"prefix": "downstream_head1."},
    ),
    ("reference/outputs/tiny_linear_224_pair10.npz", "copy", "outputs/tiny_linear_224_pair10.npz", {}),
    (
        "reference/outputs/tiny_linear_pair10.npz",
        "arrays",
        "outputs/tiny_linear_pair10.npz",
        {"keep": ("pair", "true_shape1", "true_shape2"), "maps": MAPS},
    ),
    (
        "reference/outputs/tiny_dpt_pair10.npz",
        "arrays",
        "outputs/tiny_dpt_pair10.npz",
        {"keep": ("pair", "true_shape1"), "maps": ("pred1_pts3d", "pred1_conf")},
    ),
    (
        "reference/intermediates/tiny_linear_pair10.npz",
        "arrays",
        "intermediates/tiny_linear_pair10.npz",
        {"keep": ("true_shape1", "true_shape2"), "tokens": LINEAR_TOKENS},
    ),
    (
        "reference/intermediates/tiny_dpt_pair10.npz",
        "arrays",
        "intermediates/tiny_dpt_pair10.npz",
        {"keep": ("true_shape1", *DPT_HOOKS)},
    ),
    ("reference/postprocess/focal.npz", "copy", "postprocess/focal.npz", {}),
    ("reference/postprocess/pairviewer_synthetic.npz", "copy", "postprocess/pairviewer_synthetic.npz", {}),
    (
        "reference/postprocess/matches.npz",  # pts1/2, conf1/2 are the maps of outputs/tiny_linear_224_pair10.npz
        "arrays",
        "postprocess/matches.npz",
        {"drop": ("pts1", "pts2", "conf1", "conf2")},
    ),
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _arrays(source: Path, options: dict) -> dict[str, np.ndarray]:
    with np.load(source) as z:
        if "drop" in options:
            return {k: z[k] for k in z.files if k not in options["drop"]}
        out = {k: z[k] for k in options.get("keep", ())}
        if "maps" in options:
            out.update({k: z[k][::STRIDE, ::STRIDE] for k in options["maps"]})
            out["subsample_stride"] = np.int64(STRIDE)
        if "tokens" in options:
            out.update({k: z[k][:, ::STRIDE] for k in options["tokens"]})
            out["token_stride"] = np.int64(STRIDE)
        return out


def _facts(reference: Path, stem: str) -> bytes:
    facts = json.loads((reference / f"{stem}.json").read_text())
    with np.load(reference / f"{stem}.npz") as z:
        kept = []
        for i in IMAGES:
            entry = dict(facts[i])
            entry["sha256_img"] = sha256(np.ascontiguousarray(z[f"img{i}"]).tobytes())
            entry["sha256_uint8"] = sha256(np.ascontiguousarray(z[f"uint8_{i}"]).tobytes())
            kept.append(entry)
    return (json.dumps(kept, indent=1) + "\n").encode()


def build(reference: Path, kind: str, source: str, options: dict) -> bytes:
    """The bytes of one vendored file."""
    if kind == "copy":
        return (reference / source).read_bytes()
    if kind == "gzip":
        return gzip.compress((reference / source).read_bytes(), compresslevel=9, mtime=0)
    if kind == "facts":
        return _facts(reference, source)
    if kind == "arrays":
        return _npz_bytes(_arrays(reference / source, options))
    if kind == "tensors":
        from safetensors.numpy import load_file, save

        tensors = load_file(reference / source)
        return save({k: v for k, v in tensors.items() if k.startswith(options["prefix"])})
    raise ValueError(kind)


def same_content(path: Path, data: bytes, kind: str) -> bool:
    """Byte equality, except for npz files, whose arrays are compared (zip headers carry timestamps)."""
    if kind != "arrays":
        return path.read_bytes() == data
    with np.load(path) as a, np.load(io.BytesIO(data)) as b:
        return sorted(a.files) == sorted(b.files) and all(
            a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a.files
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--check", action="store_true", help="compare with tests/data, write nothing")
    args = parser.parse_args(argv)
    if not (args.reference / "fixtures.json").is_file():
        sys.stderr.write(f"error: no reference fixtures at {args.reference}\n")
        return 2
    bad = 0
    for target, kind, source, options in ENTRIES:
        data = build(args.reference, kind, source, options)
        path = OUT_DIR / target
        if args.check:
            ok = path.is_file() and same_content(path, data, kind)
            bad += not ok
            sys.stdout.write(f"{'ok' if ok else 'DIFFERENT':9} {target}\n")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            sys.stdout.write(f"{len(data):9d} {target}\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
