"""Input validation, spanning tree and initialisation of the global alignment."""

from __future__ import annotations

import numpy as np
import pytest

from core.align import global_align
from core.align.graph import build_pair_graph, maximum_spanning_tree
from core.align.init import initialize_mst
from core.config import AlignConfig
from core.errors import AlignmentError
from core.predictions import PairPrediction, predictions_from_pairwise
from tests import synthetic


@pytest.fixture(scope="module")
def exact_case():
    return synthetic.make_case("orbit", n=4, noise=0, size=(64, 48), seed=3)


def _replace(pred: PairPrediction, **changes) -> PairPrediction:
    fields = {k: getattr(pred, k) for k in ("i", "j", "pts3d_i", "conf_i", "pts3d_j", "conf_j")}
    return PairPrediction(**{**fields, **changes})


def test_disconnected_graph_names_the_cut_views(exact_case):
    preds = [p for p in predictions_from_pairwise(exact_case) if {p.i, p.j} in ({0, 1}, {2, 3})]
    with pytest.raises(AlignmentError, match=r"not connected.*\[2, 3\]"):
        global_align(preds, AlignConfig())


def test_nan_in_predictions_is_rejected(exact_case):
    preds = predictions_from_pairwise(exact_case)
    bad = preds[2].pts3d_j.copy()
    bad[5, 7, 1] = np.nan
    preds[2] = _replace(preds[2], pts3d_j=bad)
    with pytest.raises(AlignmentError, match="NaN or inf"):
        global_align(preds, AlignConfig())


def test_all_confidences_below_threshold_are_rejected(exact_case):
    preds = [_replace(p, conf_i=np.full_like(p.conf_i, 2.0)) for p in predictions_from_pairwise(exact_case)]
    with pytest.raises(AlignmentError, match="confidence above"):
        global_align(preds, AlignConfig(min_conf=3.0))


def test_single_view_is_rejected(exact_case):
    p = predictions_from_pairwise(exact_case)[0]
    single = PairPrediction(0, 0, p.pts3d_i, p.conf_i, p.pts3d_i, p.conf_i)
    with pytest.raises(AlignmentError, match="align_single_view"):
        global_align([single], AlignConfig())
    with pytest.raises(AlignmentError, match="no image pair"):
        global_align([], AlignConfig())


def test_inconsistent_shapes_are_rejected(exact_case):
    preds = predictions_from_pairwise(exact_case)
    preds[1] = _replace(preds[1], pts3d_j=preds[1].pts3d_j[:-2], conf_j=preds[1].conf_j[:-2])
    with pytest.raises(AlignmentError, match="size"):
        global_align(preds, AlignConfig())


def test_prior_lengths_are_checked(exact_case):
    with pytest.raises(AlignmentError, match="known_focals has 2 entries for 4 views"):
        global_align(predictions_from_pairwise(exact_case), AlignConfig(known_focals=(50.0, None)))


def test_spanning_tree_covers_every_view_parent_first(exact_case):
    graph = build_pair_graph(predictions_from_pairwise(exact_case), 3.0)
    root, tree = maximum_spanning_tree(graph)
    assert len(tree) == graph.num_views - 1
    placed = {root}
    for parent, child in tree:
        assert parent in placed and child not in placed
        placed.add(child)
    assert placed == set(range(graph.num_views))


def test_init_is_exact_and_uses_each_views_own_pointmap(exact_case):
    preds = predictions_from_pairwise(exact_case)
    graph = build_pair_graph(preds, 3.0)
    init = initialize_mst(preds, graph, AlignConfig())
    # focal of each view from its OWN pointmap: exact on noise-free predictions (different focals per view)
    np.testing.assert_allclose(init.focals, exact_case["focals"], rtol=1e-5)
    est = {
        "cam2world": init.world_from_cam,
        "focals": init.focals,
        "pts3d": np.stack([init.world_points(v, preds) for v in range(graph.num_views)]),
    }
    metrics = synthetic.evaluate(exact_case, est, max_points=5000)
    assert metrics["ate"] < 1e-5
    assert metrics["rot_err_mean"] < 1e-3
