"""Bulk writes into a mesh's own arrays: numpy fills Blender's memory in place.

``foreach_set`` needs the whole array staged in a numpy buffer first (for the point mesh: 3 copies of every
point, about 1 GB at 5 M points, each page of it faulted in and then copied again), and for the faces'
``loop_start`` Blender 4.2 has no bulk path at all (one RNA call per face). Every one of these arrays is,
in Blender, one contiguous C array whose elements the RNA collection hands out in order; :func:`write`
fills that array directly through a numpy view of it, and falls back to ``foreach_set`` whenever the
collection does not look like one contiguous array of the expected element size.

:func:`write` only for datablocks this build just made (their arrays are not shared with an undo step or
another mesh, which Blender's copy-on-write sharing would otherwise require to be copied before a write);
:func:`read` copies out of any mesh. A view lives only inside one call: adding elements or attributes
afterwards may move the arrays.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)


def _view(collection, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray | None:
    """A writable numpy view of shape ``shape`` over the memory of ``collection``'s elements (``len ==
    shape[0]``, each ``prod(shape[1:])`` values of ``dtype``), or None when its elements are not laid out
    as one contiguous array of that element size."""
    count = shape[0]
    if count < 2 or len(collection) != count:  # one element says nothing of the layout: foreach_set
        return None
    itemsize = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    first = collection[0].as_pointer()
    if (
        not first
        or collection[1].as_pointer() - first != itemsize
        or collection[count - 1].as_pointer() - first != (count - 1) * itemsize
    ):
        return None
    buffer = (ctypes.c_char * (count * itemsize)).from_address(first)
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def write(collection, key: str, dtype, shape: tuple[int, ...], fill: Callable[[np.ndarray], None]) -> None:
    """Set property ``key`` of every element of ``collection`` (a bpy collection of ``shape[0]`` elements,
    e.g. an attribute's ``data`` or ``mesh.polygons``): ``fill(out)`` writes all of ``out`` (``shape``,
    ``dtype``), which is Blender's own array when it can be reached (see the module docstring) or else a
    numpy buffer then given to ``foreach_set``. The last element is read back through RNA as a check.

    ``dtype`` uint8 is a byte colour (``key`` ``"color_srgb"``): Blender stores the bytes, RNA reads and
    writes them as floats in ``[0, 1]``."""
    dtype = np.dtype(dtype)
    view = _view(collection, dtype, shape)
    if view is not None:
        fill(view)
        expected = view[-1].copy()
        del view
        if _as_stored(getattr(collection[shape[0] - 1], key), dtype).tobytes() == expected.tobytes():
            return
        log.warning("direct write of %r did not read back; using foreach_set", key)
    out = np.empty(shape, dtype)
    fill(out)
    flat = out.reshape(-1)
    collection.foreach_set(key, flat.astype(np.float32) / 255 if dtype == np.uint8 else flat)


def read(collection, key: str, dtype, shape: tuple[int, ...], rows: int) -> np.ndarray:
    """A copy of property ``key`` of the first ``rows`` elements of ``collection`` (``shape`` as for
    :func:`write`, the whole collection): straight from Blender's array when it can be reached, else through
    ``foreach_get`` of all of it."""
    dtype = np.dtype(dtype)
    view = _view(collection, dtype, shape)
    if view is not None:
        return view[:rows].copy()
    if dtype == np.uint8:
        values = np.empty(shape, np.float32)
        collection.foreach_get(key, values.reshape(-1))
        return _as_stored(values[:rows], dtype)
    values = np.empty(shape, dtype)
    if shape[0]:
        collection.foreach_get(key, values.reshape(-1))
    return values[:rows].copy()


def _as_stored(values, dtype: np.dtype) -> np.ndarray:
    """RNA's values as Blender stores them: a byte colour's floats in ``[0, 1]`` back to bytes."""
    values = np.asarray(values)
    if dtype == np.uint8 and values.dtype.kind == "f":
        return np.floor(values * 255 + 0.5).astype(np.uint8)
    return values.astype(dtype)
