"""Retrieval and auto scene graphs: pair choice, connectivity, descriptors, encode-choose-decode order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.align.graph import connected_components
from core.config import InferenceConfig
from core.errors import ConfigError
from core.graphs.photos import (
    AUTO_COMPLETE_MAX,
    count_pairs,
    make_pairs,
    needs_similarity,
    resolve_graph,
    retrieval_k,
    retrieval_pairs,
)
from core.graphs.retrieval import (
    descriptors_from_pooled,
    global_descriptors,
    pooled_descriptor,
    similarity_matrix,
)
from core.inference.scene import infer_scene
from core.model.configs import get_config
from core.model.dust3r import build_model

CPU = InferenceConfig(device="cpu", precision="fp32", batch_size=4)


def _two_clusters(n: int = 10, seed: int = 0) -> np.ndarray:
    """Similarities of two groups of photos (0..n/2-1 and the rest) that look alike only within a group."""
    rng = np.random.default_rng(seed)
    sim = rng.uniform(0.0, 0.1, (n, n))
    half = n // 2
    sim[:half, :half] += 0.8
    sim[half:, half:] += 0.8
    sim[0, half] = sim[half, 0] = 0.5  # the one bridge between the groups
    return (sim + sim.T) / 2


def test_each_image_gets_its_k_most_similar_and_the_graph_stays_connected() -> None:
    sim = _two_clusters()
    pairs = retrieval_pairs(sim, k=2)
    assert pairs == sorted(set(pairs)) and all(i < j for i, j in pairs)
    for i in range(10):
        others = np.argsort(-np.where(np.arange(10) == i, -np.inf, sim[i]))[:2]
        for j in others:
            assert (min(i, j), max(i, j)) in pairs
    assert (0, 5) in pairs  # the bridge: added by the maximum spanning tree, not by any top-2 list
    assert len(set(connected_components(np.array(pairs), 10).tolist())) == 1


def test_spanning_tree_connects_groups_with_no_similarity_at_all() -> None:
    sim = np.zeros((6, 6))
    sim[:3, :3] = sim[3:, 3:] = 1.0
    sim[:3, 3:] = sim[3:, :3] = np.nan  # NaN counts as least similar
    pairs = retrieval_pairs(sim, k=1)
    assert len(set(connected_components(np.array(pairs), 6).tolist())) == 1


def test_retrieval_graph_needs_similarities_and_is_symmetrised() -> None:
    with pytest.raises(ConfigError, match="similarity"):
        make_pairs(5, "retrieval-2")
    with pytest.raises(ConfigError, match="similarity must be"):
        make_pairs(5, "retrieval-2", similarity=np.eye(4))
    with pytest.raises(ConfigError, match="at least 1"):
        make_pairs(5, "retrieval-0", similarity=np.eye(5))
    pairs = make_pairs(10, "retrieval-2", similarity=_two_clusters())
    half = len(pairs) // 2
    assert pairs[half:] == [(j, i) for i, j in pairs[:half]]
    assert make_pairs(1, "retrieval-3") == [(0, 0)]
    assert retrieval_k("retrieval") == 10 and retrieval_k("swin-3") is None


def test_wider_partners_are_added_from_the_next_ranks() -> None:
    n = 40
    order = np.arange(n)
    sim = -np.abs(order[:, None] - order[None, :]).astype(float)  # photos along a line: neighbours alike
    near = retrieval_pairs(sim, 2)
    wide = retrieval_pairs(sim, 2, extra=2)
    assert set(near) < set(wide) and len(wide) <= n * 4
    assert max(j - i for i, j in near) == 2  # a chain: nothing beyond the 2 nearest
    assert 2 < max(j - i for i, j in wide) <= 12  # ranks up to 3 (2 + 2) (an end photo: rank = distance)
    assert count_pairs(n, "retrieval-2-2") >= 2 * len(wide)
    pairs = make_pairs(n, "retrieval-2-2", similarity=sim)
    assert sorted(pairs[: len(pairs) // 2]) == wide


def test_retrieval_with_k_of_all_others_is_the_complete_graph() -> None:
    sim = np.random.default_rng(1).uniform(size=(5, 5))
    assert sorted(make_pairs(5, "retrieval-4", similarity=sim)) == sorted(make_pairs(5, "complete"))


def test_auto_is_complete_for_few_photos_a_window_for_footage_and_retrieval_beyond() -> None:
    assert resolve_graph(AUTO_COMPLETE_MAX, "auto") == "complete"
    assert resolve_graph(AUTO_COMPLETE_MAX + 1, "auto") == "retrieval-5-5"
    assert resolve_graph(AUTO_COMPLETE_MAX + 1, "auto", sequence=True) == "swin-5-noncyclic"
    assert resolve_graph(50, " Swin-3 ") == "swin-3"
    assert make_pairs(4, "auto") == make_pairs(4, "complete")
    assert not needs_similarity(AUTO_COMPLETE_MAX, "auto") and needs_similarity(AUTO_COMPLETE_MAX + 1, "auto")
    assert not needs_similarity(30, "auto", sequence=True)


@pytest.mark.parametrize("n", [3, 12, 40])
def test_count_pairs_is_exact_for_fixed_graphs_and_an_upper_bound_for_retrieval(n: int) -> None:
    for graph in ("complete", "swin-2", "logwin-3", "oneref-1"):
        assert count_pairs(n, graph) == len(make_pairs(n, graph))
    sim = np.random.default_rng(n).normal(size=(n, n))
    for k in (1, 3, 10):
        actual = len(make_pairs(n, f"retrieval-{k}", similarity=sim))
        assert actual <= count_pairs(n, f"retrieval-{k}") <= n * (n - 1)
    with pytest.raises(ConfigError):
        count_pairs(n, "star-3")


def test_descriptors_are_unit_pooled_centred_and_equal_for_equal_images() -> None:
    gen = torch.Generator().manual_seed(0)
    tokens = [torch.randn(1, 12, 8, generator=gen) for _ in range(3)]
    tokens.append(tokens[0].clone() * 3.0)  # the same image at another feature scale
    tokens.append(torch.randn(1, 20, 8, generator=gen))  # another size (e.g. portrait)
    desc = global_descriptors(tokens)
    assert desc.shape == (5, 8) and desc.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(desc, axis=1), 1.0, rtol=1e-5)
    sim = similarity_matrix(desc)
    assert sim[0, 3] == pytest.approx(1.0, abs=1e-5)
    assert np.all(sim[0, [1, 2, 4]] < 0.999)
    np.testing.assert_allclose(sim, sim.T)


def test_one_descriptor_for_photos_and_footage_frames_ignores_what_all_share() -> None:
    """The footage graph's old expectations, on the one descriptor (numpy tokens, float64 from pooled)."""
    rng = np.random.default_rng(1)
    tokens = rng.normal(size=(5, 30, 16)) + 10.0  # a large component common to every frame
    desc = descriptors_from_pooled(np.stack([pooled_descriptor(t) for t in tokens]))
    np.testing.assert_allclose(np.linalg.norm(desc, axis=1), 1.0)
    np.testing.assert_allclose(global_descriptors(list(tokens)), desc, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        pooled_descriptor(torch.from_numpy(tokens[0][None])), pooled_descriptor(tokens[0]), rtol=1e-5
    )
    pooled = rng.normal(size=(6, 16))
    shifted = descriptors_from_pooled(pooled + rng.normal(size=16) * 5)  # what every frame shares drops out
    np.testing.assert_allclose(shifted, descriptors_from_pooled(pooled), atol=1e-12)
    with pytest.raises(ValueError):
        pooled_descriptor(tokens[0][0])


