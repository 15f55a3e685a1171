"""Compact storage of the pair predictions between inference and alignment.

The aligner reads every pair's pointmaps a few times (validation, spanning-tree initialisation, the camera
solve's pixel subsample, the dense depth fit), but never needs float32: the network's own precision is at
best bfloat16/float32 with errors of about 1e-3, and every consumer converts to float32/float64 on access.
So :class:`PairStore` keeps, per ordered pair, the two pointmaps and the two confidence maps as float16
(2 bytes per value instead of 4: 16 bytes per pixel and pair instead of 32), either in RAM or in an
anonymous scratch file in the temporary folder for large runs. Memory then grows with the pairs at a small
constant (RAM store) or not at all (disk store), and the dense stage holds one view's pairs at a time.

Float16 is used as is where a map fits its range (about 6e4): the stored value is the float16 rounding of
the float32 prediction (relative error <= 2^-11). A map with larger values is divided by a power of two
first (exact), so nothing overflows; NaN and inf stay NaN and inf, so the aligner's checks see them.

The scratch file is a :func:`tempfile.TemporaryFile`: it has no name on POSIX systems and is deleted by the
operating system when it is closed or the process ends (also on Windows), so neither a failure, a cancel
nor a killed process leaves it behind.

``PairStore`` is a read-only ``Sequence`` of pair objects with the attributes of
:class:`~core.predictions.PairPrediction` (``i``, ``j``, ``pts3d_i``, ``conf_i``, ``pts3d_j``, ``conf_j``,
decoded to float32 on each access), so ``global_align`` and the other aligners take it in place of a list.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ResourceError
from ..predictions import PairPrediction

logger = logging.getLogger(__name__)

FLOAT16_SAFE_MAX = 32768.0  # values are scaled below this (float16's largest finite value is 65504)
STORED_BYTES_PER_PIXEL = 2 * (3 + 1) * 2  # two views x (xyz + confidence) x float16, per pixel and pair
MAPS = ("pts3d_i", "conf_i", "pts3d_j", "conf_j")


def encode_float16(values: np.ndarray) -> tuple[np.ndarray, float]:
    """``values`` as float16 and the power-of-two factor to multiply them by: ``(stored, scale)``.

    ``scale`` is 1 when the finite values fit float16; otherwise the smallest power of two that brings the
    largest finite magnitude below :data:`FLOAT16_SAFE_MAX`. Non-finite values are kept as they are.
    """
    values = np.asarray(values, dtype=np.float32)
    finite = np.isfinite(values)
    peak = float(np.abs(values[finite]).max()) if finite.any() else 0.0
    scale = 1.0
    if peak >= FLOAT16_SAFE_MAX:
        scale = 2.0 ** math.ceil(math.log2(peak / FLOAT16_SAFE_MAX) + 1e-9)
        values = values / np.float32(scale)
    return values.astype(np.float16), scale


def decode_float16(stored: np.ndarray, scale: float) -> np.ndarray:
    """Inverse of :func:`encode_float16`: float32 values."""
    out = stored.astype(np.float32)
    if scale != 1.0:
        out *= np.float32(scale)
    return out


@dataclass(frozen=True)
class _Record:
    """Where one pair's four maps are: shapes, scales, and the byte offsets in the scratch file."""

    i: int
    j: int
    shapes: tuple[tuple[int, ...], ...]
    scales: tuple[float, ...]
    offsets: tuple[int, ...]


