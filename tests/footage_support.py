"""Footage made in the tests: frames of a synthetic shot, written as a video (PyAV) or an image sequence."""

from __future__ import annotations

import fractions
from pathlib import Path

import numpy as np
from PIL import Image


def shot_frames(n: int = 12, size: tuple[int, int] = (128, 96), seed: int = 0) -> np.ndarray:
    """``(n, H, W, 3)`` uint8 frames of the synthetic ``shot`` scene (tests/synthetic, no predictions)."""
    from tests.synthetic import make_case

    return make_case("shot", n=n, noise=0.0, size=size, seed=seed, preds=False)["images"]


def write_video(
    path: Path,
    frames: np.ndarray,
    codec: str = "ffv1",
    rate: fractions.Fraction = fractions.Fraction(24000, 1001),
    rotation: int | None = None,
) -> Path:
    """Encode ``frames`` with PyAV: ``ffv1`` (lossless), ``libx264`` / ``libx265`` (lossless in YUV 4:4:4),
    ``prores_ks`` (ProRes 4444); MP4/MOV with the index first."""
    import av

    pix_fmt, options = {
        "ffv1": ("bgr0", {}),
        "libx264": ("yuv444p", {"crf": "0"}),
        "libx265": ("yuv444p", {"x265-params": "lossless=1:log-level=error"}),
        "prores_ks": ("yuv444p10le", {"profile": "4"}),
    }[codec]
    container_options = {"movflags": "faststart"} if path.suffix in (".mp4", ".mov") else {}
    with av.open(str(path), "w", options=container_options) as out:
        stream = out.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for frame in frames:
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            ):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_sequence(
    folder: Path, frames: np.ndarray, first: int = 1001, name: str = "plate", digits: int = 4
) -> list[Path]:
    """``folder/plate.1001.png``, ... one PNG per frame; returns the paths in frame order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, frame in enumerate(frames):
        path = folder / f"{name}.{first + k:0{digits}d}.png"
        Image.fromarray(frame).save(path)
        paths.append(path)
    return paths


def write_exr(path: Path, linear_rgb: np.ndarray, pixel_format: str = "half") -> Path:
    """One OpenEXR file of ``(H, W, 3)`` float scene-linear RGB, written by FFmpeg's EXR encoder (ZIP)."""
    import av

    ctx = av.CodecContext.create("exr", "w")
    ctx.width, ctx.height, ctx.pix_fmt = linear_rgb.shape[1], linear_rgb.shape[0], "gbrpf32le"
    ctx.time_base = fractions.Fraction(1, 24)
    ctx.options = {"format": pixel_format, "compression": "zip16"}
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(linear_rgb, dtype=np.float32), format="gbrpf32le")
    frame.pts = 0
    data = b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None))
    path.write_bytes(data)
    return path
