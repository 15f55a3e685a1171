"""Pair prediction mechanics: encode once, batching, order, progress, cancel, devices, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core.config import InferenceConfig
from core.errors import Cancelled, ConfigError, DeviceError, ResourceError
from core.graphs.photos import make_pairs
from core.inference.device import resolve_device
from core.inference.predictor import choose_image_size, predict_pairs
from core.model.configs import get_config
from core.model.dust3r import build_model

CPU = InferenceConfig(device="cpu", batch_size=4)


class CountingModel(torch.nn.Module):
    """A tiny random DUSt3R that counts the images it encodes and the pairs it decodes."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = build_model(get_config("tiny_linear"))
        self.encoded_images: list[int] = []  # batch size of each encode call
        self.decoded_pairs: list[int] = []  # batch size of each decode call

    def encode(self, img):
        self.encoded_images.append(img.shape[0])
        return self.net.encode(img)

    def decode(self, enc1, enc2):
        self.decoded_pairs.append(enc1.tokens.shape[0])
        return self.net.decode(enc1, enc2)

    def forward(self, img1, img2):
        return self.decode(self.encode(img1), self.encode(img2))


def _images(shapes: list[tuple[int, int]], seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(1, 3, h, w, generator=gen) * 2 - 1 for h, w in shapes]


@pytest.fixture(scope="module")
def model() -> CountingModel:
    return CountingModel()


def test_encodes_each_image_once_and_batches_equal_shapes(model: CountingModel) -> None:
    model.encoded_images.clear()
    model.decoded_pairs.clear()
    images = _images([(48, 64)] * 4)
    pairs = make_pairs(4)
    preds = predict_pairs(model, images, pairs, CPU)
    assert sum(model.encoded_images) == 4
    assert model.decoded_pairs == [4, 4, 4]  # 12 pairs of equal shapes, batch size 4
    assert [(p.i, p.j) for p in preds] == pairs


def test_mixed_shapes_keep_pair_order(model: CountingModel) -> None:
    model.encoded_images.clear()
    model.decoded_pairs.clear()
    images = _images([(48, 64), (64, 48), (48, 64)])
    pairs = make_pairs(3)
    preds = predict_pairs(model, images, pairs, CPU)
    assert sum(model.encoded_images) == 3
    assert sum(model.decoded_pairs) == 6
    assert [(p.i, p.j) for p in preds] == pairs
    for p in preds:
        assert p.pts3d_i.shape == (*images[p.i].shape[2:], 3) and p.conf_i.shape == images[p.i].shape[2:]
        assert p.pts3d_j.shape == (*images[p.j].shape[2:], 3) and p.conf_j.shape == images[p.j].shape[2:]
        for array in (p.pts3d_i, p.conf_i, p.pts3d_j, p.conf_j):
            assert isinstance(array, np.ndarray) and array.dtype == np.float32


def test_unused_images_are_not_encoded(model: CountingModel) -> None:
    model.encoded_images.clear()
    predict_pairs(model, _images([(32, 32)] * 5), [(0, 1), (1, 0)], CPU)
    assert sum(model.encoded_images) == 2


def test_strategies_and_batch_sizes_agree(model: CountingModel) -> None:
    images = _images([(48, 64), (48, 64), (64, 48)], seed=1)
    pairs = make_pairs(3)
    base = predict_pairs(model, images, pairs, InferenceConfig(device="cpu", batch_size=1))
    model.encoded_images.clear()
    reencoded = predict_pairs(model, images, pairs, CPU, strategy="reencode")
    assert sum(model.encoded_images) == 2 * len(pairs)  # the reference encodes both views of every pair
    batched = predict_pairs(model, images, pairs, CPU)
    for a, b, c in zip(base, reencoded, batched, strict=True):
        for name in ("pts3d_i", "conf_i", "pts3d_j", "conf_j"):
            np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(getattr(c, name), getattr(a, name), rtol=1e-5, atol=1e-5)


def test_progress_labels_and_fractions(model: CountingModel) -> None:
    calls: list[tuple[str, float]] = []
    predict_pairs(
        model,
        _images([(32, 48)] * 3),
        make_pairs(3),
        InferenceConfig(device="cpu", batch_size=2),
        progress=lambda stage, fraction: calls.append((stage, fraction)),
    )
    stages = [stage for stage, _ in calls]
    fractions = [fraction for _, fraction in calls]
    assert stages[0] == "Encoding 0/3" and "Encoding 3/3" in stages
    assert stages[-1] == "Pairs 6/6"
    first_pairs = next(k for k, s in enumerate(stages) if s.startswith("Pairs"))
    assert all(s.startswith("Encoding") for s in stages[:first_pairs])
    assert all(s.startswith("Pairs") for s in stages[first_pairs:])
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] == 0.0


def test_cancel_stops_between_batches(model: CountingModel) -> None:
    cancel = threading.Event()

    def progress(stage: str, fraction: float) -> None:
        if stage.startswith("Pairs"):
            cancel.set()

    model.decoded_pairs.clear()
    with pytest.raises(Cancelled):
        predict_pairs(
            model,
            _images([(32, 32)] * 3),
            make_pairs(3),
            InferenceConfig(device="cpu", batch_size=2),
            progress=progress,
            cancel=cancel,
        )
    assert model.decoded_pairs == [2]  # the batch under way finished, no further batch started


