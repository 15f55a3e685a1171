"""The PyTorch installer, run for real with pip against a local wheel folder (no index, no internet)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from core import torch_setup
from core.errors import Cancelled, DependencyError
from core.torch_setup import TorchBuild
from tests.packaging_support import DUMMY_DIST, DUMMY_MODULE, build_dummy_wheel, isolated_pip_env

NVIDIA_SMI_SAMPLE = """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 550.54.14              Driver Version: 550.54.14      CUDA Version: 12.4     |
|-----------------------------------------+------------------------+----------------------+
"""


@pytest.fixture
def isolated_sys_path(monkeypatch):
    """Tests that activate site folders must not leak them into the rest of the session."""
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_install_from_local_wheel_folder_then_detect(tmp_path: Path, isolated_sys_path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_dummy_wheel(wheels)
    target = tmp_path / "site"
    assert not torch_setup.torch_status(target, DUMMY_MODULE).installed

    lines: list[str] = []
    stages: list[tuple[str, float]] = []
    build = TorchBuild("test", f"{DUMMY_DIST}==1.0", None)
    status = torch_setup.install_torch(
        target,
        progress=lambda s, f: stages.append((s, f)),
        on_line=lines.append,
        build=build,
        extra_args=["--no-index", "--find-links", str(wheels)],
        env=isolated_pip_env(),
        module=DUMMY_MODULE,
    )
    assert status.installed and status.version == "1.0"
    assert Path(status.location).parent == target
    assert str(target) in sys.path
    assert any("Successfully installed" in line for line in lines)
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    module = __import__(DUMMY_MODULE)
    assert module.__version__ == "1.0"
    sys.modules.pop(DUMMY_MODULE, None)


def test_pip_failure_is_a_dependency_error_with_pip_output(tmp_path: Path, isolated_sys_path) -> None:
    build = TorchBuild("test", f"{DUMMY_DIST}==9.9", None)
    with pytest.raises(DependencyError, match="pip exited with code") as info:
        torch_setup.install_torch(
            tmp_path / "site",
            build=build,
            extra_args=["--no-index", "--find-links", str(tmp_path)],
            env=isolated_pip_env(),
            module=DUMMY_MODULE,
        )
    assert "No matching distribution" in str(info.value) or "Could not find" in str(info.value)


def test_run_streaming_cancel_stops_a_silent_process() -> None:
    cancel = threading.Event()
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        cancel.set()

    started = time.monotonic()
    with pytest.raises(Cancelled):
        torch_setup.run_streaming(
            [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"],
            on_line,
            cancel,
        )
    assert seen == ["started"]
    assert time.monotonic() - started < 15


def test_run_streaming_returns_code_and_lines() -> None:
    code, lines = torch_setup.run_streaming(
        [sys.executable, "-c", "print('a'); print('b'); raise SystemExit(3)"]
    )
    assert (code, lines) == (3, ["a", "b"])


def test_parse_nvidia_smi() -> None:
    assert torch_setup.parse_nvidia_smi(NVIDIA_SMI_SAMPLE) == (12, 4)
    assert torch_setup.parse_nvidia_smi("NVIDIA-SMI has failed") is None


@pytest.mark.parametrize(
    ("system", "machine", "cuda", "label", "index_tail"),
    [
        ("Linux", "x86_64", (13, 1), "NVIDIA CUDA 13.0", "/cu130"),
        ("Windows", "AMD64", (12, 9), "NVIDIA CUDA 12.8", "/cu128"),
        ("Linux", "x86_64", (12, 6), "NVIDIA CUDA 12.6", "/cu126"),
        ("Linux", "x86_64", (11, 4), "CPU", "/cpu"),
        ("Darwin", "arm64", None, "macOS (Metal)", None),
        ("Darwin", "x86_64", None, "macOS Intel (CPU)", None),
    ],
)
def test_choose_torch_build(system, machine, cuda, label, index_tail) -> None:
    build = torch_setup.choose_torch_build(system, machine, cuda)
    assert build.label == label
    if index_tail is None:
        assert build.index_url is None
    else:
        assert build.index_url.endswith(index_tail)
    if cuda == (11, 4):
        assert "update the driver" in build.notes[0]


def test_choose_cpu_without_driver(monkeypatch) -> None:
    monkeypatch.setattr(torch_setup.shutil, "which", lambda name: None)
    build = torch_setup.choose_torch_build("Linux", "x86_64")
    assert build.label == "CPU" and build.index_url.endswith("/cpu")


def test_pip_command_uses_target_and_index(tmp_path: Path) -> None:
    build = TorchBuild("CPU", "torch>=2.4", "https://example.invalid/whl/cpu")
    cmd = torch_setup.pip_install_command(tmp_path, build, python="/blender/python")
    assert cmd[:4] == ["/blender/python", "-m", "pip", "install"]
    assert cmd[cmd.index("--target") + 1] == str(tmp_path)
    assert cmd[cmd.index("--index-url") + 1] == build.index_url
    assert cmd[-1] == "torch>=2.4"


def test_torch_status_finds_a_module_in_an_activated_folder(tmp_path: Path, isolated_sys_path) -> None:
    (tmp_path / "dust3r_probe_pkg").mkdir()
    (tmp_path / "dust3r_probe_pkg" / "__init__.py").write_text("")
    assert not torch_setup.torch_status(None, "dust3r_probe_pkg").installed
    status = torch_setup.torch_status(tmp_path, "dust3r_probe_pkg")
    assert status.installed and status.version is None
    assert torch_setup.activate_site_dir(tmp_path) is False  # already on sys.path: not added twice


def test_environment_overrides_index_and_requirement() -> None:
    build = TorchBuild("CPU", "torch>=2.4", "https://example.invalid/whl/cpu")
    assert torch_setup.apply_environment_overrides(build, {}) is build
    mirror = torch_setup.apply_environment_overrides(
        build, {"DUST3R_TORCH_INDEX_URL": "https://mirror.invalid/t"}
    )
    assert mirror.index_url == "https://mirror.invalid/t" and mirror.requirement == "torch>=2.4"
    default = torch_setup.apply_environment_overrides(
        build, {"DUST3R_TORCH_INDEX_URL": "default", "DUST3R_TORCH_REQUIREMENT": "torch==2.13.0"}
    )
    assert default.index_url is None and default.requirement == "torch==2.13.0"
