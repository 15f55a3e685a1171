"""``benchmarks/bench_gpu.py`` is ready to run: it refuses cleanly without CUDA and its code path works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "benchmarks" / "bench_gpu.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600)  # fmt: skip


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the refusal cannot happen")
def test_refuses_without_cuda_in_one_line() -> None:
    proc = _run()
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no CUDA GPU")


def test_the_benchmark_code_runs_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "gpu.md"
    proc = _run("--allow-cpu", "--photos", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in out.read_text().splitlines() if line.startswith("| tiny")]
    assert [row.split("|")[2].strip() for row in rows] == ["fp32", "bf16", "fp16"] * 2
    fp32 = rows[0].split("|")
    assert fp32[6].strip() == "1.00x" and fp32[11].strip() == "0.00e+00"  # the reference agrees with itself
