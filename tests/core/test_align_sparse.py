"""The sparse alignment path (``AlignConfig.memory="sparse"``, core/align/sparse.py): accuracy against the dense
path, memory linear in the pairs and independent of the image size, its memory model, its options."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from core.align import global_align
from core.align.dense import dense_depths
from core.align.graph import build_pair_graph
from core.align.init import initialize_mst
from core.align.solver import fast_align
from core.align.sparse import anchor_pixels
from core.align.store import PairStore
from core.cli import EXIT_USER_ERROR, main
from core.config import AlignConfig, InferenceConfig
from core.errors import ConfigError
from core.predictions import predictions_from_pairwise
from core.progress import no_progress
from core.resources.memory import (
    ALLOCATOR_OVERHEAD,
    Machine,
    alignment_bytes,
    choose_alignment,
    estimate_run,
)
from tests import synthetic


def _metrics(case, result):
    return synthetic.evaluate(case, synthetic.alignment_estimate(result), max_points=5000)


@pytest.mark.parametrize(
    ("scene", "n", "size", "graph"),
    [("room", 5, (128, 96), "complete"), ("orbit", 6, (64, 48), "swin-2")],
)
def test_sparse_is_exact_on_noise_free_predictions(scene, n, size, graph):
    case = synthetic.make_case(scene, n=n, noise=0, size=size, seed=1, graph=graph)
    result = global_align(predictions_from_pairwise(case), AlignConfig(memory="sparse"))
    m = _metrics(case, result)
    assert m["ate"] < 1e-4 and m["focal_err_max"] < 1e-4 and m["rot_err_mean"] < 1e-2
    assert m["depth_absrel"] < 1e-4 and m["point_err_mean"] < 1e-4
    np.testing.assert_array_equal(result.world_from_cam[0], np.eye(4))
    assert [d.shape for d in result.depth] == [(size[1], size[0])] * n


@pytest.mark.parametrize("scene", ["orbit", "room"])
def test_sparse_is_as_accurate_as_dense_on_noisy_predictions(scene):
    case = synthetic.make_case(scene, n=8, noise=1, size=(128, 96), seed=0)
    preds = predictions_from_pairwise(case)
    dense = _metrics(case, global_align(preds, AlignConfig(memory="dense")))
    sparse = _metrics(case, global_align(preds, AlignConfig(memory="sparse")))
    assert sparse["ate"] <= 1.2 * dense["ate"]
    assert sparse["focal_err_mean"] <= 1.2 * dense["focal_err_mean"]
    assert sparse["depth_absrel"] <= 1.05 * dense["depth_absrel"]
    assert sparse["ate"] < 0.02 and sparse["rra15"] == 1.0


def test_anchors_take_the_most_confident_pixel_of_each_cell():
    conf = np.ones((8, 8), np.float32)
    conf[1, 2], conf[6, 5] = 10.0, 20.0  # one confident pixel in two of the four 4x4 cells
    np.testing.assert_array_equal(anchor_pixels(conf, 4, min_conf=3.0), [1 * 8 + 2, 6 * 8 + 5])
    assert len(anchor_pixels(np.full((96, 128), 10.0, np.float32), 256, 3.0)) <= 256


@pytest.mark.parametrize("on_disk", [False, True])
def test_store_reads_rows_of_a_map(on_disk):
    rng = np.random.default_rng(0)
    big = (rng.standard_normal((6, 5, 3)) * 1e5).astype(np.float32)  # stored with a power-of-two scale
    conf = rng.uniform(1, 9, (6, 5)).astype(np.float32)
    with PairStore(on_disk=on_disk) as store:
        store.add(predictions_from_pairwise(_pairwise(big, conf))[0])
        for which in range(4):
            whole = store.read_map(0, which)
            np.testing.assert_array_equal(store.read_map(0, which, (2, 5)), whole[2:5])
            np.testing.assert_array_equal(store[0].read_rows(which, 0, 1), whole[:1])


def _pairwise(pts, conf):
    return {
        "edges": np.array([[0, 1]]),
        "pred_i": pts[None],
        "pred_j": pts[None] + 1,
        "conf_i": conf[None],
        "conf_j": conf[None] + 1,
    }


def test_streamed_depth_maps_equal_the_whole_view_ones():
    case = synthetic.make_case("orbit", n=5, noise=1, size=(64, 48), seed=3)
    config = AlignConfig()
    with PairStore(on_disk=True) as store:
        for pred in predictions_from_pairwise(case):
            store.add(pred)
        graph = build_pair_graph(store, config.min_conf)
        init = initialize_mst(store, graph, config)
        cams, sims, _, delta = fast_align(store, graph, init, config, no_progress)
        whole = dense_depths(store, graph, cams, sims, config.min_conf, delta, no_progress)
        rows = dense_depths(store, graph, cams, sims, config.min_conf, delta, no_progress, block_bytes=1)
    for a, b in zip(whole[0] + whole[1], rows[0] + rows[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def _disk_store(n: int, size: tuple[int, int]):
    case = synthetic.make_case("orbit", n=n, noise=1, size=size, seed=0, graph="swin-2")
    store = PairStore(on_disk=True)
    for pred in predictions_from_pairwise(case):
        store.add(pred)
    return store


def _sparse_peak(n: int, size: tuple[int, int]) -> tuple[int, int, int]:
    """``(tracemalloc peak of a sparse alignment on a disk store, its output bytes, pairs)``."""
    with _disk_store(n, size) as store:
        tracemalloc.start()
        try:
            result = global_align(store, AlignConfig(memory="sparse"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        output = sum(
            d.nbytes + c.nbytes + p.nbytes
            for d, c, p in zip(result.depth, result.conf, result.pts3d, strict=True)
        )
        return peak, output, len(store)


@pytest.fixture(scope="module")
def sparse_peaks():
    return {(n, size): _sparse_peak(n, size) for n, size in [(12, (64, 48)), (24, (64, 48)), (48, (64, 48)),
                                                              (24, (128, 96))]}  # fmt: skip


def test_sparse_memory_grows_linearly_with_the_pairs(sparse_peaks):
    (p1, _, e1), (p2, _, e2), (p3, _, e3) = (sparse_peaks[(n, (64, 48))] for n in (12, 24, 48))
    assert e2 == 2 * e1 and e3 == 2 * e2
    assert 1.7 < (p3 - p2) / (p2 - p1) < 2.3  # linear (a quadratic part would give 4)
    assert p3 / p1 < 4.4


def test_sparse_memory_does_not_grow_with_the_image_size_but_for_the_output(sparse_peaks):
    small, _, _ = sparse_peaks[(24, (64, 48))]
    large, output, _ = sparse_peaks[(24, (128, 96))]  # 4x the pixels
    assert large <= 1.1 * small + output


def test_memory_model_estimates_the_sparse_path(sparse_peaks):
    for (n, (W, H)), (peak, _, pairs) in sparse_peaks.items():
        parts = alignment_bytes([(H, W)] * n, pairs, 4, "fast", sparse=True)
        estimate = ALLOCATOR_OVERHEAD * max(parts.values())
        assert peak <= estimate <= 1.6 * peak + 1e6 + 2 * 6 * 4 * 4 * H * W, (n, W, H, peak, parts)


def test_guard_chooses_and_estimates_the_sparse_path():
    photos, pairs = [(640, 480)] * 1000, 10_000  # 224x224 network images
    on_disk = InferenceConfig(image_size=224, pair_storage="disk")
    dense = estimate_run(photos, pairs, inference=on_disk, align=AlignConfig(memory="dense"))
    sparse = estimate_run(photos, pairs, inference=on_disk, align=AlignConfig(memory="sparse"))
    assert (dense.align_memory, sparse.align_memory) == ("dense", "sparse")
    saved = (
        alignment_bytes([(224, 224)] * 1000, pairs, 30, sparse=False)["alignment"]
        - alignment_bytes([(224, 224)] * 1000, pairs, 30, sparse=True)["alignment"]
    )
    assert saved > 3e9  # 256 anchors instead of 1,024 samples per view, 10,000 pairs
    assert dense.phase_bytes["alignment"] - sparse.phase_bytes["alignment"] == saved
    assert sparse.phase_bytes["depth maps"] < dense.phase_bytes["depth maps"]
    choices = {}
    for free_gb in (32, 12, 8):
        machine = Machine(available_ram_bytes=free_gb * 10**9)
        estimate = estimate_run(photos, pairs, inference=InferenceConfig(image_size=224), machine=machine)
        choices[free_gb] = (estimate.align_memory, estimate.storage)
        assert estimate.peak_ram_bytes <= free_gb * 10**9
    assert choices == {32: ("dense", "ram"), 12: ("dense", "disk"), 8: ("sparse", "disk")}
    sizes = [(96, 128)] * 1000
    assert choose_alignment(sizes, pairs, 30, available_bytes=None) == "dense"
    assert choose_alignment(sizes, pairs, 30, available_bytes=64 * 10**9) == "dense"
    assert choose_alignment(sizes, pairs, 30, available_bytes=2 * 10**9) == "sparse"


def test_alignment_memory_option_and_its_errors(tmp_path, capsys):
    with pytest.raises(ConfigError, match="alignment memory"):
        AlignConfig(memory="small")
    with pytest.raises(ConfigError, match="anchor pixels"):
        AlignConfig(anchor_pixels=4)
    case = synthetic.make_case("room", n=4, noise=0, size=(64, 48), seed=7)
    path, out = tmp_path / "case.npz", tmp_path / "est.npz"
    synthetic.save_case(case, path)
    assert main(["align", "--input", str(path), "--output", str(out), "--align-memory", "sparse"]) == 0
    with np.load(out) as z:
        assert synthetic.evaluate(case, {k: z[k] for k in z.files}, max_points=5000)["ate"] < 1e-4
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["align", "--input", str(path), "--output", str(out), "--align-memory", "tiny"])
    assert info.value.code == EXIT_USER_ERROR
    assert "--align-memory" in capsys.readouterr().err
