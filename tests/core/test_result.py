"""Reconstruction container: shape validation and the RESULT.npz layout of INTERFACES.md."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from core.result import PER_VIEW_ARRAYS, RESULT_ARRAYS, Reconstruction, ResultFileError, read_result


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
        expected |= {"frame_numbers", "fps", "dist", "solve_error_px", "resized_size", "crop_offset"}
        expected |= {"warnings", "refine_status", "uncertainty_px"}  # always (INTERFACES.md, issue 18)
        expected |= {f"{name}_{k}" for name in ("depth", "pts3d", "conf", "colors") for k in range(2)}
        assert set(data.files) == expected
        assert data["warnings"].shape == (0,)
        assert data["pts3d_1"].dtype == np.float32 and data["pts3d_1"].shape == (6, 8, 3)
    back = Reconstruction.load_npz(path)
    assert back.image_paths == rec.image_paths
    np.testing.assert_array_equal(back.colors[1], rec.colors[1])
    np.testing.assert_array_equal(back.world_from_cam, rec.world_from_cam)
    assert back.crops == rec.crops and back.fps == 0.0 and not back.is_footage
    np.testing.assert_array_equal(back.frame_numbers, [0, 1])
    assert back.dist.shape == (2, 2) and np.isnan(back.solve_error_px).all()
    assert back.warnings == ()


def test_warnings_round_trip(tmp_path) -> None:
    notes = ("pair (a.jpg, b.jpg) left out of the alignment", "second note, with unicode: é")
    rec = Reconstruction(**{**_make().__dict__, "warnings": list(notes)})
    assert rec.warnings == notes  # stored as a plain tuple of strings
    rec.save_npz(tmp_path / "r.npz")
    assert Reconstruction.load_npz(tmp_path / "r.npz").warnings == notes


def test_footage_fields_round_trip_and_old_files_still_load(tmp_path) -> None:
    rec = _make(3)
    footage = Reconstruction(
        **{
            **rec.__dict__,
            "frame_numbers": np.array([1001, 1003, 1005]),
            "fps": 24.0,
            "dist": np.tile([-0.1, 0.02], (3, 1)),
            "solve_error_px": np.array([0.2, 0.3, 0.25]),
        }
    )
    path = tmp_path / "footage.npz"
    footage.save_npz(path)
    back = Reconstruction.load_npz(path)
    assert back.is_footage and back.fps == 24.0
    np.testing.assert_array_equal(back.frame_numbers, [1001, 1003, 1005])
    np.testing.assert_array_equal(back.dist, footage.dist)
    np.testing.assert_array_equal(back.solve_error_px, footage.solve_error_px)
    # a RESULT.npz of version 0.1 has none of the optional arrays: defaults, crops from the intrinsics
    with np.load(path) as data:
        old = {
            k: data[k]
            for k in data.files
            if k not in {"frame_numbers", "fps", "dist", "solve_error_px", "resized_size", "crop_offset"}
        }
    np.savez(tmp_path / "old.npz", **old)
    back = Reconstruction.load_npz(tmp_path / "old.npz")
    np.testing.assert_array_equal(back.frame_numbers, [0, 1, 2])
    assert back.fps == 0.0 and len(back.crops) == 3


def test_optional_fields_are_validated() -> None:
    rec = _make(2)
    with pytest.raises(ValueError, match="frame_numbers"):
        Reconstruction(**{**rec.__dict__, "frame_numbers": np.arange(3)})
    with pytest.raises(ValueError, match="dist"):
        Reconstruction(**{**rec.__dict__, "dist": np.zeros((2, 3))})
    with pytest.raises(ValueError, match="fps"):
        Reconstruction(**{**rec.__dict__, "fps": float("nan")})


def test_wrong_shapes_are_rejected() -> None:
    rec = _make()
    with pytest.raises(ValueError, match="pts3d"):
        Reconstruction(**{**rec.__dict__, "pts3d": (rec.pts3d[0], rec.pts3d[1][:, :4])})
    with pytest.raises(ValueError, match="world_from_cam"):
        Reconstruction(**{**rec.__dict__, "world_from_cam": np.eye(4)})


def test_reconstruction_from_depth_reprojects_to_its_pixels() -> None:
    from core.geometry.photo import PhotoCrop, photo_from_net_pixels
    from core.geometry.transforms import invert_rigid, make_rigid
    from core.result import reconstruction_from_depth

    h, w = 6, 8
    crop = PhotoCrop(photo_size=(20, 15), resized_size=(10, 8), crop_offset=(1, 1), net_size=(w, h))
    K_net = np.array([[9.0, 0, 3.7], [0, 9.0, 2.9], [0, 0, 1]])
    angle = 0.3
    R = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    world_from_cam = make_rigid(R, np.array([0.5, -0.2, 1.0]))
    depth = np.random.default_rng(0).uniform(1, 3, (h, w))
    rec = reconstruction_from_depth(
        ["a.png"],
        world_from_cam[None],
        K_net[None],
        [crop],
        [depth],
        [np.ones((h, w))],
        [np.zeros((h, w, 3))],
    )
    cam = rec.pts3d[0].reshape(-1, 3).astype(np.float64) @ invert_rigid(world_from_cam)[:3, :3].T
    cam += invert_rigid(world_from_cam)[:3, 3]
    np.testing.assert_allclose(cam[:, 2], depth.ravel(), rtol=1e-6)
    v, u = np.mgrid[0:h, 0:w]
    uv_net = np.stack([u.ravel(), v.ravel()], -1)
    uv_photo = (cam @ rec.K_photo[0].T)[:, :2] / cam[:, 2:]
    np.testing.assert_allclose(uv_photo, photo_from_net_pixels(uv_net, crop), atol=1e-4)
    np.testing.assert_array_equal(rec.photo_size, [[20, 15]])


def test_reconstruction_from_depth_keeps_given_world_points() -> None:
    from core.geometry.photo import PhotoCrop
    from core.result import reconstruction_from_depth

    h, w = 4, 5
    crop = PhotoCrop(photo_size=(w, h), resized_size=(w, h), crop_offset=(0, 0), net_size=(w, h))
    given = np.full((h, w, 3), 7.0, np.float32)
    rec = reconstruction_from_depth(
        ["a.png"],
        np.eye(4)[None],
        np.eye(3)[None],
        [crop],
        [np.ones((h, w))],
        [np.ones((h, w))],
        [np.zeros((h, w, 3))],
        pts3d=[given],
    )
    np.testing.assert_array_equal(rec.pts3d[0], given)


def test_the_one_result_reader_says_what_is_wrong(tmp_path) -> None:
    """read_result (import, export and the footage build use it) refuses each kind of bad file by kind."""
    good = tmp_path / "good.npz"
    _make().save_npz(good)
    assert read_result(good).num_views == 2
    with pytest.raises(ResultFileError) as info:
        read_result(tmp_path / "absent.npz")
    assert info.value.problem == "missing" and isinstance(info.value, ConfigError)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ResultFileError) as info:
        read_result(junk)
    assert info.value.problem == "unreadable" and info.value.detail == "not a zip archive"
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    partial = tmp_path / "partial.npz"
    np.savez(partial, **{k: v for k, v in arrays.items() if k not in ("K_net", "colors_1")})
    with pytest.raises(ResultFileError) as info:
        read_result(partial)
    assert info.value.problem == "arrays" and info.value.missing_arrays == ("K_net", "colors_1")
    assert set(RESULT_ARRAYS) | {f"{k}_{i}" for k in PER_VIEW_ARRAYS for i in range(2)} <= set(arrays)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{**arrays, "cam2world": np.zeros((2, 3, 3))})
    with pytest.raises(ResultFileError) as info:
        read_result(bad)
    assert info.value.problem == "invalid" and info.value.detail
