"""What the machine offers, without torch: free memory and the CPU's bfloat16 instructions.

Everything here is cheap (a few file reads, at most one short ``vm_stat`` call on macOS) so that a Blender
property-update callback may call it while the user edits settings.
"""

from __future__ import annotations

import ctypes
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

# CPU flags (Linux /proc/cpuinfo names) of instructions that compute bfloat16 matrix products natively.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
_MEMINFO = Path("/proc/meminfo")
_CGROUP_V2 = Path("/sys/fs/cgroup")
_CGROUP_V1 = Path("/sys/fs/cgroup/memory")
_CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class MemoryInfo:
    """Physical memory of the machine (or of the container limiting this process), in bytes.

    Attributes:
        total_bytes: installed memory (or the container's limit), None when unknown.
        available_bytes: what new allocations can take without swapping (Linux ``MemAvailable``, the
            container's limit minus its usage, Windows ``ullAvailPhys``, macOS free + inactive +
            purgeable pages); None when unknown.
        source: where the figures come from (for messages and logs).
    """

    total_bytes: int | None
    available_bytes: int | None
    source: str


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _linux_meminfo() -> MemoryInfo | None:
    try:
        lines = _MEMINFO.read_text().splitlines()
    except OSError:
        return None
    values = {}
    for line in lines:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name] = int(parts[0]) * 1024  # kB
    if "MemTotal" not in values:
        return None
    available = values.get("MemAvailable", values.get("MemFree"))
    return MemoryInfo(values["MemTotal"], available, "/proc/meminfo")


def _cgroup_limit() -> tuple[int, int] | None:
    """``(limit, usage)`` of this process's memory cgroup when it sets a limit, else None."""
    for limit_path, usage_path in (
        (_CGROUP_V2 / "memory.max", _CGROUP_V2 / "memory.current"),
        (_CGROUP_V1 / "memory.limit_in_bytes", _CGROUP_V1 / "memory.usage_in_bytes"),
    ):
        limit, usage = _read_int(limit_path), _read_int(usage_path)
        if limit is not None and usage is not None and limit < 1 << 60:  # "max" / huge = no limit
            return limit, usage
    return None


def _windows_memory() -> MemoryInfo | None:
    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [
            ("dwLength", ctypes.c_ulong),
            ("dwMemoryLoad", ctypes.c_ulong),
            ("ullTotalPhys", ctypes.c_ulonglong),
            ("ullAvailPhys", ctypes.c_ulonglong),
            ("ullTotalPageFile", ctypes.c_ulonglong),
            ("ullAvailPageFile", ctypes.c_ulonglong),
            ("ullTotalVirtual", ctypes.c_ulonglong),
            ("ullAvailVirtual", ctypes.c_ulonglong),
            ("ullAvailExtendedVirtual", ctypes.c_ulonglong),
        ]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return None
    return MemoryInfo(int(status.ullTotalPhys), int(status.ullAvailPhys), "GlobalMemoryStatusEx")


def _macos_memory() -> MemoryInfo | None:
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        total = None
    try:
        text = subprocess.run(["vm_stat"], capture_output=True, text=True, timeout=2, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return MemoryInfo(total, None, "sysconf") if total else None
    page = 4096
    pages = {}
    for line in text.splitlines():
        if "page size of" in line:
            page = int("".join(ch for ch in line.split("page size of")[1] if ch.isdigit()) or page)
        name, _, value = line.partition(":")
        value = value.strip().rstrip(".")
        if value.isdigit():
            pages[name.strip()] = int(value)
    free = sum(
        pages.get(k, 0) for k in ("Pages free", "Pages inactive", "Pages speculative", "Pages purgeable")
    )
    return MemoryInfo(total, free * page if pages else None, "vm_stat")


_last: tuple[float, MemoryInfo] | None = None


def available_memory() -> MemoryInfo:
    """Total and available RAM of this machine (or container), cached for two seconds.

    Never raises: fields are None where the platform does not tell.
    """
    global _last
    now = time.monotonic()
    if _last is not None and now - _last[0] < _CACHE_SECONDS:
        return _last[1]
    info: MemoryInfo | None = None
    try:
        if sys.platform.startswith("linux"):
            info = _linux_meminfo()
            limit = _cgroup_limit()
            if info is not None and limit is not None:
                cg_available = max(limit[0] - limit[1], 0)
                if info.available_bytes is None or cg_available < info.available_bytes:
                    info = MemoryInfo(min(limit[0], info.total_bytes or limit[0]), cg_available, "cgroup")
        elif sys.platform == "win32":
            info = _windows_memory()
        elif sys.platform == "darwin":
            info = _macos_memory()
    except (OSError, ValueError, AttributeError) as exc:  # unusual /proc contents, missing APIs
        logger.debug("cannot read the free memory: %s", exc)
    info = info or MemoryInfo(None, None, "unknown")
    _last = (now, info)
    return info


def current_rss_bytes() -> int:
    """Resident memory of this process now (Linux ``/proc/self/statm``), else its peak so far."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux
    except (ImportError, OSError):  # Windows has no resource module
        return 0


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (Linux); empty elsewhere or when unreadable."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_bf16_flags() -> bool:
    """True when ``/proc/cpuinfo`` lists AMX-BF16 or AVX-512 BF16 (Linux only; False where unknown)."""
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)
