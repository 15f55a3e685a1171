"""``python -m core align``: round trip with the synthetic case layout (synthgen's, tests.synthetic) and its metrics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli import EXIT_USER_ERROR, main
from tests import synthetic

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def case_path(tmp_path_factory) -> tuple[Path, dict]:
    case = synthetic.make_case("room", n=4, noise=0, size=(64, 48), seed=7)
    path = tmp_path_factory.mktemp("align") / "case.npz"
    synthetic.save_case(case, path)
    return path, synthetic.load_case(path)


def test_align_round_trip_is_scored_by_the_synthetic_metrics(case_path, tmp_path, capsys):
    path, case = case_path
    out = tmp_path / "est.npz"
    assert main(["align", "--input", str(path), "--output", str(out)]) == 0
    assert "aligned 4 views" in capsys.readouterr().out
    with np.load(out) as z:
        est = {k: z[k] for k in z.files}
    assert est["cam2world"].shape == (4, 4, 4) and est["pts3d"].shape == (4, 48, 64, 3)
    assert est["conf"].shape == est["depth"].shape == (4, 48, 64)
    metrics = synthetic.evaluate(case, est, max_points=5000)
    assert metrics["ate"] < 1e-4 and metrics["focal_err_max"] < 1e-4


def test_align_options_reach_the_solver(case_path, tmp_path):
    path, _ = case_path
    out = tmp_path / "est.npz"
    argv = [
        "align",
        "--input",
        str(path),
        "--output",
        str(out),
        "--shared-focal",
        "--niter",
        "3",
        "--min-conf",
        "2",
    ]
    assert main(argv + ["--method", "paper", "--focal-mode", "median"]) == 0
    with np.load(out) as z:
        assert len(z["loss_history"]) == 3
        assert np.all(z["focals"] == z["focals"][0])


def test_align_user_errors_exit_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, edges=np.zeros((1, 2), np.int32))
    assert main(["align", "--input", str(bad), "--output", str(tmp_path / "e.npz")]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "pred_i" in err and "\n" not in err
    missing = tmp_path / "missing.npz"
    assert main(["align", "--input", str(missing), "--output", str(tmp_path / "e.npz")]) == EXIT_USER_ERROR


def test_align_help_runs_as_a_module():
    proc = subprocess.run(
        [sys.executable, "-m", "core", "align", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    for option in (
        "--input",
        "--output",
        "--niter",
        "--focal-mode",
        "--method",
        "--min-conf",
        "--shared-focal",
    ):
        assert option in proc.stdout
