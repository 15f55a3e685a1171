"""The memory guard: refuse a run that cannot fit, and turn out-of-memory failures into one typed error.

Torch-free (torch's exception types are looked up only when torch is already imported), so the Blender side
and the command line can use it before anything heavy is loaded.
"""

from __future__ import annotations

import logging
import sys

from ..errors import ResourceError
from .hardware import MemoryInfo, available_memory
from .memory import RunEstimate, format_bytes

logger = logging.getLogger(__name__)

MEMORY_ADVICE = (
    "use fewer photos or a smaller scene graph (e.g. --graph retrieval-3-3 or swin-3), image size 224, "
    "or a machine with more memory"
)
GPU_MEMORY_ADVICE = (
    "use a smaller batch size (--batch-size 1), precision fp16/bf16, fewer photos or a smaller scene "
    "graph, or the CPU (slower, but not limited by GPU memory)"
)
# Messages of allocation failures: torch's CPU allocator, CUDA, MPS, the C library.
_OOM_TEXTS = ("out of memory", "can't allocate memory", "cannot allocate memory", "defaultcpuallocator")
# Leave this much of the available RAM free (other programs, the file cache, estimate errors).
RAM_MARGIN = 0.10


def is_out_of_memory(exc: BaseException) -> bool:
    """True for an allocation failure: ``MemoryError``, torch's ``OutOfMemoryError``, or a RuntimeError
    whose message is one of the allocators' out-of-memory messages."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")
    oom_type = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and any(text in str(exc).lower() for text in _OOM_TEXTS)


class memory_errors:
    """Re-raise out-of-memory failures inside the block as :class:`ResourceError` with ``advice``.

    The original exception is kept as ``__context__`` for logs, but without its traceback: the frames that
    hold the big arrays are released, so the memory is free again when the caller sees the error.
    """

    def __init__(self, what: str, advice: str = MEMORY_ADVICE, on_gpu: bool = False) -> None:
        self.what, self.advice, self.on_gpu = what, advice, on_gpu

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or isinstance(exc, ResourceError) or not is_out_of_memory(exc):
            return False
        first_line = str(exc).splitlines()[0][:200] if str(exc) else ""
        logger.info("out of memory while %s (%s: %s)", self.what, exc_type.__name__, first_line)
        exc.__traceback__ = None
        where = "the GPU" if self.on_gpu else "the computer"
        raise ResourceError(f"{where} ran out of memory while {self.what}; {self.advice}") from None


def check_fits(
    estimate: RunEstimate, memory: MemoryInfo | None = None, resident_bytes: int | None = None
) -> None:
    """Refuse ``estimate`` when its peak RAM (or VRAM) exceeds what the machine has left.

    Args:
        estimate: from :func:`core.resources.memory.estimate_run`.
        memory: the machine's memory (default: :func:`~core.resources.hardware.available_memory`).
        resident_bytes: the part of the estimated peak that this process already holds (default:
            ``estimate.resident_bytes``: torch's runtime once imported, and a model the caller keeps); only
            the rest must still be available. What else the process holds (Blender and its scene) is
            already missing from the available memory.

    Raises:
        ResourceError: the run does not fit; the message states the estimate and what to change.
    """
    memory = memory or available_memory()
    resident = estimate.resident_bytes if resident_bytes is None else resident_bytes
    if memory.available_bytes is not None:
        needed = max(estimate.peak_ram_bytes - resident, 0)
        usable = int(memory.available_bytes * (1 - RAM_MARGIN))
        if needed > usable:
            raise ResourceError(
                f"this run ({estimate.num_photos} photos, {estimate.num_pairs:,} pairs) needs about "
                f"{format_bytes(estimate.peak_ram_bytes)} of RAM ({estimate.breakdown()}) but only "
                f"{format_bytes(memory.available_bytes)} are free: {estimate.advice}",
                estimate,
            )
    else:
        logger.info("free memory unknown here; not checking the estimate (%s)", estimate.summary())
    if estimate.peak_vram_bytes and estimate.available_vram_bytes is not None:
        if estimate.peak_vram_bytes > int(estimate.available_vram_bytes * 0.95):
            raise ResourceError(
                f"this run needs about {format_bytes(estimate.peak_vram_bytes)} of GPU memory but only "
                f"{format_bytes(estimate.available_vram_bytes)} are free: {GPU_MEMORY_ADVICE}",
                estimate,
            )
