"""The vendored reference subset (tests/data) is what tests/data/vendor_reference.py says it is.

Everywhere: byte-identical copies match the sha256 of the reference's own manifest (fixtures.json), and the
arrays of every reduced npz have the manifest's dtypes and the shapes of the documented slices. With
../shared/reference beside the clone: every vendored file is rebuilt from it and compared.
"""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest

from tests.data import vendor_reference as vr
from tests.reference_data import DATA_DIR, FULL_DIR, reference, vendored

MANIFEST = vendored().json("fixtures.json")["manifest"]


def _sliced_shape(shape: list[int], options: dict, key: str) -> tuple[int, ...]:
    def strided(n: int) -> int:
        return -(-n // vr.STRIDE)

    if key in options.get("maps", ()):
        return (strided(shape[0]), strided(shape[1]), *shape[2:])
    if key in options.get("tokens", ()):
        return (shape[0], strided(shape[1]), *shape[2:])
    return tuple(shape)


@pytest.mark.parametrize("entry", vr.ENTRIES, ids=lambda e: e[0])
def test_vendored_file_is_the_documented_copy_or_subset(entry) -> None:
    target, kind, source, options = entry
    data = (DATA_DIR / target).read_bytes()
    if kind == "copy":
        assert hashlib.sha256(data).hexdigest() == MANIFEST[source]["sha256"]
    elif kind == "gzip":  # the manifest lives in fixtures.json and does not list checkpoints.json
        content = json.loads(gzip.decompress(data))
        assert {"checkpoints": "checkpoints", "fixtures.json": "manifest"}.get(
            source, "checkpoints"
        ) in content
    elif kind == "facts":
        facts = vendored().json(target[len("reference/") :])
        assert [f["idx"] for f in facts] == list(vr.IMAGES)
        assert all(len(f["sha256_img"]) == len(f["sha256_uint8"]) == 64 for f in facts)
    elif kind == "tensors":
        from safetensors.numpy import load

        tensors = load(data)
        assert len(tensors) > 10 and all(k.startswith(options["prefix"]) for k in tensors)
    else:
        arrays = vendored().npz(target[len("reference/") :])
        declared = MANIFEST[source]["arrays"]
        for key, value in arrays.items():
            if key in ("subsample_stride", "token_stride"):
                assert int(value) == vr.STRIDE
                continue
            dtype, shape = declared[key]
            assert value.dtype == np.dtype(dtype), key
            assert value.shape == _sliced_shape(shape, options, key), key
    if reference().full:  # and it is exactly what the builder makes of ../shared/reference
        assert vr.same_content(DATA_DIR / target, vr.build(FULL_DIR, kind, source, options), kind)


def test_the_vendored_subset_stays_small() -> None:
    sizes = {entry[0]: (DATA_DIR / entry[0]).stat().st_size for entry in vr.ENTRIES}
    assert sum(sizes.values()) < 12_500_000, sizes  # tests/data/README.md lists every file and its size
