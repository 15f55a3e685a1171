"""A shot at the alignment level: 48 reconstructed frames of synthetic footage and 8 held-out frames that
are localised against them (paper section 4.1). Noise 0: exact; noise 1: within bounds (figures logged)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from core.config import AlignConfig
from core.footage.align import align_shot
from core.footage.localise import Correspondences, default_inlier_px, localise_frame, pair_correspondences
from core.graphs.temporal import temporal_pairs
from core.jobs.refine import refine_shot
from core.predictions import PairPrediction
from tests.synthetic import alignment_estimate, evaluate, make_case, pose_fit

pytestmark = pytest.mark.slow
log = logging.getLogger(__name__)  # the noise-1 figures: pytest --log-cli-level=INFO
N_FRAMES = 56
HELD_OUT = tuple(range(3, N_FRAMES, 7))  # 8 frames, never at the ends
KEYS = tuple(k for k in range(N_FRAMES) if k not in HELD_OUT)  # 48 frames
SIZE = (96, 72)


def _graph() -> str:
    pairs = [(KEYS[a], KEYS[b]) for a, b in temporal_pairs(len(KEYS))]
    pairs += [(q, r) for q in HELD_OUT for r in (q - 1, q + 1)]
    return "pairs:" + ",".join(f"{a}-{b}" for a, b in pairs)


@pytest.fixture(scope="module", params=[("shot", 0.0), ("arc", 0.0), ("shot", 1.0), ("arc", 1.0)], ids=str)
def solved(request):
    """The case, the alignment of the 48 frames, and the localisation of the 8 held-out ones."""
    scene, noise = request.param
    case = make_case(scene, n=N_FRAMES, noise=noise, size=SIZE, seed=0, graph=_graph())
    slot = {k: s for s, k in enumerate(KEYS)}
    key_preds, query_preds = [], {}
    for e, (i, j) in enumerate(case["edges"].tolist()):
        arrays = dict(
            pts3d_i=case["pred_i"][e],
            conf_i=case["conf_i"][e],
            pts3d_j=case["pred_j"][e],
            conf_j=case["conf_j"][e],
        )
        if i in slot and j in slot:
            key_preds.append(PairPrediction(i=slot[i], j=slot[j], **arrays))
        elif i in HELD_OUT:
            query_preds.setdefault(i, []).append(PairPrediction(i=i, j=slot[j], **arrays))
    config = AlignConfig()
    aligned = refine_shot(align_shot(key_preds, len(KEYS), config), [], config).aligned
    K, pp = aligned.intrinsics()[0], aligned.principal_points[0]
    localised = {}
    for q, preds in query_preds.items():
        parts = [
            pair_correspondences(p, aligned.pts3d[p.j], aligned.conf[p.j], pp, config.min_conf) for p in preds
        ]
        localised[q] = localise_frame(Correspondences.concatenate(parts), K, default_inlier_px(SIZE))
    return scene, noise, case, aligned, localised


def _key_metrics(case, aligned) -> dict:
    keys = list(KEYS)
    per_view = ("images", "depth", "K", "focals", "cam2world", "obj_id", "dist")
    sub = {k: case[k][keys] for k in per_view}
    sub.update(scene_scale=case["scene_scale"], meta=case["meta"])
    return evaluate(sub, alignment_estimate(aligned), max_points=5000)


def _localised_errors(case, aligned, localised) -> tuple[np.ndarray, np.ndarray]:
    """Centre errors (/ scene scale) and rotation errors (degrees) of the held-out frames, in the frame of a
    Sim(3) fit of the 48 reconstructed cameras to the truth."""
    s, R, t = pose_fit(aligned.world_from_cam, case["cam2world"][list(KEYS)])
    centre, angle = [], []
    for q, loc in sorted(localised.items()):
        T, T_gt = loc.world_from_cam, case["cam2world"][q]
        centre.append(np.linalg.norm(s * R @ T[:3, 3] + t - T_gt[:3, 3]) / float(case["scene_scale"]))
        cos = (np.trace((R @ T[:3, :3]).T @ T_gt[:3, :3]) - 1) / 2
        angle.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.array(centre), np.array(angle)


def test_one_shared_focal_and_an_exact_or_bounded_trajectory(solved) -> None:
    scene, noise, case, aligned, _ = solved
    assert np.ptp(aligned.focals) == 0  # one lens for the shot
    m = _key_metrics(case, aligned)
    log.info("%s noise %g, 48 frames: %s", scene, noise, ", ".join(f"{k} {m[k]:.4g}" for k in (
        "ate", "jitter", "rot_step_err_deg", "reproj_px_median", "reproj_px_p95", "focal_err_mean")))  # fmt: skip
    if noise == 0:
        assert m["ate"] < 1e-6 and m["rot_step_err_deg"] < 1e-4 and m["jitter"] < 1e-6
        assert m["focal_err_max"] < 1e-6 and m["reproj_px_p95"] < 1e-3
    else:  # measured: ATE 0.01-0.02, rotation steps 0.6-0.7 deg (the refinement's job is the rest)
        assert m["ate"] < 0.05 and m["rot_step_err_deg"] < 1.5 and m["focal_err_mean"] < 0.02


def test_held_out_frames_are_localised_against_the_reconstruction(solved) -> None:
    scene, noise, case, aligned, localised = solved
    assert sorted(localised) == list(HELD_OUT) and all(loc is not None for loc in localised.values())
    centre, angle = _localised_errors(case, aligned, localised)
    inliers = np.mean([loc.num_inliers / loc.num_correspondences for loc in localised.values()])
    log.info(f"{scene} noise {noise:g}, 8 localised frames: centre error mean {centre.mean():.3g} "
             f"max {centre.max():.3g} (/ scene scale), rotation error mean {angle.mean():.3g} max "
             f"{angle.max():.3g} deg, inlier ratio {inliers:.2f}")  # fmt: skip
    assert all(loc.trusted for loc in localised.values())
    if noise == 0:
        assert centre.max() < 1e-5 and angle.max() < 1e-3
    else:
        assert centre.mean() < 0.1 and angle.mean() < 4.0