def test_cancel_before_start(model: CountingModel) -> None:
    cancel = threading.Event()
    cancel.set()
    model.encoded_images.clear()
    with pytest.raises(Cancelled):
        predict_pairs(model, _images([(32, 32)] * 2), make_pairs(2), CPU, cancel=cancel)
    assert model.encoded_images == []


def test_bad_inputs_raise(model: CountingModel) -> None:
    images = _images([(32, 32)] * 2)
    with pytest.raises(ConfigError, match="does not exist"):
        predict_pairs(model, images, [(0, 2)], CPU)
    with pytest.raises(ConfigError, match="strategy"):
        predict_pairs(model, images, [(0, 1)], CPU, strategy="fastest")
    with pytest.raises(ValueError, match="shape"):
        predict_pairs(model, [torch.zeros(3, 32, 32)], [(0, 0)], CPU)
    assert predict_pairs(model, images, [], CPU) == []


def test_reduced_precision_results_are_float32(model: CountingModel) -> None:
    images = _images([(32, 32)] * 2)
    preds = predict_pairs(model, images, [(0, 1)], InferenceConfig(device="cpu", precision="bf16"))
    assert preds[0].pts3d_i.dtype == np.float32 and preds[0].conf_j.dtype == np.float32


def test_out_of_memory_becomes_device_error(model: CountingModel, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(enc1, enc2):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(model, "decode", explode)
    with pytest.raises(DeviceError, match="batch size"):
        predict_pairs(model, _images([(32, 32)] * 2), [(0, 1)], CPU)


@pytest.mark.parametrize(
    "failure",
    [
        MemoryError(),
        RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate memory: "
                     "you tried to allocate 8589934592 bytes. Error code 12 (Cannot allocate memory)"),
    ],
    ids=["MemoryError", "DefaultCPUAllocator"],
)  # fmt: skip
def test_cpu_out_of_memory_becomes_resource_error(
    model: CountingModel, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    def explode(enc1, enc2):
        raise failure

    monkeypatch.setattr(model, "decode", explode)
    with pytest.raises(ResourceError, match="ran out of memory while running the network") as info:
        predict_pairs(model, _images([(32, 32)] * 2), [(0, 1)], CPU)
    assert "fewer photos" in str(info.value) and "--batch-size 1" in str(info.value)
    assert info.value.__suppress_context__ and info.value.__context__.__traceback__ is None  # frames released


def test_sink_receives_every_pair_and_the_list_stays_empty(model: CountingModel) -> None:
    received = []
    images = _images([(32, 48)] * 3)
    out = predict_pairs(model, images, make_pairs(3), CPU, sink=received.append)
    assert out == []
    assert [(p.i, p.j) for p in received] == make_pairs(3)


def test_mixed_shapes_keep_the_pair_order_in_the_list(model: CountingModel) -> None:
    images = _images([(32, 48), (48, 32), (32, 48)])
    pairs = make_pairs(3)
    preds = predict_pairs(model, images, pairs, InferenceConfig(device="cpu", batch_size=8))
    assert [(p.i, p.j) for p in preds] == pairs
    single = predict_pairs(model, images, pairs, InferenceConfig(device="cpu", batch_size=1))
    for a, b in zip(preds, single, strict=True):
        np.testing.assert_allclose(a.pts3d_j, b.pts3d_j, rtol=1e-5, atol=1e-5)


def test_batch_size_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.inference.predictor import MAX_GPU_BATCH_SIZE, choose_batch_size

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert choose_batch_size(None, cpu, 10**9) == 4 and choose_batch_size(2, cuda, 10**9) == 2
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (8 * 10**9, 16 * 10**9))
    assert choose_batch_size(None, cuda, 10**9) == 4  # half of the 8 GB free, 1 GB per pair
    assert choose_batch_size(None, cuda, 10**6) == MAX_GPU_BATCH_SIZE
    assert choose_batch_size(None, cuda, 10**11) == 1


def test_other_runtime_errors_are_not_hidden(model: CountingModel, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(enc1, enc2):
        raise RuntimeError("shape mismatch in a bug")

    monkeypatch.setattr(model, "decode", broken)
    with pytest.raises(RuntimeError, match="bug"):
        predict_pairs(model, _images([(32, 32)] * 2), [(0, 1)], CPU)


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ConfigError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="cuda"):
            resolve_device("cuda")
        with pytest.raises(DeviceError):
            predict_pairs(CountingModel(), _images([(32, 32)] * 2), [(0, 1)], InferenceConfig(device="cuda"))


def test_choose_image_size_follows_the_model(model: CountingModel) -> None:
    net = model.net  # tiny_linear: trained at 512
    assert choose_image_size(None, net) == 512
    assert choose_image_size(512, net) == 512
    with pytest.raises(ConfigError, match="224"):
        choose_image_size(224, net)
    assert choose_image_size(224, object()) == 224  # a model that does not say
