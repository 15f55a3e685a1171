"""Photo loading: odd pixel modes and file formats, and the errors for bad files."""

from __future__ import annotations

import struct
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageError
from core.inference import images as images_module
from core.inference.images import load_image, load_images, to_rgb8

W, H = 128, 96


def _gradient() -> np.ndarray:
    x = np.linspace(0, 255, W)[None, :, None]
    y = np.linspace(0, 255, H)[:, None, None]
    return np.concatenate(
        [np.broadcast_to(x, (H, W, 1)), np.broadcast_to(y, (H, W, 1)), (x + y) / 2 * np.ones((H, W, 1))],
        axis=2,
    ).astype(np.uint8)


def _write_png16_rgb(path: Path, arr: np.ndarray) -> None:
    """A 16-bit-per-channel RGB PNG written by hand (Pillow cannot write that mode)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _make(path: Path, kind: str) -> Path:
    rgb = Image.fromarray(_gradient())
    if kind == "gray":
        rgb.convert("L").save(path)
    elif kind == "rgba":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(Image.new("L", rgb.size, 128))
        rgba.save(path)
    elif kind == "palette":
        rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=32).save(path, transparency=0)
    elif kind == "gray16":
        Image.fromarray(_gradient()[..., 0].astype(np.uint16) * 257).save(path)
    elif kind == "rgb16":
        _write_png16_rgb(path, _gradient().astype(np.uint16) * 257)
    elif kind == "cmyk":
        rgb.convert("CMYK").save(path, quality=95)
    elif kind == "bilevel":
        rgb.convert("1").save(path)
    else:  # a plain RGB image in the format given by the suffix
        rgb.save(path)
    return path


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("gray.png", "gray"),
        ("rgba.png", "rgba"),
        ("palette.png", "palette"),
        ("gray16.png", "gray16"),
        ("rgb16.png", "rgb16"),
        ("cmyk.jpg", "cmyk"),
        ("bilevel.png", "bilevel"),
        ("plain.webp", "rgb"),
        ("plain.tif", "rgb"),
        ("plain.bmp", "rgb"),
        ("plain.jpg", "rgb"),
    ],
)
def test_odd_formats_load_as_rgb(tmp_path: Path, name: str, kind: str) -> None:
    image = load_image(_make(tmp_path / name, kind), 512)
    assert image.rgb.dtype == np.uint8 and image.rgb.shape == (384, 512, 3)
    assert image.tensor.shape == (1, 3, 384, 512)
    # every format keeps the gradient: left is darker than right in the red channel (not clipped to white)
    red = image.rgb[..., 0].astype(float)
    assert red[:, :50].mean() < red[:, -50:].mean() - 50, f"{kind}: pixels lost ({red.min()}..{red.max()})"


def test_16bit_gray_is_scaled_not_clipped() -> None:
    gray16 = Image.fromarray(np.array([[0, 257 * 100, 65535]], dtype=np.uint16))
    np.testing.assert_array_equal(np.asarray(to_rgb8(gray16))[0, :, 0], [0, 100, 255])


def test_alpha_is_dropped_like_the_reference() -> None:
    rgba = Image.new("RGBA", (4, 4), (200, 100, 50, 0))
    np.testing.assert_array_equal(np.asarray(to_rgb8(rgba))[0, 0], [200, 100, 50])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="nope.jpg"):
        load_images([tmp_path / "nope.jpg"], 512)


def test_folder_is_not_a_photo(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not a file"):
        load_image(tmp_path, 512)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "text.jpg"
    path.write_text("hello, I am not a JPEG")
    with pytest.raises(ImageError, match="text.jpg"):
        load_image(path, 512)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_file(tmp_path: Path, suffix: str) -> None:
    full = _make(tmp_path / f"full{suffix}", "rgb")
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(ImageError, match=f"cut{suffix}"):
        load_image(cut, 512)


def test_corrupt_png_data(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "ok.png")  # noise: the pixel data is long and incompressible
    data = bytearray((tmp_path / "ok.png").read_bytes())
    data[60:90] = b"\xff" * 30  # inside the compressed pixel data
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="bad.png"):
        load_image(bad, 512)


def test_heic_without_pillow_heif_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as where it is not installed (import fails)
    monkeypatch.setattr(images_module, "_heif_registered", False)
    assert not images_module.heif_available()
    path = tmp_path / "photo.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic")
    with pytest.raises(ImageError, match="pillow-heif"):
        load_image(path, 512)


def test_heic_opener_is_registered_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    fake = types.ModuleType("pillow_heif")
    fake.register_heif_opener = lambda: calls.append(1)
    monkeypatch.setitem(sys.modules, "pillow_heif", fake)
    monkeypatch.setattr(images_module, "_heif_registered", False)
    path = _make(tmp_path / "really_a.png", "rgb").rename(tmp_path / "really_a_png.heic")  # content decides
    for _ in range(2):
        assert load_image(path, 512).rgb.shape == (384, 512, 3)
    assert calls == [1]
    assert images_module.heif_available()
