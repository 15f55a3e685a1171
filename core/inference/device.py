"""Choosing the torch device and turning device failures into user-facing errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..errors import ConfigError, DeviceError

log = logging.getLogger(__name__)

OOM_ADVICE = (
    "try a smaller batch size (--batch-size 1), fewer photos or a sparser scene graph (swin-K), "
    "half precision on CUDA, or the CPU (slow but not limited by GPU memory)"
)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name``: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda[:N]`` or ``mps``.

    Raises:
        DeviceError: the requested accelerator is not available (the message says why and what to do).
        ConfigError: ``name`` is not a device name.
    """
    name = str(name).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            built = torch.version.cuda is not None
            why = (
                "no usable NVIDIA GPU or driver was found"
                if built
                else "this torch build has no CUDA support"
            )
            raise DeviceError(f"device 'cuda' is not available: {why}; use device 'cpu' or 'auto'")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} does not exist ({torch.cuda.device_count()} CUDA devices)")
        return device
    if name == "mps":
        if not _mps_available():
            raise DeviceError("device 'mps' is not available (Apple GPU with macOS 12.3+ needed); use 'cpu'")
        return torch.device("mps")
    raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or mps")


def half_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced-precision dtype to autocast to on ``device``, or None where we keep float32.

    CUDA only: bfloat16 when the GPU supports it (no overflow risk), else float16.
    """
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _is_oom(exc: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


@contextmanager
def device_errors(device: torch.device, what: str) -> Iterator[None]:
    """Re-raise out-of-memory failures inside the block as :class:`DeviceError` with advice."""
    try:
        yield
    except RuntimeError as exc:
        if not _is_oom(exc):
            raise
        if device.type == "cuda":
            torch.cuda.empty_cache()
        raise DeviceError(f"{device.type.upper()} ran out of memory while {what}; {OOM_ADVICE}") from exc
