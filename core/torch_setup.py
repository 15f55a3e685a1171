"""Find or install PyTorch for Blender's own Python (no bpy, no torch imports here).

PyTorch is too large to bundle in the extension and must match the user's GPU, so the add-on installs it on
request with pip, into a folder of the extension's user directory (``--target``), and puts that folder on
``sys.path``. This module decides WHICH build to install and runs pip:

* an NVIDIA driver is present -> the newest CUDA build of PyTorch's own wheel index that the driver supports
  (``nvidia-smi`` reports the highest CUDA version the driver can run);
* macOS -> the default build (Metal/MPS on Apple silicon);
* otherwise -> the CPU build index (the default Linux build would pull in gigabytes of CUDA libraries).

Only torch is installed: no torchvision, no timm (see the README, "Why no timm/torchvision").
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import os
import platform
import queue
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Cancelled, DependencyError
from .progress import ProgressFn, no_progress

log = logging.getLogger(__name__)

LineFn = Callable[[str], None]

# PyTorch's own wheel indexes: one per CUDA version, one for CPU-only builds.
TORCH_INDEX_BASE = "https://download.pytorch.org/whl"
# The torch releases we accept; macOS on Intel gets the last release built for it.
TORCH_REQUIREMENT = "torch>=2.4"
TORCH_REQUIREMENT_MACOS_X64 = "torch==2.2.2"
# CUDA builds published for the accepted torch releases, newest first: (index tag, CUDA version it needs).
# Update together with TORCH_REQUIREMENT when PyTorch drops or adds a CUDA version.
CUDA_BUILDS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("cu130", (13, 0)),
    ("cu128", (12, 8)),
    ("cu126", (12, 6)),
)
# Overrides for mirrors, offline wheel folders and CI: an index URL ("default": pip's own configuration)
# and a requirement (e.g. "torch==2.5.1").
ENV_INDEX_URL = "DUST3R_TORCH_INDEX_URL"
ENV_REQUIREMENT = "DUST3R_TORCH_REQUIREMENT"
_NVIDIA_SMI_CUDA = re.compile(r"CUDA Version\s*:\s*(\d+)\.(\d+)")
_STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class TorchBuild:
    """What to install: a label for the user, the pip requirement and the index (``None``: pip's default)."""

    label: str
    requirement: str
    index_url: str | None
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class TorchStatus:
    """Whether ``module`` (torch) is importable, its installed version, and where it was found."""

    installed: bool
    version: str | None = None
    location: str | None = None


def require_torch() -> None:
    """Raise :class:`~core.errors.DependencyError` (saying how to install it) when torch cannot be imported."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise DependencyError(
            "PyTorch is not installed for this Python. In Blender, open Preferences > Add-ons > DUSt3R and "
            "press 'Install PyTorch'; from the command line, run: pip install torch"
        ) from exc


def site_packages_subdir() -> str:
    """Name of the user folder that holds pip-installed packages, per Python version (``python3.11``)."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def activate_site_dir(site_dir: Path | str) -> bool:
    """Append ``site_dir`` to ``sys.path`` (Blender's own packages keep precedence); True if added."""
    path = str(Path(site_dir))
    if path in sys.path:
        return False
    sys.path.append(path)
    importlib.invalidate_caches()
    return True


def torch_status(site_dir: Path | str | None = None, module: str = "torch") -> TorchStatus:
    """Detect ``module`` without importing it, after putting ``site_dir`` (if any) on ``sys.path``."""
    if site_dir is not None and Path(site_dir).is_dir():
        activate_site_dir(site_dir)
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(module)
    if spec is None:
        return TorchStatus(installed=False)
    try:
        version = importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        version = None
    location = str(Path(spec.origin).parent) if spec.origin else None
    return TorchStatus(installed=True, version=version, location=location)


def detect_cuda_driver_version(timeout: float = 10.0) -> tuple[int, int] | None:
    """The highest CUDA version the NVIDIA driver supports, from ``nvidia-smi``; None without a driver."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("nvidia-smi failed: %s", exc)
        return None
    return parse_nvidia_smi(out.stdout)


def parse_nvidia_smi(text: str) -> tuple[int, int] | None:
    """Parse ``CUDA Version: 12.4`` from the header of ``nvidia-smi``'s output."""
    match = _NVIDIA_SMI_CUDA.search(text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def choose_torch_build(
    system: str | None = None, machine: str | None = None, cuda: tuple[int, int] | None = None
) -> TorchBuild:
    """Pick the torch build for this machine (pure: pass the facts, or leave None to detect them)."""
    system = system or platform.system()
    machine = (machine or platform.machine()).lower()
    if system == "Darwin":
        if machine in ("x86_64", "amd64"):
            return TorchBuild(
                "macOS Intel (CPU)",
                TORCH_REQUIREMENT_MACOS_X64,
                None,
                ("PyTorch stopped publishing builds for Intel Macs after 2.2.",),
            )
        return TorchBuild("macOS (Metal)", TORCH_REQUIREMENT, None)
    cpu = TorchBuild("CPU", TORCH_REQUIREMENT, f"{TORCH_INDEX_BASE}/cpu")
    if cuda is None and system in ("Linux", "Windows"):
        cuda = detect_cuda_driver_version()
    if cuda is None:
        return cpu
    for tag, needed in CUDA_BUILDS:
        if cuda >= needed:
            label = f"NVIDIA CUDA {needed[0]}.{needed[1]}"
            return TorchBuild(label, TORCH_REQUIREMENT, f"{TORCH_INDEX_BASE}/{tag}")
    oldest = CUDA_BUILDS[-1][1]
    note = (
        f"The NVIDIA driver supports CUDA {cuda[0]}.{cuda[1]} only; PyTorch needs {oldest[0]}.{oldest[1]} "
        "or newer. Installing the CPU build: update the driver for GPU speed."
    )
    return TorchBuild(cpu.label, cpu.requirement, cpu.index_url, (note,))


def apply_environment_overrides(build: TorchBuild, environ: dict[str, str] | None = None) -> TorchBuild:
    """``build`` with the index / requirement replaced by ``DUST3R_TORCH_INDEX_URL`` / ``..._REQUIREMENT``."""
    environ = dict(os.environ) if environ is None else environ
    index = environ.get(ENV_INDEX_URL, "").strip()
    requirement = environ.get(ENV_REQUIREMENT, "").strip()
    if not index and not requirement:
        return build
    index_url = build.index_url if not index else (None if index == "default" else index)
    return TorchBuild(
        f"{build.label}, as configured", requirement or build.requirement, index_url, build.notes
    )


def pip_install_command(
    target: Path | str,
    build: TorchBuild,
    python: str | None = None,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The pip command line that installs ``build`` into ``target`` with Blender's Python."""
    cmd = [python or sys.executable, "-m", "pip", "install", "--target", str(target), "--upgrade"]
    cmd += ["--only-binary=:all:", "--no-input", "--progress-bar", "off", "--disable-pip-version-check"]
    cmd += ["--no-warn-script-location"]
    if build.index_url:
        cmd += ["--index-url", build.index_url]
    cmd += [*extra_args, build.requirement]
    return cmd


def run_streaming(
    cmd: Sequence[str],
    on_line: LineFn | None = None,
    cancel: threading.Event | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, list[str]]:
    """Run ``cmd``, passing each output line (stdout + stderr) to ``on_line``; returns (code, lines).

    ``cancel`` is polled while the process runs (also while it prints nothing); when set, the process is
    terminated (then killed) and :class:`~core.errors.Cancelled` is raised.
    """
    try:
        proc = subprocess.Popen(
            list(cmd),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            bufsize=1,
            env=env,
        )
    except OSError as exc:
        raise DependencyError(f"Cannot start {cmd[0]}: {exc.strerror or exc}.") from exc
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc, lines), daemon=True)
    reader.start()
    collected: list[str] = []
    while True:
        if cancel is not None and cancel.is_set():
            _stop(proc)
            reader.join(timeout=_STOP_TIMEOUT_S)
            raise Cancelled("Installation cancelled; nothing usable was installed.")
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        if line is None:
            break
        collected.append(line)
        if on_line is not None:
            on_line(line)
    reader.join(timeout=_STOP_TIMEOUT_S)
    return proc.wait(), collected


def _pump(proc: subprocess.Popen, lines: queue.Queue) -> None:
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            lines.put(raw.rstrip("\r\n"))
    lines.put(None)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=_STOP_TIMEOUT_S)


