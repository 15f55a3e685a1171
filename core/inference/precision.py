"""Compute precision of the network: which dtype to autocast the heavy matmuls to, on which device.

``auto`` picks the fastest precision the device computes well (INTERFACES.md):

* CPU: bfloat16 when the CPU has AMX or AVX-512 BF16 (oneDNN then runs bfloat16 matmuls several times
  faster than float32); float32 otherwise: without those instructions bfloat16 is emulated and much SLOWER.
  Detected from torch's own probes (``torch.cpu._is_amx_tile_supported`` / ``_is_avx512_bf16_supported``),
  the ``/proc/cpuinfo`` flags on Linux, and torch's vector capability (AVX-512 kernels): all must agree
  where they are available, so that an unknown platform stays in float32.
* CUDA: bfloat16 on GPUs that support it (Ampere and newer; no overflow risk), float16 on older GPUs.
* MPS (Apple GPUs): float16.

Whatever the precision, the weights stay float32 (autocast casts per operation, so LayerNorm statistics,
softmax accumulation and the heads' final ``exp`` activations stay float32: see
``core/model/heads/postprocess.py``), the RoPE tables are built in float32, and results leave the predictor
as float32 (or float16 in the aligner's compact store).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import torch

from ..config import PRECISIONS
from ..errors import ConfigError, DeviceError
from ..resources.hardware import cpu_flags, cpu_has_bf16_flags

log = logging.getLogger(__name__)

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """A resolved precision: its name (``fp32``, ``bf16``, ``fp16``) and the autocast dtype (None for fp32)."""

    name: str
    autocast_dtype: torch.dtype | None

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """The context that runs the network's matmuls in this precision on ``device``."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.autocast_dtype)


def _torch_probe(name: str) -> bool | None:
    probe = getattr(getattr(torch, "cpu", None), name, None)
    if probe is None:
        return None
    try:
        return bool(probe())
    except RuntimeError:
        return None


def cpu_bf16_is_fast() -> bool:
    """True when this CPU computes bfloat16 matmuls natively (AMX-BF16 or AVX-512 BF16).

    Conservative: every available source must agree (torch's probes, the Linux CPU flags, torch's vector
    capability being AVX-512), and at least one probe or flag must say yes.
    """
    capability = str(torch.backends.cpu.get_cpu_capability()).upper()
    if "AVX512" not in capability and "AMX" not in capability:
        return False
    probes = [_torch_probe("_is_amx_tile_supported"), _torch_probe("_is_avx512_bf16_supported")]
    known = [p for p in probes if p is not None]
    torch_says = any(known) if known else None
    flags_say = cpu_has_bf16_flags() if cpu_flags() else None
    votes = [v for v in (torch_says, flags_say) if v is not None]
    return bool(votes) and all(votes)


def auto_precision(device: torch.device) -> str:
    """The name of the precision ``auto`` picks on ``device`` (see the module docstring)."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "mps":
        return "fp16"
    if device.type == "cpu" and cpu_bf16_is_fast():
        return "bf16"
    return "fp32"


def resolve_precision(name: str, device: torch.device) -> Precision:
    """The :class:`Precision` for ``name`` (``auto``, ``fp32``, ``bf16``, ``fp16``) on ``device``.

    An explicit reduced precision is honoured where the device can compute it; on a CPU without native
    bfloat16 it runs (emulated, much slower) with a warning.

    Raises:
        ConfigError: unknown name. DeviceError: the device cannot compute that precision (bfloat16 on a CUDA
            GPU without bfloat16 support, bfloat16 on MPS).
    """
    name = str(name).strip().lower()
    if name not in PRECISIONS:
        raise ConfigError(f"unknown precision {name!r}; use one of {', '.join(PRECISIONS)}")
    if name == "auto":
        name = auto_precision(device)
        log.info("precision auto -> %s on %s", name, device)
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise DeviceError("this GPU cannot compute bfloat16: use precision fp16, fp32 or auto")
    if name == "bf16" and device.type == "mps":
        raise DeviceError("bfloat16 is not used on Apple GPUs: use precision fp16, fp32 or auto")
    if name != "fp32" and device.type == "cpu" and not (name == "bf16" and cpu_bf16_is_fast()):
        log.warning(
            "precision %s on a CPU without native support is emulated and much slower than fp32", name
        )
    return Precision(name, None if name == "fp32" else DTYPES[name])
