"""The paper-mode baseline (Adam on the reference parametrisation), on tiny cases with few iterations."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core.align import global_align
from core.align.paper_mode import quaternion_to_rotation
from core.config import AlignConfig
from core.errors import Cancelled
from core.predictions import predictions_from_pairwise
from tests import synthetic


@pytest.fixture(scope="module")
def exact_case():
    return synthetic.make_case("orbit", n=3, noise=0, size=(64, 48), seed=6)


def test_quaternion_to_rotation_is_a_rotation():
    q = torch.tensor([[0.3, -0.2, 0.5, 0.8], [0.0, 0.0, 0.0, 1.0]])
    R = quaternion_to_rotation(q).double()
    np.testing.assert_allclose((R @ R.transpose(1, 2)).numpy(), np.stack([np.eye(3)] * 2), atol=1e-6)
    np.testing.assert_allclose(torch.linalg.det(R).numpy(), [1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(R[1].numpy(), np.eye(3), atol=1e-7)


def test_paper_mode_starts_exact_and_stays_accurate(exact_case):
    result = global_align(predictions_from_pairwise(exact_case), AlignConfig(method="paper", niter=20))
    assert len(result.loss_history) == 20
    assert result.loss_history[0] < 1e-5  # our spanning-tree init is exact, so is the first loss
    est = {"cam2world": result.world_from_cam, "focals": result.focals, "pts3d": np.stack(result.pts3d)}
    m = synthetic.evaluate(exact_case, est, max_points=5000)
    assert m["ate"] < 5e-3 and m["focal_err_max"] < 1e-2


def test_paper_mode_keeps_known_focal_and_pose(exact_case):
    pose = exact_case["cam2world"][1]
    config = AlignConfig(
        method="paper", niter=10, known_focals=(None, 40.0, None), known_poses=(None, pose, None)
    )
    result = global_align(predictions_from_pairwise(exact_case), config)
    assert result.focals[1] == pytest.approx(40.0, rel=1e-6)
    np.testing.assert_allclose(result.world_from_cam[1], pose, atol=1e-6)


def test_paper_mode_cancel_stops_within_one_iteration(exact_case):
    cancel = threading.Event()
    seen: list[str] = []

    def progress(stage: str, fraction: float) -> None:
        if stage.startswith("Aligning "):
            seen.append(stage)
            cancel.set()

    with pytest.raises(Cancelled):
        global_align(
            predictions_from_pairwise(exact_case),
            AlignConfig(method="paper", niter=50),
            progress=progress,
            cancel=cancel,
        )
    assert seen == ["Aligning 1/50"]
