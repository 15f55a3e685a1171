"""Reconstruction container: shape validation and the RESULT.npz layout of INTERFACES.md."""

from __future__ import annotations

import numpy as np
import pytest

from core.result import Reconstruction


def _make(n_views: int = 2, size=(8, 6)) -> Reconstruction:
    w, h = size
    rng = np.random.default_rng(0)
    return Reconstruction(
        image_paths=tuple(f"/photos/img{k}.jpg" for k in range(n_views)),
        world_from_cam=np.tile(np.eye(4), (n_views, 1, 1)),
        K_photo=np.tile(np.eye(3), (n_views, 1, 1)),
        photo_size=np.tile([w * 2, h * 2], (n_views, 1)),
        K_net=np.tile(np.eye(3), (n_views, 1, 1)),
        net_size=np.tile([w, h], (n_views, 1)),
        depth=tuple(rng.random((h, w), dtype=np.float32) for _ in range(n_views)),
        pts3d=tuple(rng.random((h, w, 3), dtype=np.float32) for _ in range(n_views)),
        conf=tuple(1 + rng.random((h, w), dtype=np.float32) for _ in range(n_views)),
        colors=tuple(rng.random((h, w, 3), dtype=np.float32) for _ in range(n_views)),
    )


def test_npz_round_trip_uses_interface_names(tmp_path) -> None:
    rec = _make()
    path = tmp_path / "result.npz"
    rec.save_npz(path)
    with np.load(path) as data:
        expected = {"image_paths", "cam2world", "K_photo", "photo_size", "K_net", "net_size"}
        expected |= {f"{name}_{k}" for name in ("depth", "pts3d", "conf", "colors") for k in range(2)}
        assert set(data.files) == expected
        assert data["pts3d_1"].dtype == np.float32 and data["pts3d_1"].shape == (6, 8, 3)
    back = Reconstruction.load_npz(path)
    assert back.image_paths == rec.image_paths
    np.testing.assert_array_equal(back.colors[1], rec.colors[1])
    np.testing.assert_array_equal(back.world_from_cam, rec.world_from_cam)


def test_wrong_shapes_are_rejected() -> None:
    rec = _make()
    with pytest.raises(ValueError, match="pts3d"):
        Reconstruction(**{**rec.__dict__, "pts3d": (rec.pts3d[0], rec.pts3d[1][:, :4])})
    with pytest.raises(ValueError, match="world_from_cam"):
        Reconstruction(**{**rec.__dict__, "world_from_cam": np.eye(4)})
