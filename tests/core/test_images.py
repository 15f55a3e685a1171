"""Photo loading: reference preprocessing (sizes, crops, pixels, tensors), EXIF, folder listing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ConfigError, ImageError
from core.inference.images import list_photos, load_image, load_images, natural_key, plan_crop
from tests.reference_data import reference, replay_official_inputs, sha256_of_array

REF = reference()  # the full ../shared/reference (3 photos) or the vendored subset (photos 0 and 1)


def _save_rgb(path: Path, width: int, height: int, seed: int = 0, **save_kwargs) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path, **save_kwargs)
    return path


@pytest.mark.parametrize("size", [512, 224])
def test_crops_and_shapes_match_reference(size: int) -> None:
    facts = REF.input_facts(size)
    images = load_images(REF.images(), size)
    assert len(images) == len(facts)
    for image, fact in zip(images, facts, strict=True):
        assert image.path.name == fact["file"]
        crop = image.crop
        assert list(crop.photo_size) == fact["orig_WH"]
        assert list(crop.resized_size) == fact["resized_WH"]
        left, top, right, bottom = fact["crop_box_ltrb"]
        assert crop.crop_offset == (int(left), int(top))
        assert (crop.crop_offset[0] + crop.net_size[0], crop.crop_offset[1] + crop.net_size[1]) == (
            right,
            bottom,
        )
        assert list(crop.net_size) == fact["final_WH"]
        assert [list(image.true_shape)] == fact["true_shape"]
        assert plan_crop(crop.photo_size, size).resample.name == fact["interp"]


@pytest.mark.parametrize("size", [512, 224])
def test_pixels_and_tensors_match_reference(size: int) -> None:
    golden = REF.inputs(size)
    for i, image in enumerate(load_images(REF.images(), size)):
        ref_u8 = golden[f"uint8_{i}"]
        assert image.rgb.shape == ref_u8.shape and image.rgb.dtype == np.uint8
        diff = np.abs(image.rgb.astype(np.int16) - ref_u8.astype(np.int16))
        assert diff.mean() < 1.0, f"image {i}: mean abs diff {diff.mean()} grey levels"
        ref_tensor = golden[f"img{i}"]
        tensor = image.tensor.numpy()
        assert tensor.dtype == np.float32 and tensor.shape == ref_tensor.shape
        if diff.max() == 0:  # same Pillow resize: the normalisation must then be bit-exact
            np.testing.assert_array_equal(tensor, ref_tensor)
        assert tensor.min() >= -1.0 and tensor.max() <= 1.0
        np.testing.assert_array_equal(
            np.asarray(image.true_shape, dtype=np.int32)[None], golden[f"true_shape{i}"]
        )


@pytest.mark.parametrize("size", [512, 224])
def test_replayed_preprocessing_reproduces_the_official_tensors(size: int) -> None:
    """The vendored subset stores the photos, not the tensors: Pillow replaying the recorded resize and crop
    gives the official arrays bit for bit (sha256 recorded from them; the arrays themselves when present)."""
    replayed = replay_official_inputs(REF.images(), REF.input_facts(size))
    for fact in REF.input_facts(size):
        i = fact["idx"]
        if "sha256_img" in fact:
            assert sha256_of_array(replayed[f"img{i}"]) == fact["sha256_img"]
            assert sha256_of_array(replayed[f"uint8_{i}"]) == fact["sha256_uint8"]
        else:
            official = REF.inputs(size)
            np.testing.assert_array_equal(replayed[f"img{i}"], official[f"img{i}"])
            np.testing.assert_array_equal(replayed[f"uint8_{i}"], official[f"uint8_{i}"])
        assert replayed[f"img{i}"].dtype == np.float32 and replayed[f"img{i}"].shape[:2] == (1, 3)


@pytest.mark.parametrize(
    ("photo", "size", "resized", "offset", "net"),
    [
        ((1024, 1024), 512, (512, 512), (0, 64), (512, 384)),  # square -> 4:3
        ((300, 200), 512, (512, 341), (0, 2), (512, 336)),  # enlarged
        ((1001, 667), 512, (512, 341), (0, 2), (512, 336)),
        ((4000, 3000), 224, (299, 224), (37, 0), (224, 224)),
        ((100, 100), 224, (224, 224), (0, 0), (224, 224)),
    ],
)
def test_plan_crop_geometry(photo, size, resized, offset, net) -> None:
    plan = plan_crop(photo, size)
    assert plan.crop.resized_size == resized
    assert plan.crop.crop_offset == offset
    assert plan.crop.net_size == net
    assert plan.crop.net_size[0] % 16 == 0 and plan.crop.net_size[1] % 16 == 0
    expected_filter = "LANCZOS" if max(photo) > (512 if size == 512 else max(resized)) else "BICUBIC"
    assert plan.resample.name == expected_filter


def test_plan_crop_square_allowed() -> None:
    assert plan_crop((800, 800), 512, square_ok=True).crop.net_size == (512, 512)


def test_plan_crop_uses_python_round() -> None:
    # 2048 x 257 -> 512 x 64.25 -> 64
    assert plan_crop((2048, 257), 512).crop.resized_size == (512, 64)
    # half-to-even: 4096 x 516 -> 512 x 64.5 -> 64 (Python's round), not 65
    assert plan_crop((4096, 516), 512).crop.resized_size == (512, 64)


def test_too_elongated_photo_raises(tmp_path: Path) -> None:
    path = _save_rgb(tmp_path / "strip.png", 2000, 20)
    with pytest.raises(ImageError, match="strip.png"):
        load_images([path], 512)


def test_tiny_photo_is_enlarged(tmp_path: Path) -> None:
    image = load_image(_save_rgb(tmp_path / "tiny.png", 48, 36), 512)  # MIN_PHOTO_SIDE is 32
    assert image.crop.resized_size == (512, 384)
    assert image.tensor.shape == (1, 3, 384, 512)


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / f"rot{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    _save_rgb(path, 640, 480, exif=exif.tobytes())
    image = load_image(path, 512)
    assert image.crop.photo_size == (480, 640)  # the upright photo is portrait
    assert image.true_shape == (512, 384)
    # the pixels are rotated too: compare with the stored pixels rotated by hand
    stored = np.asarray(Image.open(path).convert("RGB"))
    turned = np.rot90(stored, k=-1 if orientation == 6 else 1)
    expected = np.asarray(Image.fromarray(turned).resize((384, 512), Image.Resampling.LANCZOS))
    np.testing.assert_array_equal(image.rgb, expected)


def test_exif_focal_35mm_is_read(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 28
    with_focal = _save_rgb(tmp_path / "focal.jpg", 64, 48, exif=exif.tobytes())
    without = _save_rgb(tmp_path / "plain.jpg", 64, 48)
    loaded = load_images([with_focal, without], 512)
    assert loaded[0].exif_focal_35mm == 28.0
    assert loaded[1].exif_focal_35mm is None


def test_load_images_keeps_order_and_validates(tmp_path: Path) -> None:
    paths = [_save_rgb(tmp_path / f"p{k}.png", 64 + 16 * k, 48, seed=k) for k in range(3)]
    assert [im.path for im in load_images(list(reversed(paths)), 512)] == list(reversed(paths))
    with pytest.raises(ImageError, match="no photos"):
        load_images([], 512)
    with pytest.raises(ConfigError):
        load_images(paths, 384)


def test_natural_key_orders_numbers() -> None:
    names = ["img10.jpg", "img2.jpg", "IMG1.jpg", "img2b.jpg", "a.jpg"]
    assert sorted(names, key=natural_key) == ["a.jpg", "IMG1.jpg", "img2.jpg", "img2b.jpg", "img10.jpg"]


def test_list_photos_natural_order_and_skips(tmp_path: Path) -> None:
    for name in ["img10.jpg", "img2.PNG", "img1.webp", "notes.txt", ".hidden.jpg", "clip.mov"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    listing = list_photos(tmp_path)
    assert [p.name for p in listing.photos] == ["img1.webp", "img2.PNG", "img10.jpg"]
    assert sorted(p.name for p, _ in listing.skipped) == ["clip.mov", "notes.txt"]
    assert all(reason for _, reason in listing.skipped)
    with pytest.raises(ImageError):
        list_photos(tmp_path / "missing")
