"""Precision: what ``auto`` picks per device and CPU, explicit choices, and what autocast changes."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from core.config import InferenceConfig
from core.errors import ConfigError, DeviceError
from core.inference import precision as precision_module
from core.inference.precision import auto_precision, cpu_bf16_is_fast, resolve_precision
from core.inference.predictor import predict_pairs
from core.model.configs import get_config
from core.model.dust3r import build_model
from core.resources import hardware

CPU = torch.device("cpu")


def _fake_cpu(monkeypatch, capability: str, probes: dict | None, flags: set[str]) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        if probes is None:
            monkeypatch.delattr(torch.cpu, name, raising=False)
        else:
            value = bool(probes.get(name, False))
            monkeypatch.setattr(torch.cpu, name, lambda value=value: value, raising=False)
    monkeypatch.setattr(precision_module, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setattr(
        precision_module, "cpu_has_bf16_flags", lambda: bool(flags & {"amx_bf16", "avx512_bf16"})
    )


@pytest.mark.parametrize(
    ("capability", "probes", "flags", "fast"),
    [
        ("AVX2", {"_is_amx_tile_supported": True}, {"amx_bf16"}, False),  # torch would not use AVX-512
        ("AVX512", {"_is_amx_tile_supported": True}, {"avx512f", "amx_bf16", "amx_tile"}, True),
        ("AVX512", {"_is_avx512_bf16_supported": True}, {"avx512f", "avx512_bf16"}, True),
        ("AVX512", {}, {"avx512f"}, False),  # AVX-512 without BF16: float32 is faster
        ("AVX512", {"_is_amx_tile_supported": True}, set(), True),  # no /proc/cpuinfo: torch decides
        ("AVX512", None, {"avx512_bf16"}, True),  # older torch without probes: the flags decide
        ("AVX512", None, set(), False),  # nothing known: conservative
        ("AVX512", {"_is_amx_tile_supported": False}, {"amx_bf16"}, False),  # sources disagree
    ],
)
def test_cpu_bf16_detection(monkeypatch, capability, probes, flags, fast) -> None:
    _fake_cpu(monkeypatch, capability, probes, flags)
    assert cpu_bf16_is_fast() is fast
    assert auto_precision(CPU) == ("bf16" if fast else "fp32")
    assert resolve_precision("auto", CPU).autocast_dtype == (torch.bfloat16 if fast else None)


def test_this_machine_agrees_with_its_cpu_flags() -> None:
    """No mocks: on a CPU without AMX/AVX-512 BF16 flags, auto must stay in float32."""
    if not hardware.cpu_has_bf16_flags():
        assert auto_precision(CPU) == "fp32"
    else:
        assert auto_precision(CPU) in ("bf16", "fp32")


def test_gpu_choices(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert auto_precision(torch.device("cuda")) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert auto_precision(torch.device("cuda")) == "fp16"
    with pytest.raises(DeviceError, match="bfloat16"):
        resolve_precision("bf16", torch.device("cuda"))
    assert auto_precision(torch.device("mps")) == "fp16"
    with pytest.raises(DeviceError, match="Apple"):
        resolve_precision("bf16", torch.device("mps"))
    assert resolve_precision("fp16", torch.device("mps")).autocast_dtype == torch.float16


def test_explicit_names(monkeypatch, caplog) -> None:
    assert resolve_precision("fp32", CPU).autocast_dtype is None
    assert resolve_precision(" FP16 ", CPU).name == "fp16"
    with pytest.raises(ConfigError, match="precision"):
        resolve_precision("int8", CPU)
    with pytest.raises(ConfigError, match="precision"):
        InferenceConfig(precision="half")
    _fake_cpu(monkeypatch, "AVX2", {}, {"avx2"})
    with caplog.at_level(logging.WARNING):
        assert resolve_precision("bf16", CPU).autocast_dtype == torch.bfloat16
    assert "emulated" in caplog.text


class _DtypeSpy(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = build_model(get_config("tiny_dpt"))
        self.token_dtypes: list[torch.dtype] = []

    def encode(self, img):
        enc = self.net.encode(img)
        self.token_dtypes.append(enc.tokens.dtype)
        return enc

    def decode(self, enc1, enc2):
        return self.net.decode(enc1, enc2)


def test_bf16_runs_the_network_in_bf16_and_agrees_with_fp32() -> None:
    spy = _DtypeSpy()
    gen = torch.Generator().manual_seed(1)
    images = [torch.rand(1, 3, 64, 96, generator=gen) * 2 - 1 for _ in range(2)]
    pairs = [(0, 1), (1, 0)]
    fp32 = predict_pairs(spy, images, pairs, InferenceConfig(device="cpu", precision="fp32"))
    assert spy.token_dtypes == [torch.float32]
    bf16 = predict_pairs(spy, images, pairs, InferenceConfig(device="cpu", precision="bf16"))
    assert spy.token_dtypes[-1] == torch.bfloat16
    for a, b in zip(fp32, bf16, strict=True):
        assert b.pts3d_i.dtype == np.float32 and b.conf_i.dtype == np.float32
        rel = np.linalg.norm(b.pts3d_j - a.pts3d_j, axis=-1) / np.linalg.norm(a.pts3d_j, axis=-1)
        assert np.median(rel) < 0.05  # random tiny weights; the real figures are in bench_precision.py
        assert not np.array_equal(a.pts3d_j, b.pts3d_j)  # autocast really changed the computation