# pip's output lines that mark progress through an install, with the fraction reached at each.
_PIP_STAGES = (
    ("Looking in indexes", 0.02, "Contacting the package index"),
    ("Collecting", 0.05, "Resolving packages"),
    ("Downloading", 0.10, "Downloading"),
    ("Installing collected packages", 0.80, "Installing"),
    ("Successfully installed", 0.98, "Installed"),
)


def _pip_stage(line: str) -> tuple[float, str] | None:
    stripped = line.strip()
    for prefix, fraction, label in _PIP_STAGES:
        if stripped.startswith(prefix):
            return fraction, label
    return None


def ensure_pip(python: str | None = None, on_line: LineFn | None = None, env: dict | None = None) -> None:
    """Make sure ``python -m pip`` works, bootstrapping it with ``ensurepip`` if needed."""
    python = python or sys.executable
    code, _ = run_streaming([python, "-m", "pip", "--version"], None, None, env)
    if code == 0:
        return
    code, lines = run_streaming([python, "-m", "ensurepip", "--upgrade"], on_line, None, env)
    if code != 0:
        raise DependencyError(
            "Blender's Python has no pip and ensurepip failed (is Blender installed in a read-only folder?). "
            "Last output: " + " | ".join(lines[-3:])
        )


def install_torch(
    target: Path | str,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    on_line: LineFn | None = None,
    *,
    build: TorchBuild | None = None,
    python: str | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    module: str = "torch",
) -> TorchStatus:
    """Install ``build`` (default: :func:`choose_torch_build`) into ``target`` and make it importable.

    ``on_line`` receives pip's output line by line; ``progress`` coarse stages. ``env`` defaults to
    :func:`subprocess_env_without_user_site`. Raises
    :class:`~core.errors.DependencyError` with pip's last lines when pip fails, and
    :class:`~core.errors.Cancelled` when ``cancel`` is set (pip is stopped).
    """
    progress = progress or no_progress
    env = env if env is not None else subprocess_env_without_user_site()
    target = Path(target)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DependencyError(f"Cannot create {target}: {exc.strerror or exc}.") from exc
    build = build or apply_environment_overrides(choose_torch_build())
    progress(f"Installing PyTorch ({build.label})", 0.0)
    for note in build.notes:
        if on_line is not None:
            on_line(note)
    ensure_pip(python, on_line, env)
    cmd = pip_install_command(target, build, python, extra_args)
    log.info("running %s", " ".join(cmd))
    reached = [0.0]

    def each_line(line: str) -> None:
        if on_line is not None:
            on_line(line)
        stage = _pip_stage(line)
        if stage is not None and stage[0] > reached[0]:
            reached[0] = stage[0]
            progress(stage[1], stage[0])

    code, lines = run_streaming(cmd, each_line, cancel, env)
    if code != 0:
        tail = "\n".join(line for line in lines[-8:] if line.strip())
        raise DependencyError(
            f"Installing PyTorch ({build.label}) failed: pip exited with code {code}. "
            f"Check the internet connection and free disk space, then try again.\n{tail}"
        )
    activate_site_dir(target)
    status = torch_status(target, module)
    if not status.installed:
        raise DependencyError(f"pip finished but {module} is still not importable from {target}.")
    progress(f"PyTorch {status.version} installed" if status.version else "PyTorch installed", 1.0)
    return status


def subprocess_env_without_user_site() -> dict[str, str]:
    """The current environment, minus what would make pip look at the user's own Python setup."""
    env = dict(os.environ)
    env["PYTHONNOUSERSITE"] = "1"
    env.pop("PYTHONPATH", None)
    return env
