"""The backend seam: where the network runs on ordered pairs of images (this process, or a cluster).

A backend runs the ordered pairs of a list of images and hands each prediction to a sink as soon as it is
ready; it reports ``progress(stage, fraction)`` and checks a cancel :class:`threading.Event` between batches.
The pipelines and the CLI choose one by name through :func:`make_backend`; the registry :data:`BACKENDS` is
a literal dict, so what can run is visible in one place.

* ``local`` (:class:`LocalBackend`): today's in-process runner (:class:`~.predictor.PairRunner`: each image
  encoded once, pairs decoded in batches). It loads the model from the checkpoint on first use, or takes an
  already loaded one (as the pipelines do, to reuse it across calls).
* A distributed backend (``core/inference/ray_backend.py``) registers in :data:`BACKENDS` with a factory that
  imports its module lazily (so ``ray`` is imported only when asked for). :func:`make_backend` hands a
  factory the checkpoint PATH and the :class:`~core.config.InferenceConfig`, never a model: such a backend
  loads the model in its workers, not in the driver. Its module must not import this one (the factory's lazy
  import would then hide a circle, which ``tests/core/test_layout.py`` refuses); what backends share lives
  in :mod:`.predictor` (``Sink``, ``run_pairs``, ``check_pairs``, ``batch_order``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..config import InferenceConfig
from ..errors import ConfigError
from ..progress import ProgressFn
from .predictor import STRATEGIES, PairRunner, Sink, resolve_device, run_pairs


@runtime_checkable
class PairBackend(Protocol):
    """Runs the network on ordered pairs of images.

    Attributes:
        name: the registry name (``local``, ...).
        config: the :class:`~core.config.InferenceConfig` it runs with (device, precision, batch size).
    """

    name: str
    config: InferenceConfig

    def run_pairs(
        self,
        images: Sequence,
        pairs: Sequence[tuple[int, int]],
        sink: Sink,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Predict every ordered pair ``(i, j)`` of ``images`` (view1 = ``images[i]``) and call
        ``sink(PairPrediction)`` for each as soon as it is ready (numpy float32 on the host), in any order.

        Args:
            images: ``LoadedImage`` objects (or ``(1, 3, H, W)`` float32 tensors in ``[-1, 1]``).
            pairs: ordered pairs of indices into ``images``.
            progress: ``progress(stage, fraction)``, fraction of the whole call ending at 1.0.
            cancel: checked between batches; when set, raises :class:`~core.errors.Cancelled`.

        Raises:
            ConfigError (bad pair index), DeviceError / ResourceError, Cancelled.
        """
        ...

    def close(self) -> None:
        """Release what the backend holds (the model, workers). Idempotent."""
        ...


class LocalBackend:
    """The in-process backend: one :class:`~.predictor.PairRunner` on this machine's device.

    Args:
        config: device, precision, batch size (``InferenceConfig()`` when None).
        checkpoint: a checkpoint path, loaded on first use (when no ``model`` is given).
        model: an already loaded ``core.model`` network (moved to the config's device).
        strategy: ``encode_once`` (default) or ``reencode`` (the reference's, for benchmarks).

    Raises:
        ConfigError: neither a model nor a checkpoint, or an unknown strategy.
    """

    name = "local"

    def __init__(
        self,
        config: InferenceConfig | None = None,
        checkpoint: str | Path | None = None,
        model=None,
        strategy: str = "encode_once",
    ) -> None:
        if model is None and checkpoint is None:
            raise ConfigError("the local backend needs a model or a checkpoint path")
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown inference strategy {strategy!r}; use one of {STRATEGIES}")
        self.config = config or InferenceConfig()
        self.checkpoint = checkpoint
        self.strategy = strategy
        self._model = model
        self._runner: PairRunner | None = None

    @property
    def runner(self) -> PairRunner:
        """The runner (the model loaded from ``checkpoint`` on first use)."""
        if self._runner is None:
            if self._model is None:
                from ..model.checkpoint import load_model

                self._model = load_model(self.checkpoint, device=resolve_device(self.config.device))
            self._runner = PairRunner(self._model, self.config)
        return self._runner

    @property
    def model(self):
        """The network the runner uses (loaded on first use)."""
        return self.runner.model

    def run_pairs(
        self,
        images: Sequence,
        pairs: Sequence[tuple[int, int]],
        sink: Sink,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """See :meth:`PairBackend.run_pairs`; predictions arrive in :func:`~.predictor.batch_order`."""
        run_pairs(self.runner, images, pairs, sink, progress, cancel, self.strategy)

    def close(self) -> None:
        self._runner = None
        if self.checkpoint is not None:
            self._model = None  # loaded here: drop the weights (a model given by the caller stays theirs)

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


BackendFactory = Callable[..., PairBackend]

# name -> factory(config=InferenceConfig, checkpoint=path or None, model=network or None, **options).
BACKENDS: dict[str, BackendFactory] = {
    "local": LocalBackend,
}


def make_backend(
    name: str = "local",
    *,
    config: InferenceConfig | None = None,
    checkpoint: str | Path | None = None,
    model=None,
    **options,
) -> PairBackend:
    """The backend ``name`` of :data:`BACKENDS`, built from a checkpoint PATH (or, for ``local``, an
    already loaded ``model``) and an :class:`~core.config.InferenceConfig`. Building never loads the model:
    the local backend loads it on first use, a distributed one in its workers.

    Raises:
        ConfigError: unknown name (the message lists the known ones), or what the factory refuses.
    """
    factory = BACKENDS.get(name)
    if factory is None:
        raise ConfigError(f"unknown backend {name!r}; use one of {', '.join(sorted(BACKENDS))}")
    return factory(config=config or InferenceConfig(), checkpoint=checkpoint, model=model, **options)
