"""The memory model, the guard and the out-of-memory mapping (core/resources)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.config import InferenceConfig
from core.errors import DeviceError, ResourceError
from core.model.configs import MODEL_CONFIGS, get_config
from core.resources import hardware
from core.resources.guard import check_fits, is_out_of_memory, memory_errors
from core.resources.hardware import MemoryInfo
from core.resources.memory import (
    Machine,
    RunEstimate,
    estimate_run,
    format_bytes,
    format_seconds,
    net_size,
)
from core.resources.network_cost import (
    decode_activation_bytes,
    decode_flops,
    encode_flops,
    network_batch_bytes,
    parameter_count,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PHOTO = (4032, 3024)  # a 4:3 phone photo
DPT = "DUSt3R_ViTLarge_BaseDecoder_512_dpt"


@pytest.mark.parametrize("name", sorted(MODEL_CONFIGS))
def test_parameter_count_matches_the_built_network(name: str) -> None:
    from core.model.dust3r import build_model

    model = build_model(get_config(name), device="meta")
    assert parameter_count(get_config(name)) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["tiny_linear", "tiny_dpt"])
def test_flops_match_torchs_flop_counter(name: str) -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    from core.model.dust3r import build_model

    mapping = {}
    if hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"):
        mapping[torch.ops.aten._scaled_dot_product_flash_attention_for_cpu] = (
            lambda q, k, v, *a, out_shape=None, **kw: sdpa_flop_count(q, k, v)
        )
    config = get_config(name)
    model = build_model(config).eval()
    img = torch.zeros(1, 3, 64, 96)
    with torch.inference_mode():
        with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
            enc = model.encode(img)
        assert counter.get_total_flops() == encode_flops(config, (64, 96))
        with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
            model.decode(enc, enc)
        assert counter.get_total_flops() == decode_flops(config, (64, 96))


@pytest.mark.parametrize("photo", [(4032, 3024), (3024, 4032), (1920, 1080), (640, 640), (500, 333)])
def test_net_size_matches_the_image_loader(photo) -> None:
    from core.inference.images import plan_crop

    for size in (512, 224):
        w2, h2 = plan_crop(photo, size).crop.net_size
        assert net_size(photo, size) == (h2, w2)


def _inference(precision: str, storage: str = "auto") -> InferenceConfig:
    return InferenceConfig(precision=precision, pair_storage=storage)


def test_estimate_grows_with_the_pairs_and_the_disk_store_saves_ram() -> None:
    small = estimate_run([PHOTO] * 20, 380, DPT, _inference("fp32", "ram"), device="cpu")
    large = estimate_run([PHOTO] * 20, 3800, DPT, _inference("fp32", "ram"), device="cpu")
    on_disk = estimate_run([PHOTO] * 20, 3800, DPT, _inference("fp32", "disk"), device="cpu")
    assert small.peak_ram_bytes < large.peak_ram_bytes
    assert on_disk.peak_ram_bytes < large.peak_ram_bytes and on_disk.disk_bytes == 16 * 384 * 512 * 3800
    assert large.components["pair predictions"] == 16 * 384 * 512 * 3800
    assert small.components["model"] == 4 * 571_171_208
    assert small.explanation.startswith("380 pairs, about ") and "on this CPU" in small.explanation
    assert small.seconds_estimate > 0 and small.num_photos == 20 and small.peak_vram_bytes == 0


def test_estimate_knows_the_pairs_of_each_view() -> None:
    star = [(0, j) for j in range(1, 30)] + [(j, 0) for j in range(1, 30)]
    spread = [(i, (i + 1) % 30) for i in range(30)] + [((i + 1) % 30, i) for i in range(30)]
    a = estimate_run([PHOTO] * 30, star, DPT, _inference("fp32", "ram"), device="cpu")
    b = estimate_run([PHOTO] * 30, spread, DPT, _inference("fp32", "ram"), device="cpu")
    assert a.phase_bytes["depth maps"] > b.phase_bytes["depth maps"]  # view 0 holds 58 of the pairs


def test_precision_device_and_model_enter_the_estimate() -> None:
    fp32 = estimate_run([PHOTO] * 10, 90, DPT, _inference("fp32"), device="cpu")
    bf16 = estimate_run([PHOTO] * 10, 90, DPT, _inference("bf16"), device="cpu")
    assert bf16.components["encoder cache"] * 2 == pytest.approx(fp32.components["encoder cache"], rel=0.01)
    gpu = estimate_run(
        [PHOTO] * 10,
        90,
        DPT,
        _inference("auto"),
        device="cuda",
        machine=Machine(available_vram_bytes=8 * 10**9, gpu_tflops=50),
    )
    assert (
        gpu.precision == "bf16" and gpu.peak_vram_bytes > 4 * 571_171_208 and "on the GPU" in gpu.explanation
    )
    small_model = estimate_run(
        [PHOTO] * 10, 90, "DUSt3R_ViTLarge_BaseDecoder_224_linear", _inference("fp32"), device="cpu"
    )
    assert small_model.peak_ram_bytes < fp32.peak_ram_bytes
    assert (
        estimate_run(
            [PHOTO] * 10, 90, None, InferenceConfig(image_size=512, precision="fp32"), device="cpu"
        ).peak_ram_bytes
        == fp32.peak_ram_bytes
    )
    with pytest.raises(ValueError):
        estimate_run([], 0)


def test_network_batch_grows_with_the_batch() -> None:
    config = get_config(DPT)
    one = network_batch_bytes(config, (384, 512), "fp32", 1)
    assert network_batch_bytes(config, (384, 512), "fp32", 4) > 2 * one
    assert one == pytest.approx(1.25 * decode_activation_bytes(config, (384, 512), "fp32"))
    assert network_batch_bytes(config, (384, 512), "bf16", 1) < one


def test_formatting() -> None:
    assert format_bytes(3.2e9) == "3.2 GB" and format_bytes(850e6) == "850 MB"
    assert format_seconds(40) == "40 s" and format_seconds(25 * 60) == "25 min"
    assert format_seconds(3.5 * 3600) == "3.5 h" and format_seconds(float("nan")) == "unknown time"


def _estimate(peak_gb: float, vram_gb: float = 0.0, free_vram_gb: float | None = None) -> RunEstimate:
    return RunEstimate(int(peak_gb * 1e9), int(vram_gb * 1e9), 60.0, "x", 50, 2450, "fp32", "cpu", "ram", 0,
                       "alignment", {"pair predictions": int(peak_gb * 0.8e9), "model": int(peak_gb * 0.2e9)},
                       advice="use --graph retrieval-5 (up to 600 pairs)",
                       available_vram_bytes=None if free_vram_gb is None else int(free_vram_gb * 1e9))  # fmt: skip


def test_guard_refuses_what_does_not_fit_and_says_what_to_change() -> None:
    with pytest.raises(ResourceError) as info:
        check_fits(_estimate(20.0), MemoryInfo(32 * 10**9, 8 * 10**9, "test"), resident_bytes=0)
    message = str(info.value)
    assert "20.0 GB" in message and "8.0 GB" in message and "2,450 pairs" in message
    assert "pair predictions 16.0 GB" in message and "retrieval-5" in message
    assert isinstance(info.value, DeviceError) and info.value.estimate.num_pairs == 2450
    check_fits(_estimate(5.0), MemoryInfo(32 * 10**9, 8 * 10**9, "test"), resident_bytes=0)
    check_fits(_estimate(9.0), MemoryInfo(32 * 10**9, 8 * 10**9, "test"), resident_bytes=2 * 10**9)
    check_fits(_estimate(500.0), MemoryInfo(None, None, "unknown"), resident_bytes=0)  # unknown: no refusal
    with pytest.raises(ResourceError, match="GPU memory"):
        check_fits(_estimate(1.0, vram_gb=30, free_vram_gb=16), MemoryInfo(None, 10**12, "t"), 0)


def test_out_of_memory_detection() -> None:
    import torch

    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1")
    )
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_memory_errors_maps_and_releases_the_frames() -> None:
    with pytest.raises(ResourceError, match="ran out of memory while aligning") as info:
        with memory_errors("aligning"):
            big = np.zeros(10)  # noqa: F841 (a local that the traceback would keep alive)
            raise MemoryError()
    assert info.value.__context__.__traceback__ is None
    with pytest.raises(KeyError), memory_errors("anything"):
        raise KeyError("not memory")


def test_available_memory_reads_meminfo_and_the_cgroup_limit(tmp_path: Path, monkeypatch) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n"
    )
    cgroup = tmp_path / "cg"
    cgroup.mkdir()
    monkeypatch.setattr(hardware, "_MEMINFO", meminfo)
    monkeypatch.setattr(hardware, "_CGROUP_V2", cgroup)
    monkeypatch.setattr(hardware, "_CGROUP_V1", tmp_path / "none")
    monkeypatch.setattr(hardware, "_last", None)
    monkeypatch.setattr(hardware.sys, "platform", "linux")
    info = hardware.available_memory()
    assert (info.total_bytes, info.available_bytes) == (16_000_000 * 1024, 8_000_000 * 1024)
    (cgroup / "memory.max").write_text("4000000000\n")
    (cgroup / "memory.current").write_text("1000000000\n")
    monkeypatch.setattr(hardware, "_last", None)
    info = hardware.available_memory()
    assert (info.total_bytes, info.available_bytes, info.source) == (4_000_000_000, 3_000_000_000, "cgroup")


def test_this_machine_reports_its_memory() -> None:
    info = hardware.available_memory()
    if sys.platform.startswith("linux"):
        assert info.total_bytes > 0 and 0 < info.available_bytes <= info.total_bytes
    assert hardware.current_rss_bytes() > 0


def test_memory_model_is_torch_free_and_fast() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); from core.resources.memory import estimate_run; "
        "e = estimate_run([(4032, 3024)] * 20, 380, None, device='cpu'); "
        "assert 'torch' not in sys.modules, 'torch imported'; print(e.explanation)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("380 pairs, about ")
