"""The set-up operators in real Blender: online-access refusal, a checkpoint download, a PyTorch install.

Network use is loopback only: the download comes from a 127.0.0.1 server and "PyTorch" is a dummy wheel
installed by pip from a local folder (``--no-index``).
"""

from __future__ import annotations

import functools
import sys
import threading
from pathlib import Path

import pytest

from tests.packaging_support import (
    DUMMY_DIST,
    DUMMY_MODULE,
    build_dummy_wheel,
    isolated_pip_env,
    loopback_server,
)

bpy = pytest.importorskip("bpy")

pytestmark = pytest.mark.blender

PAYLOAD = b"not really a model" * 1000


@pytest.fixture
def online():
    """Blender's "Allow Online Access" on for the test (it is off in factory settings)."""
    bpy.context.preferences.system.use_online_access = True
    assert bpy.app.online_access
    yield
    bpy.context.preferences.system.use_online_access = False


def _preferences(addon):
    return bpy.context.preferences.addons[addon.module_name].preferences


def test_setup_operators_and_state_are_registered(addon) -> None:
    for name in ("install_torch", "download_checkpoint", "cancel_setup"):
        assert getattr(bpy.ops.dust3r, name).get_rna_type().identifier
    state = bpy.context.window_manager.dust3r_setup
    assert state.running is False and state.log == ""


@pytest.mark.parametrize("operator", ["install_torch", "download_checkpoint"])
def test_refuses_when_online_access_is_disabled(addon, tmp_path: Path, operator: str) -> None:
    bpy.context.preferences.system.use_online_access = False
    assert not bpy.app.online_access
    call = getattr(bpy.ops.dust3r, operator)
    kwargs = {"target": str(tmp_path)} if operator == "install_torch" else {"directory": str(tmp_path)}
    with pytest.raises(RuntimeError, match="Online access is disabled"):
        call(**kwargs)
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_list_matches_the_core_registry(addon) -> None:
    registry = addon.submodule("core.io.checkpoints").OFFICIAL_CHECKPOINTS
    items = addon.submodule("operators.download_checkpoint").CHECKPOINT_ITEMS
    assert [item[0] for item in items] == list(registry)


def test_download_checkpoint_sets_the_preference(addon, online, tmp_path: Path, monkeypatch) -> None:
    checkpoints = addon.submodule("core.io.checkpoints")
    name = checkpoints.DEFAULT_CHECKPOINT
    files = {
        f"/naver/{name}/resolve/main/config.json": b"{}",
        f"/naver/{name}/resolve/main/model.safetensors": PAYLOAD,
    }
    with loopback_server(files) as (base, _):
        monkeypatch.setattr(checkpoints, "HUGGING_FACE_BASE", base)
        result = bpy.ops.dust3r.download_checkpoint(checkpoint_name=name, directory=str(tmp_path))
    assert result == {"FINISHED"}
    assert (tmp_path / name / "model.safetensors").read_bytes() == PAYLOAD
    assert Path(_preferences(addon).checkpoint) == tmp_path / name
    state = bpy.context.window_manager.dust3r_setup
    assert not state.running and not state.failed and state.progress == pytest.approx(1.0)
    assert "Downloading" in state.log


def test_download_failure_is_reported_and_keeps_the_preference(addon, online, tmp_path, monkeypatch) -> None:
    checkpoints = addon.submodule("core.io.checkpoints")
    _preferences(addon).checkpoint = "/previous/checkpoint"
    with loopback_server({}) as (base, _):
        monkeypatch.setattr(checkpoints, "HUGGING_FACE_BASE", base)
        with pytest.raises(RuntimeError, match="HTTP 404"):
            bpy.ops.dust3r.download_checkpoint(directory=str(tmp_path))
    assert _preferences(addon).checkpoint == "/previous/checkpoint"
    assert bpy.context.window_manager.dust3r_setup.failed


