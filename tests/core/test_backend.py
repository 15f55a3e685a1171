"""The backend seam (core/inference/backend.py) and the one network runner behind it (PairRunner).

The local backend gives exactly what ``predict_pairs`` gives; building a backend from a checkpoint path loads
nothing; a backend out of this process (here: one that hides its runner) serves ``infer_scene`` through
``run_pairs`` alone; the slot API that footage uses (encode once, descriptors, decode, forget) gives the same
numbers as the photo path (what ``footage/network.FrameNetwork`` promised before it merged into PairRunner).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core.config import InferenceConfig
from core.errors import Cancelled, CheckpointError, ConfigError
from core.graphs.photos import make_pairs
from core.graphs.retrieval import global_descriptors
from core.inference.backend import BACKENDS, LocalBackend, PairBackend, make_backend
from core.inference.predictor import predict_pairs
from core.inference.scene import infer_scene
from core.model.configs import get_config
from core.model.dust3r import build_model
from tests.pipeline_support import TINY_CHECKPOINT

CPU = InferenceConfig(device="cpu", precision="fp32", batch_size=3)


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(get_config("tiny_linear")).eval()


def _images(shapes: list[tuple[int, int]], seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(1, 3, h, w, generator=gen) * 2 - 1 for h, w in shapes]


def _by_pair(preds) -> dict:
    return {(p.i, p.j): p for p in preds}


def _assert_same(a, b) -> None:
    assert a.keys() == b.keys()
    for key in a:
        for name in ("pts3d_i", "conf_i", "pts3d_j", "conf_j"):
            np.testing.assert_allclose(getattr(a[key], name), getattr(b[key], name), rtol=1e-5, atol=1e-5)


def test_the_registry_is_literal_and_the_local_backend_is_a_pair_backend(net) -> None:
    assert BACKENDS["local"] is LocalBackend
    backend = make_backend("local", config=CPU, model=net)
    assert isinstance(backend, PairBackend) and backend.name == "local" and backend.config is CPU
    with pytest.raises(ConfigError, match="local"):  # the message names the known backends
        make_backend("nowhere", config=CPU, model=net)
    with pytest.raises(ConfigError):
        make_backend("local", config=CPU)  # neither a model nor a checkpoint
    with pytest.raises(ConfigError):
        make_backend("local", config=CPU, model=net, strategy="fastest")


def test_local_backend_gives_what_predict_pairs_gives_into_a_sink(net) -> None:
    images = _images([(32, 48)] * 3 + [(48, 32)] * 2)
    pairs = make_pairs(5)
    expected = _by_pair(predict_pairs(net, images, pairs, CPU))
    received, stages = [], []
    backend = make_backend("local", config=CPU, model=net)
    backend.run_pairs(images, pairs, received.append, progress=lambda s, f: stages.append((s, f)))
    assert len(received) == len(pairs)
    _assert_same(_by_pair(received), expected)
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert stages[0][0].startswith("Encoding") and stages[-1][0] == f"Pairs {len(pairs)}/{len(pairs)}"


def test_cancel_is_checked_between_batches(net) -> None:
    cancel = threading.Event()
    backend = make_backend("local", config=InferenceConfig(device="cpu", batch_size=1), model=net)
    seen = []

    def sink(pred) -> None:
        seen.append(pred)
        cancel.set()

    with pytest.raises(Cancelled):
        backend.run_pairs(_images([(32, 32)] * 3), make_pairs(3), sink, cancel=cancel)
    assert len(seen) == 1


def test_building_from_a_checkpoint_path_loads_nothing_until_it_runs(tmp_path) -> None:
    missing = make_backend("local", config=CPU, checkpoint=tmp_path / "nothing.pth")  # not read yet
    with pytest.raises(CheckpointError):
        missing.run_pairs(_images([(32, 32)] * 2), [(0, 1)], lambda _pred: None)
    with make_backend("local", config=CPU, checkpoint=TINY_CHECKPOINT) as backend:
        received = []
        backend.run_pairs(_images([(32, 32)] * 2), [(0, 1), (1, 0)], received.append)
        assert sorted((p.i, p.j) for p in received) == [(0, 1), (1, 0)]
        assert received[0].pts3d_i.shape == (32, 32, 3) and received[0].pts3d_i.dtype == np.float32
    assert backend._runner is None and backend._model is None  # closed: the weights it loaded are dropped


class _OutOfProcess:
    """A backend with no in-process runner (as a distributed one): only the protocol's methods."""

    name = "elsewhere"

    def __init__(self, net, with_descriptors: bool) -> None:
        self._local = LocalBackend(CPU, model=net)
        self.config = CPU
        self.calls: list[int] = []
        if with_descriptors:
            self.descriptors = self._descriptors

    def _descriptors(self, images, progress=None, cancel=None):
        runner = self._local.runner
        runner.encode_slots(range(len(images)), images, cancel=cancel)
        tokens = [runner.slots.tokens(k) for k in range(len(images))]
        runner.forget(range(len(images)))
        return global_descriptors(tokens)

    def run_pairs(self, images, pairs, sink, progress=None, cancel=None) -> None:
        self.calls.append(len(pairs))
        self._local.run_pairs(images, pairs, sink, progress, cancel)

    def close(self) -> None:
        self._local.close()


