"""Pair files that can be trusted: ``pair_<i>_<j>.npz`` with a record of what made them.

A pair file (``python -m core infer``, a farm shard, a resumable ``reconstruct``) holds the reference arrays
of :meth:`core.predictions.PairPrediction.to_npz_dict` plus ``origin``: a JSON text (a 0-d unicode array, no
pickle) saying what the prediction was computed from::

    {"format": 1, "pair": [i, j], "photo_i": "<sha256>", "photo_j": "<sha256>",
     "checkpoint": "<sha256>", "size": 512, "precision": "fp32"}

``photo_*`` is the SHA-256 of the photo file's bytes (the same photo under another path is the same photo),
``checkpoint`` the SHA-256 of the checkpoint's content (:func:`checkpoint_identity`), ``size`` the network
image size and ``precision`` the precision the network actually ran in (``fp32``, ``bf16``, ``fp16``).

:meth:`PairOrigin.load_valid` returns a pair only when the file loads completely (every array read, so a
truncated or corrupt member fails its CRC check), holds the seven arrays with the shapes of the images this
run loaded, and its ``origin`` matches this run; anything else (no origin, another photo, another model, a
half-written or foreign file) is reported as a reason and the pair is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io.atomic import save_npz
from ..predictions import PairPrediction

log = logging.getLogger(__name__)

ORIGIN_KEY = "origin"
ORIGIN_FORMAT = 1
ANY_PRECISION = "auto"  # a run asked for ``auto`` accepts what each machine chose
_HASH_CHUNK = 1 << 22
_LOAD_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError, TypeError)


def pair_file_name(i: int, j: int) -> str:
    """``pair_<i>_<j>.npz``."""
    return f"pair_{int(i)}_{int(j)}.npz"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_identity(checkpoint: str | Path) -> str:
    """SHA-256 of a checkpoint's content: of the file, or, for a folder (Hugging Face layout), of the names and
    SHA-256 of its files (sorted), so the same weights give the same identity at any path on any machine."""
    path = Path(checkpoint).expanduser()
    if not path.is_dir():
        return file_sha256(path)
    digest = hashlib.sha256()
    for member in sorted(p for p in path.iterdir() if p.is_file()):
        digest.update(f"{member.name}\0{file_sha256(member)}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class PairOrigin:
    """What this run's pairs are made from, and the checks of a pair file against it.

    Attributes:
        photo_hashes: SHA-256 of each photo's bytes, in view order.
        shapes: ``(H, W)`` of each view's network image, in view order.
        checkpoint: :func:`checkpoint_identity` of the model.
        size: network image size (224 or 512).
        precision: the precision the network ran in (``fp32``, ``bf16``, ``fp16``); when checking files,
            :data:`ANY_PRECISION` accepts any (the run asked for ``auto``).
    """

    photo_hashes: tuple[str, ...]
    shapes: tuple[tuple[int, int], ...]
    checkpoint: str
    size: int
    precision: str

    @classmethod
    def of_run(cls, photo_paths: Sequence[str | Path], images: Sequence, checkpoint_id: str, size: int,
               precision: str) -> PairOrigin:  # fmt: skip
        """The origin of a run over ``photo_paths`` whose loaded network images are ``images`` (each with
        ``rgb`` ``(H, W, 3)``)."""
        return cls(
            tuple(file_sha256(p) for p in photo_paths),
            tuple((int(im.rgb.shape[0]), int(im.rgb.shape[1])) for im in images),
            checkpoint_id,
            int(size),
            str(precision),
        )

    def with_precision(self, precision: str) -> PairOrigin:
        return PairOrigin(self.photo_hashes, self.shapes, self.checkpoint, self.size, str(precision))

    def record(self, i: int, j: int) -> dict:
        """The ``origin`` record of pair ``(i, j)``."""
        return {
            "format": ORIGIN_FORMAT,
            "pair": [int(i), int(j)],
            "photo_i": self.photo_hashes[i],
            "photo_j": self.photo_hashes[j],
            "checkpoint": self.checkpoint,
            "size": self.size,
            "precision": self.precision,
        }

    def save(self, path: str | Path, pred: PairPrediction) -> None:
        """Write ``pred`` to ``path`` with its origin, atomically (:func:`core.io.atomic.save_npz`)."""
        arrays = pred.to_npz_dict()
        arrays[ORIGIN_KEY] = np.array(json.dumps(self.record(pred.i, pred.j), sort_keys=True))
        save_npz(path, arrays)

    def mismatch(self, record: dict, i: int, j: int) -> str | None:
        """Why ``record`` does not describe pair ``(i, j)`` of this run, or None when it does."""
        expected = self.record(i, j)
        for key in ("format", "pair", "photo_i", "photo_j", "checkpoint", "size"):
            if record.get(key) != expected[key]:
                return f"made from another {key.replace('_i', '').replace('_j', '')}"
        if self.precision != ANY_PRECISION and record.get("precision") != self.precision:
            return f"computed in {record.get('precision')}, this run uses {self.precision}"
        return None

    def load_valid(self, path: str | Path, i: int, j: int) -> PairPrediction | None:
        """Pair ``(i, j)`` from ``path`` when the file is complete and made by this run's inputs, else None
        (the reason is logged); a missing file is None without a message."""
        path = Path(path)
        if not path.is_file():
            return None
        reason = None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: np.asarray(data[key]) for key in data.files}  # reads (and CRC-checks) all
            record = json.loads(str(arrays[ORIGIN_KEY][()]))
            reason = self.mismatch(record, i, j) if isinstance(record, dict) else "no origin record"
            pred = PairPrediction.from_npz_dict(arrays) if reason is None else None
        except _LOAD_ERRORS as exc:
            reason, pred = f"unreadable ({type(exc).__name__}: {exc})", None
        if pred is not None:
            reason = self._shape_problem(pred, i, j)
        if reason is not None:
            log.warning("%s is not used and will be recomputed: %s", path, reason)
            return None
        return pred

    def _shape_problem(self, pred: PairPrediction, i: int, j: int) -> str | None:
        if (pred.i, pred.j) != (i, j):
            return f"holds pair ({pred.i}, {pred.j})"
        wanted = {
            "pts3d_i": (*self.shapes[i], 3),
            "conf_i": self.shapes[i],
            "pts3d_j": (*self.shapes[j], 3),
            "conf_j": self.shapes[j],
        }
        for name, shape in wanted.items():
            if tuple(getattr(pred, name).shape) != tuple(shape):
                return f"{name} has shape {getattr(pred, name).shape}, expected {tuple(shape)}"
        return None