class _Recorder(torch.nn.Module):
    """The tiny random network, logging the order of encode and decode calls."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = build_model(get_config("tiny_linear"))
        self.events: list[str] = []

    def encode(self, img):
        self.events.append(f"encode {img.shape[0]}")
        return self.net.encode(img)

    def decode(self, enc1, enc2):
        self.events.append(f"decode {enc1.tokens.shape[0]}")
        return self.net.decode(enc1, enc2)


def test_infer_scene_encodes_each_photo_once_then_chooses_then_decodes() -> None:
    model = _Recorder()
    gen = torch.Generator().manual_seed(3)
    images = [torch.rand(1, 3, 32, 32, generator=gen) * 2 - 1 for _ in range(6)]
    received, chosen = [], []

    def before(pairs):
        chosen.append(list(pairs))
        model.events.append("chosen")

    done = infer_scene(model, images, "retrieval-1", CPU, received.append, before_decode=before)
    first_decode = model.events.index("chosen")
    assert sum(int(e.split()[1]) for e in model.events[:first_decode]) == 6  # every photo encoded once
    assert all(e.startswith("decode") for e in model.events[first_decode + 1 :])
    assert done.graph == "retrieval-1" and done.descriptors.shape == (6, 64)
    assert chosen == [done.pairs] and [(p.i, p.j) for p in received] == done.pairs
    edges = np.array(done.pairs)
    assert len(set(connected_components(edges, 6).tolist())) == 1
    assert set(done.pairs) == {(j, i) for i, j in done.pairs}


def test_infer_scene_with_a_fixed_graph_uses_the_graphs_pairs() -> None:
    model = _Recorder()
    images = [torch.zeros(1, 3, 32, 32) for _ in range(4)]
    received = []
    done = infer_scene(model, images, "swin-1-noncyclic", CPU, received.append)
    assert done.pairs == make_pairs(4, "swin-1-noncyclic") and done.descriptors is None
    assert len(received) == 6 and done.precision == "fp32"