def test_infer_scene_serves_a_backend_out_of_this_process(net) -> None:
    images = _images([(32, 32)] * 6, seed=4)
    local, remote = [], []
    done_local = infer_scene(net, images, "swin-2", CPU, local.append)
    backend = _OutOfProcess(net, with_descriptors=False)
    assert isinstance(backend, PairBackend)
    done_remote = infer_scene(backend, images, "swin-2", CPU, remote.append)
    assert done_remote.pairs == done_local.pairs and backend.calls == [len(done_local.pairs)]
    _assert_same(_by_pair(remote), _by_pair(local))
    with pytest.raises(ConfigError, match="similarity"):
        infer_scene(backend, images, "retrieval-2", CPU, remote.append)
    by_similarity = infer_scene(
        _OutOfProcess(net, with_descriptors=True), images, "retrieval-2", CPU, [].append
    )
    assert by_similarity.pairs == infer_scene(net, images, "retrieval-2", CPU, [].append).pairs


def test_the_slot_api_of_footage_gives_the_photo_paths_numbers(net) -> None:
    """Footage encodes key frames once by slot, takes their descriptors, decodes, and later decodes other
    frames against them: the same predictions as the photo path for the same pairs."""
    images = _images([(32, 48)] * 5, seed=2)
    runner = LocalBackend(CPU, model=net).runner
    done = []
    runner.encode_slots(range(3), images[:3], after_batch=done.append)
    assert done == [3]
    desc = runner.descriptors(range(3))
    np.testing.assert_allclose(
        desc, global_descriptors([runner.slots.tokens(k) for k in range(3)]), atol=1e-6
    )
    pairs = [(0, 1), (1, 0), (2, 0), (0, 2)]
    _assert_same(_by_pair(runner.decode_slots(pairs)), _by_pair(predict_pairs(net, images, pairs, CPU)))
    runner.encode_slots([7, 8], images[3:])  # two frames localised later, in other slots
    preds = runner.decode_slots([(7, 0), (8, 1), (7, 2)])
    assert [(p.i, p.j) for p in preds] == [(7, 0), (8, 1), (7, 2)]  # in the order asked
    expected = _by_pair(predict_pairs(net, images, [(3, 0), (4, 1), (3, 2)], CPU))
    for pred, key in zip(preds, [(3, 0), (4, 1), (3, 2)], strict=True):
        np.testing.assert_allclose(pred.pts3d_i, expected[key].pts3d_i, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pred.conf_j, expected[key].conf_j, rtol=1e-5, atol=1e-5)
    runner.forget([7, 8])
    with pytest.raises(KeyError):
        runner.decode_slots([(7, 0)])
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        runner.encode_slots([9], images[:1], cancel=cancel)
