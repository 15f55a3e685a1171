"""Choosing the torch device and turning device failures into user-facing errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ..errors import ConfigError, DeviceError
from ..resources.guard import GPU_MEMORY_ADVICE, MEMORY_ADVICE, memory_errors

log = logging.getLogger(__name__)

OOM_ADVICE = GPU_MEMORY_ADVICE
CPU_OOM_ADVICE = f"use a smaller batch size (--batch-size 1), {MEMORY_ADVICE}"


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


@contextmanager
def device_errors(device: torch.device, what: str) -> Iterator[None]:
    """Re-raise out-of-memory failures inside the block as :class:`~core.errors.ResourceError` with advice.

    CUDA's, MPS's and the CPU allocator's failures (``MemoryError``, "DefaultCPUAllocator: can't allocate
    memory") alike; the advice depends on where the memory ran out.
    """
    on_gpu = device.type in ("cuda", "mps")
    try:
        with memory_errors(what, OOM_ADVICE if on_gpu else CPU_OOM_ADVICE, on_gpu=on_gpu):
            yield
    finally:
        if device.type == "cuda" and torch.cuda.is_available():
            torch.cuda.empty_cache()