def test_install_torch_runs_pip_and_activates_the_folder(addon, online, tmp_path, monkeypatch) -> None:
    torch_setup = addon.submodule("core.torch_setup")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_dummy_wheel(wheels)
    monkeypatch.setattr(sys, "path", list(sys.path))
    fake_install = functools.partial(
        torch_setup.install_torch,
        build=torch_setup.TorchBuild("test", f"{DUMMY_DIST}==1.0", None),
        extra_args=["--no-index", "--find-links", str(wheels)],
        env=isolated_pip_env(),
        module=DUMMY_MODULE,
    )
    monkeypatch.setattr(torch_setup, "install_torch", fake_install)
    target = tmp_path / "site"
    assert bpy.ops.dust3r.install_torch(target=str(target)) == {"FINISHED"}
    state = bpy.context.window_manager.dust3r_setup
    assert "is ready" in state.message and not state.failed
    assert "Successfully installed" in state.log
    assert str(target) in sys.path and (target / DUMMY_MODULE / "__init__.py").is_file()


def test_background_task_reports_through_the_timer_and_can_be_cancelled(addon) -> None:
    """The interactive path: worker thread + timer. Timers never fire headless, so call the timer by hand."""
    setup = addon.submodule("jobs.setup")
    tasks = addon.submodule("jobs.tasks")
    errors = addon.submodule("core.errors")
    started = threading.Event()

    def work(progress, cancel, on_line):
        on_line("first line")
        progress("Working", 0.5)
        started.set()
        while not cancel.wait(0.01):
            pass
        raise errors.Cancelled("Stopped by the test.")

    task = setup.new_task("Test task", work, lambda result: "done")
    tasks.start(tasks.SETUP, task)  # what setup.start() does before registering the timer
    try:
        assert started.wait(10)
        assert tasks.is_running(tasks.SETUP) and bpy.ops.dust3r.cancel_setup.poll()
        assert setup.poll_timer() == setup.POLL_INTERVAL_S  # still running: poll again later
        state = bpy.context.window_manager.dust3r_setup
        assert state.stage == "Working" and state.progress == pytest.approx(0.5) and state.log == "first line"
        assert bpy.ops.dust3r.cancel_setup() == {"FINISHED"}
        assert task.join(10)
        assert setup.poll_timer() is None  # done: the timer stops
    finally:
        tasks.cancel(tasks.SETUP, join=True)
    assert not tasks.is_running(tasks.SETUP)
    assert state.failed and state.message == "Stopped by the test."


class _RecordingLayout:
    """Stands in for UILayout (panels cannot draw headless): records calls, checks operator names."""

    def __init__(self, calls: list) -> None:
        self.calls = calls
        self.scale_y = 1.0

    def row(self, **_kwargs):
        return self

    def column(self, **_kwargs):
        return self

    def label(self, *, text: str = "", icon: str = "NONE") -> None:
        assert icon in bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys()
        self.calls.append(("label", text))

    def progress(self, *, factor: float, type: str, text: str) -> None:
        assert type in bpy.types.UILayout.bl_rna.functions["progress"].parameters["type"].enum_items.keys()
        self.calls.append(("progress", factor, text))

    def operator(self, idname: str, **_kwargs) -> None:
        module, name = idname.split(".")
        getattr(getattr(bpy.ops, module), name).get_rna_type()  # raises for a typo
        self.calls.append(("operator", idname))


def test_draw_setup_status_shows_progress_log_and_cancel(addon) -> None:
    preferences = addon.submodule("panels.preferences")
    state = bpy.context.window_manager.dust3r_setup
    state.running, state.task, state.stage, state.progress = True, "Installing PyTorch", "Downloading", 0.25
    state.log = "Collecting torch\nDownloading torch-2.5.1.whl"
    calls: list = []
    preferences.draw_setup_status(_RecordingLayout(calls), bpy.context)
    assert calls[0][0] == "label" and calls[0][1].startswith("PyTorch")
    assert ("progress", 0.25, "Installing PyTorch: Downloading") in calls
    assert ("operator", "dust3r.cancel_setup") in calls
    assert ("label", "Downloading torch-2.5.1.whl") in calls
    state.running, state.failed, state.message = False, True, "pip exited with code 1"
    calls.clear()
    preferences.draw_setup_status(_RecordingLayout(calls), bpy.context)
    assert ("label", "pip exited with code 1") in calls and not any(c[0] == "progress" for c in calls)