class StoredPair:
    """One ordered pair of a :class:`PairStore`; each map is decoded to float32 when it is read."""

    __slots__ = ("_index", "_store", "i", "j")

    def __init__(self, store: PairStore, index: int, i: int, j: int) -> None:
        self._store, self._index, self.i, self.j = store, index, i, j

    @property
    def pts3d_i(self) -> np.ndarray:
        """``(H_i, W_i, 3)`` float32, view ``i``'s points in camera ``i``'s frame."""
        return self._store.read_map(self._index, 0)

    @property
    def conf_i(self) -> np.ndarray:
        """``(H_i, W_i)`` float32."""
        return self._store.read_map(self._index, 1)

    @property
    def pts3d_j(self) -> np.ndarray:
        """``(H_j, W_j, 3)`` float32, view ``j``'s points in camera ``i``'s frame."""
        return self._store.read_map(self._index, 2)

    @property
    def conf_j(self) -> np.ndarray:
        """``(H_j, W_j)`` float32."""
        return self._store.read_map(self._index, 3)

    def read_rows(self, which: int, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of map ``which`` (0: pts3d_i, 1: conf_i, 2: pts3d_j, 3: conf_j) as float32."""
        return self._store.read_map(self._index, which, (start, stop))

    def to_prediction(self) -> PairPrediction:
        """A float32 :class:`PairPrediction` copy."""
        return PairPrediction(self.i, self.j, self.pts3d_i, self.conf_i, self.pts3d_j, self.conf_j)


class PairStore(Sequence):
    """Ordered pair predictions kept as float16, in RAM (``on_disk=False``) or in a scratch file.

    Use it as a context manager (or call :meth:`close`) so that a scratch file is released as soon as the
    alignment is done. Adding is done by :meth:`add` (a ``PairPrediction`` or anything with its attributes),
    reading by indexing (``store[e]`` is a :class:`StoredPair`).

    Args:
        on_disk: keep the maps in a scratch file in ``directory`` instead of RAM.
        directory: folder of the scratch file (default: the user's temporary folder).
        expected_bytes: if given with ``on_disk``, the free disk space is checked up front.

    Raises:
        ResourceError: the scratch folder has less free space than ``expected_bytes``, or a write fails
            because the disk is full.
    """

    def __init__(self, on_disk: bool = False, directory: str | None = None, expected_bytes: int = 0) -> None:
        self._records: list[_Record] = []
        self._arrays: list[tuple[np.ndarray, ...]] = []
        self._file = None
        self._size = 0
        self._disk_end = 0
        self._lock = threading.Lock()
        self.directory = directory or tempfile.gettempdir()
        if on_disk:
            free = shutil.disk_usage(self.directory).free
            if expected_bytes > free:
                raise ResourceError(
                    f"the pair predictions need about {expected_bytes / 1e9:.1f} GB of scratch space in "
                    f"{self.directory} but only {free / 1e9:.1f} GB are free: free some disk space, or use "
                    "fewer photos or a smaller scene graph"
                )
            self._file = tempfile.TemporaryFile(prefix="dust3r-pairs-", suffix=".bin", dir=self.directory)
            logger.info("pair predictions go to a scratch file in %s", self.directory)

    @property
    def on_disk(self) -> bool:
        return self._file is not None

    @property
    def nbytes(self) -> int:
        """Bytes held by the stored maps (in RAM, or in the scratch file)."""
        return self._size

    def add(self, pred) -> None:
        """Store one ordered pair (float32 maps are converted to float16; see the module docstring)."""
        encoded = [encode_float16(getattr(pred, name)) for name in MAPS]
        shapes = tuple(stored.shape for stored, _ in encoded)
        scales = tuple(scale for _, scale in encoded)
        offsets: tuple[int, ...] = ()
        if self._file is None:
            self._arrays.append(tuple(stored for stored, _ in encoded))
        else:
            offsets = tuple(self._append_bytes(stored) for stored, _ in encoded)
        self._size += sum(stored.nbytes for stored, _ in encoded)
        self._records.append(_Record(int(pred.i), int(pred.j), shapes, scales, offsets))

    def __call__(self, pred) -> None:
        """Same as :meth:`add`, so the store can be given where a ``sink(prediction)`` is expected."""
        self.add(pred)

    def _append_bytes(self, stored: np.ndarray) -> int:
        offset = self._disk_end
        try:
            with self._lock:
                self._file.seek(offset)
                self._file.write(np.ascontiguousarray(stored).data)
        except OSError as exc:
            raise ResourceError(
                f"cannot write the pair predictions to the scratch folder {self.directory} ({exc}): free some "
                "disk space, or use fewer photos or a smaller scene graph"
            ) from exc
        self._disk_end += stored.nbytes
        return offset

    def read_map(self, index: int, which: int, rows: tuple[int, int] | None = None) -> np.ndarray:
        """Map ``which`` (0: pts3d_i, 1: conf_i, 2: pts3d_j, 3: conf_j) of pair ``index`` as float32.

        Args:
            rows: ``(start, stop)`` to read only those rows (a contiguous part of the map, also on disk).
        """
        record = self._records[index]
        shape, scale = record.shapes[which], record.scales[which]
        start, stop = (0, shape[0]) if rows is None else (max(rows[0], 0), min(rows[1], shape[0]))
        if self._file is None:
            return decode_float16(self._arrays[index][which][start:stop], scale)
        stored = np.empty((max(stop - start, 0),) + tuple(shape[1:]), dtype=np.float16)
        row_bytes = 2 * math.prod(shape[1:])
        with self._lock:
            self._file.seek(record.offsets[which] + start * row_bytes)
            self._file.readinto(memoryview(stored).cast("B"))
        return decode_float16(stored, scale)

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        record = self._records[index]
        return StoredPair(self, index, record.i, record.j)

    def __iter__(self) -> Iterator[StoredPair]:
        return (self[k] for k in range(len(self)))

    def close(self) -> None:
        """Release the maps (and delete the scratch file). The store is empty afterwards."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._records.clear()
        self._arrays.clear()
        self._size = 0

    def __enter__(self) -> PairStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stored_pair_bytes(sizes: Sequence[tuple[int, int]], pairs: Sequence[tuple[int, int]]) -> int:
    """Bytes a :class:`PairStore` takes for ``pairs`` of views of ``sizes[v] = (H, W)``."""
    return sum(8 * (sizes[i][0] * sizes[i][1] + sizes[j][0] * sizes[j][1]) for i, j in pairs)
