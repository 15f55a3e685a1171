"""Scene graphs: pair order of the reference and the pair sets of every graph."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.graphs.photos import make_pairs
from tests.reference_data import reference


def _unordered(pairs: list[tuple[int, int]]) -> set[frozenset[int]]:
    return {frozenset(p) for p in pairs}


def test_complete_three_images_in_reference_order() -> None:
    # ../shared/reference/README.md section 4
    assert make_pairs(3, "complete") == [(1, 0), (2, 0), (2, 1), (0, 1), (0, 2), (1, 2)]


def test_complete_order_matches_fixtures() -> None:
    results = reference().json("fixtures.json")["results"]
    for model, facts in results.items():
        expected = [tuple(p) for p in facts["all_pairs_in_inference_order"]]
        assert make_pairs(3, "complete") == expected, model


@pytest.mark.parametrize("n", [2, 4, 7])
def test_complete_covers_every_ordered_pair_once(n: int) -> None:
    pairs = make_pairs(n)
    assert len(pairs) == n * (n - 1) == len(set(pairs))
    assert all(i != j for i, j in pairs)
    assert make_pairs(n, symmetrize=False) == pairs[: len(pairs) // 2]


def test_single_image_pairs_with_itself() -> None:
    assert make_pairs(1) == [(0, 0)]
    assert make_pairs(1, "swin-3") == [(0, 0)]


def test_swin_cyclic_and_noncyclic() -> None:
    cyclic = make_pairs(6, "swin-2")
    expected = {frozenset((i, (i + d) % 6)) for i in range(6) for d in (1, 2)}
    assert _unordered(cyclic) == expected
    assert len(cyclic) == 2 * len(expected)
    half = len(cyclic) // 2
    assert cyclic[half:] == [(j, i) for i, j in cyclic[:half]]
    noncyclic = make_pairs(6, "swin-2-noncyclic")
    assert _unordered(noncyclic) == {frozenset((i, i + d)) for i in range(6) for d in (1, 2) if i + d < 6}
    assert make_pairs(6, "swin") == make_pairs(6, "swin-3")


def test_swin_larger_than_scene_has_no_self_pairs() -> None:
    pairs = make_pairs(3, "swin-5")
    assert all(i != j for i, j in pairs)
    assert _unordered(pairs) == _unordered(make_pairs(3, "complete"))


def test_logwin() -> None:
    n = 10
    cyclic = make_pairs(n, "logwin-3")
    expected = {frozenset((i, (i + s) % n)) for i in range(n) for s in (1, 2, 4)}
    assert _unordered(cyclic) == expected
    noncyclic = make_pairs(n, "logwin-3-noncyclic")
    assert _unordered(noncyclic) == {frozenset((i, i + s)) for i in range(n) for s in (1, 2, 4) if i + s < n}


def test_oneref() -> None:
    assert make_pairs(4, "oneref-2") == [(2, 0), (2, 1), (2, 3), (0, 2), (1, 2), (3, 2)]
    assert make_pairs(3, "oneref") == [(0, 1), (0, 2), (1, 0), (2, 0)]


@pytest.mark.parametrize("graph", ["bogus", "swin-x", "oneref-5", "swin-0", "complete-2", ""])
def test_bad_graphs_raise(graph: str) -> None:
    with pytest.raises(ConfigError):
        make_pairs(4, graph)


def test_no_images_raise() -> None:
    with pytest.raises(ConfigError):
        make_pairs(0)


@pytest.mark.parametrize(
    "graph", ["logwin-100000", "swin-100000", "logwin-100000-noncyclic", "swin-" + "9" * 5000]
)
def test_huge_windows_are_clamped_cheaply(graph: str) -> None:
    """A window larger than the scene is just ``complete``; it must not build 2^100000 (1.5 GB) first."""
    import tracemalloc

    tracemalloc.start()
    pairs = make_pairs(3, graph)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000, f"{peak} bytes for 3 photos"
    assert _unordered(pairs) == _unordered(make_pairs(3, "complete"))


def test_clamped_windows_give_the_same_pairs_as_the_full_rule() -> None:
    """The clamp changes no pair set: compare with the unclamped offsets, for every N up to 33."""
    from core.graphs.photos import _window_pairs

    for n in range(1, 34):
        for k in (1, 2, 3, 5, 6, 7, 40):
            for cyclic in (True, False):
                suffix = "" if cyclic else "-noncyclic"
                steps = [2**e for e in range(k)]
                full = _window_pairs(n, [-s for s in steps] + steps, cyclic)
                assert _unordered(make_pairs(n, f"logwin-{k}{suffix}")) == _unordered(full) or n == 1
                full = _window_pairs(n, list(range(1, k + 1)), cyclic)
                assert _unordered(make_pairs(n, f"swin-{k}{suffix}")) == _unordered(full) or n == 1


def test_a_huge_reference_index_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        make_pairs(3, "oneref-" + "9" * 5000)
