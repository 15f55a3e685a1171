"""The reference fixtures ("goldens" of the official code): the full set in ``../shared/reference`` when it is
beside the clone, else the vendored subset in ``tests/data`` (``tests/data/README.md``, built by
``tests/data/vendor_reference.py``). Import it as ``tests.reference_data``.

The vendored subset has the layout of the full set, minus most files, and three kinds of reduction that
:class:`Reference` undoes for the tests: JSON files are gzipped (``name.json.gz``); the maps of some outputs
keep every 5th row and column (``subsample_stride`` in the file; compare ``subsample(ours, stride)``) and
the tokens of the intermediates every 5th token (``token_stride``); the input tensors are not stored but
replayed from the PNG photos with Pillow by the official rule (``inputs_<size>.json``: resize, crop,
``(u8 / 255 - 0.5) / 0.5`` in float32), checked against the sha256 of the official arrays.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI clones the repository anywhere and puts a copy of shared/ beside it: never depend on folder names.
FULL_DIR = REPO_ROOT.parent / "shared" / "reference"
DATA_DIR = REPO_ROOT / "tests" / "data"
VENDORED_DIR = DATA_DIR / "reference"


def subsample(arr: np.ndarray, stride: int) -> np.ndarray:
    """``arr[::stride, ::stride]``: the pixels a strided golden keeps."""
    return np.asarray(arr)[::stride, ::stride]


def sha256_of_array(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


@dataclass(frozen=True)
class Golden:
    """One output pair: its arrays (maps possibly strided) and the stride (1: full maps)."""

    arrays: dict[str, np.ndarray]
    stride: int

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


@dataclass(frozen=True)
class Reference:
    """A reference tree: ``root`` and whether it is the full set (``full``) or the vendored subset."""

    root: Path
    full: bool

    @property
    def label(self) -> str:
        return f"full reference {self.root}" if self.full else f"vendored reference subset {self.root}"

    def path(self, relative: str) -> Path:
        """A file of the tree; the vendored tiny 224 model lives in ``tests/data/tiny_linear_224``."""
        path = self.root / relative
        if not self.full and not path.exists() and relative.startswith("models/tiny_linear_224"):
            return DATA_DIR / relative[len("models/") :]
        return path

    def has(self, relative: str) -> bool:
        return self.path(relative).exists()

    def json(self, name: str):
        """``name`` (e.g. ``fixtures.json``) parsed, from ``name`` or ``name.gz``."""
        path = self.path(name)
        if path.is_file():
            return json.loads(path.read_text())
        return json.loads(gzip.decompress(self.path(name + ".gz").read_bytes()))

    def npz(self, relative: str) -> dict[str, np.ndarray]:
        with np.load(self.path(relative)) as z:
            return {k: z[k] for k in z.files}

    def images(self) -> list[Path]:
        """The reference photos, in reference order (image index i = file i)."""
        return sorted((self.root / "images").glob("img*.png"))

    def model(self, name: str, fmt: str) -> Path | None:
        """A checkpoint of a tiny model in ``fmt`` (``pth``, ``hf_folder`` or ``safetensors``), or None."""
        folder = self.path(f"models/{name}")
        if fmt == "hf_folder":
            complete = (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
            return folder if complete else None
        path = folder / (f"{name}.pth" if fmt == "pth" else "model.safetensors")
        return path if path.is_file() else None

    def input_facts(self, size: int) -> list[dict]:
        """The official preprocessing facts of each photo at ``size`` (``inputs_<size>.json``)."""
        return self.json(f"inputs_{size}.json")

    def inputs(self, size: int) -> dict[str, np.ndarray]:
        """``img<i>`` (1, 3, H, W) float32, ``uint8_<i>`` (H, W, 3), ``true_shape<i>`` (1, 2) int32 per photo."""
        if self.has(f"inputs_{size}.npz"):
            return self.npz(f"inputs_{size}.npz")
        return replay_official_inputs(self.images(), self.input_facts(size))

    def outputs(self) -> list[Path]:
        return sorted((self.root / "outputs").glob("*_pair??.npz"))

    def golden(self, name: str, i: int, j: int) -> Golden | None:
        """Output pair ``(i, j)`` of model ``name``, or None when this tree does not hold it."""
        relative = f"outputs/{name}_pair{i}{j}.npz"
        if not self.has(relative):
            return None
        arrays = self.npz(relative)
        return Golden(arrays, int(arrays.pop("subsample_stride", 1)))


def replay_official_inputs(images: list[Path], facts: list[dict]) -> dict[str, np.ndarray]:
    """The official ``load_images`` arrays replayed with Pillow from the recorded facts of each photo."""
    from PIL import Image

    out: dict[str, np.ndarray] = {}
    by_name = {p.name: p for p in images}
    for fact in facts:
        i = int(fact["idx"])
        with Image.open(by_name[fact["file"]]) as photo:
            resized = photo.convert("RGB").resize(tuple(fact["resized_WH"]), Image.Resampling[fact["interp"]])
            u8 = np.asarray(resized.crop(tuple(int(v) for v in fact["crop_box_ltrb"])))
        x = (u8.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
        out[f"uint8_{i}"] = u8
        out[f"img{i}"] = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        out[f"true_shape{i}"] = np.array(fact["true_shape"], dtype=np.int32)
    return out


@cache
def reference() -> Reference:
    """The full reference when present, else the vendored subset (``DUST3R_TEST_REFERENCE=vendored`` forces
    the subset, to run what a clone without ../shared runs)."""
    if FULL_DIR.is_dir() and os.environ.get("DUST3R_TEST_REFERENCE", "") != "vendored":
        return Reference(FULL_DIR, full=True)
    return Reference(VENDORED_DIR, full=False)


@cache
def vendored() -> Reference:
    """The vendored subset (present in every clone)."""
    return Reference(VENDORED_DIR, full=False)
