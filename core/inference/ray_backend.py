"""The ``ray`` backend: pairs run by Ray Core actors, on this machine or on a cluster.

Each worker is an actor (``num_gpus`` = ``--ray-gpus``) that loads the model ONCE: from the checkpoint path
when the worker's node sees it (a shared folder), else from the checkpoint's bytes, put into Ray's object
store once by the driver. The driver cuts the pairs into chunks of few images each
(:func:`core.inference.shards.split_pairs`: a chunk is a set of images and pairs among them, so a worker
encodes few images), puts every image tensor into the object store once, and keeps each worker busy with one
chunk at a time. A worker runs its chunk with the same code as the local backend
(:func:`~core.inference.predictor.predict_pairs`, encode-once); the predictions come back as float32 or as
the pair store's float16 encoding (``transport``), and the driver hands them to the same sink (the pair files
and ``PairStore`` of the local path).

Faults: a chunk whose worker dies (killed, out of memory) goes back to the queue and runs on another worker
(the dead one is restarted by Ray); a chunk that fails :data:`MAX_CHUNK_TRIES` times stops the run. Cancel
kills the workers, which stops the cluster work at once. Progress counts the pairs finished on all workers.

Ray is optional (``pip install 'ray[default]'``): it is imported only here, and :func:`require_ray` turns
its absence into a :class:`~core.errors.DependencyError` (exit 2 on the command line).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DependencyError, DeviceError
from ..predictions import PairPrediction
from ..progress import check_cancel, no_progress

log = logging.getLogger(__name__)

RAY_INSTALL = "pip install 'ray[default]'"
CHUNKS_PER_WORKER = 3  # smaller chunks balance the load and lose less work to a dead worker
MAX_CHUNK_TRIES = 3
CPU_WORKER_THREADS = 8  # a CPU worker's threads when neither workers nor CPUs per worker are given
POLL_SECONDS = 0.2  # how often the driver checks the cancel event while chunks run
TRANSPORTS = ("float32", "float16")
_MAPS = ("pts3d_i", "conf_i", "pts3d_j", "conf_j")


def require_ray():
    """The ``ray`` module, or DependencyError with the install line when it is missing or broken."""
    try:
        import ray
    except Exception as exc:  # any import failure (missing, broken wheel) means "no Ray"
        raise DependencyError(
            f"--backend ray needs Ray, which is not installed for this Python ({type(exc).__name__}): "
            f"{RAY_INSTALL}"
        ) from exc
    return ray


@dataclass(frozen=True)
class RaySettings:
    """Where and how the workers run.

    Attributes:
        address: ``auto`` (a running cluster if one is found, else a local one on 127.0.0.1), ``local`` (always
            a new local one), or a cluster address (``host:port``, ``ray://host:port``).
        gpus_per_worker: GPUs each worker reserves (0: CPU workers).
        cpus_per_worker: CPUs each worker reserves (its torch threads); None: 1 for GPU workers, else the
            cluster's CPUs shared by ``workers``, or :data:`CPU_WORKER_THREADS` per worker when ``workers`` is
            None too (every worker holds a copy of the model: one per CPU would not fit in memory).
        workers: number of workers; None: as many as the cluster's free CPUs (or GPUs) allow.
        local_cpus: CPUs of a local cluster started here (None: all of this machine's).
    """

    address: str = "auto"
    gpus_per_worker: float = 0.0
    cpus_per_worker: int | None = None
    workers: int | None = None
    local_cpus: int | None = None

    def __post_init__(self) -> None:
        if self.gpus_per_worker < 0 or (self.cpus_per_worker is not None and self.cpus_per_worker < 1):
            raise ConfigError("--ray-gpus must be 0 or more, and a worker needs at least one CPU")
        if self.workers is not None and self.workers < 1:
            raise ConfigError("--ray-workers must be at least 1")


def connect(settings: RaySettings):
    """Make sure this process is connected to Ray; returns ``(ray, started_here)``.

    An existing connection (``ray.is_initialized()``) is used as it is. ``auto`` tries a running cluster, then
    starts a local one bound to 127.0.0.1. Raises DeviceError when the given address cannot be reached.
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray, False
    code = {"py_modules": [str(Path(__file__).resolve().parents[1])]}  # this `core` package, for every node
    if settings.address in ("auto", "local"):
        if settings.address == "auto":
            try:
                ray.init(address="auto", runtime_env=code, log_to_driver=False)
                return ray, True
            except (ConnectionError, RuntimeError) as exc:
                log.info("no running Ray cluster found (%s): starting a local one", exc)
        ray.init(num_cpus=settings.local_cpus or os.cpu_count(), include_dashboard=False,
                 _node_ip_address="127.0.0.1", log_to_driver=False)  # fmt: skip
        return ray, True
    try:
        ray.init(address=settings.address, runtime_env=code, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise DeviceError(f"cannot connect to the Ray cluster at {settings.address}: {exc}") from exc
    return ray, True


def worker_shape(ray, settings: RaySettings) -> tuple[int, int]:
    """``(workers, CPUs per worker)`` for the cluster's resources and ``settings`` (at least one of each)."""
    resources = ray.cluster_resources()
    cpus = max(1, int(resources.get("CPU", 1)))
    if settings.gpus_per_worker > 0:
        per = settings.cpus_per_worker or 1
        workers = settings.workers or max(1, int(resources.get("GPU", 0) // settings.gpus_per_worker))
        return workers, per
    if settings.workers is not None:
        return settings.workers, settings.cpus_per_worker or max(1, cpus // settings.workers)
    per = settings.cpus_per_worker or min(cpus, CPU_WORKER_THREADS)
    return max(1, cpus // per), per


class PairWorker:
    """The actor's body (wrapped with ``ray.remote`` in :func:`_actor_class`): one model, many chunks."""

    def __init__(self, config: dict, threads: int) -> None:
        import torch

        from ..config import InferenceConfig

        torch.set_num_threads(threads)
        self.config = InferenceConfig(**config)
        self.model = None

    def pid(self) -> int:
        return os.getpid()

    def load(self, checkpoint: str, shipped: dict[str, bytes] | None = None) -> str | None:
        """Load the model once: from ``checkpoint`` (a path this node sees) or from ``shipped`` file bytes.

        Returns the precision the worker runs in, or None when the path is missing here (ship it).
        """
        from ..model.checkpoint import load_model
        from .predictor import PairRunner

        if self.model is None:
            if shipped is None:
                if not Path(checkpoint).exists():
                    return None
                self.model = load_model(checkpoint)
            else:
                self.model = load_model(_write_shipped(shipped, Path(checkpoint).name))
        return PairRunner(self.model, self.config).precision.name

    def run(self, pairs: list[tuple[int, int]], images: list[int], transport: str, *tensors) -> list:
        """Predictions of ``pairs`` (global image indices) over the tensors of ``images`` (same order)."""
        from .predictor import predict_pairs

        slot = {k: s for s, k in enumerate(images)}
        local = [(slot[i], slot[j]) for i, j in pairs]
        preds = predict_pairs(self.model, list(tensors), local, self.config)
        return [_pack(images[p.i], images[p.j], p, transport) for p in preds]


def _write_shipped(shipped: dict[str, bytes], name: str) -> Path:
    """The shipped checkpoint written to a private temporary folder; returns the path to load."""
    folder = Path(tempfile.mkdtemp(prefix="dust3r-checkpoint-"))
    if set(shipped) == {""}:  # a single file
        target = folder / name
        target.write_bytes(shipped[""])
        return target
    for member, data in shipped.items():
        (folder / member).write_bytes(data)
    return folder


def checkpoint_bytes(checkpoint: str | Path) -> dict[str, bytes]:
    """A checkpoint's file bytes for shipping: ``{"": bytes}`` for a file, ``{name: bytes}`` for a folder."""
    path = Path(checkpoint)
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}
    return {"": path.read_bytes()}


def _pack(i: int, j: int, pred: PairPrediction, transport: str) -> tuple:
    if transport == "float32":
        return (i, j, *(np.asarray(getattr(pred, m), np.float32) for m in _MAPS))
    from ..align.store import encode_float16

    return (i, j, *(encode_float16(getattr(pred, m)) for m in _MAPS))


def _unpack(packed: tuple, transport: str) -> PairPrediction:
    i, j, *maps = packed
    if transport == "float16":
        from ..align.store import decode_float16

        maps = [decode_float16(stored, scale) for stored, scale in maps]
    return PairPrediction(int(i), int(j), *(np.array(m, dtype=np.float32) for m in maps))


def _actor_class(ray, settings: RaySettings, cpus: int):
    return ray.remote(num_cpus=cpus, num_gpus=settings.gpus_per_worker,
                      max_restarts=MAX_CHUNK_TRIES)(PairWorker)  # fmt: skip


class RayBackend:
    """The ``ray`` :class:`~core.inference.backend.PairBackend`: the pairs on Ray workers.

    Args:
        checkpoint: the checkpoint path (read by the workers, or shipped when their node lacks it).
        config: the run's :class:`~core.config.InferenceConfig` (the workers use the same).
        settings: :class:`RaySettings`.
        transport: ``float32`` (exact pair files) or ``float16`` (the pair store's encoding: half the data,
            the same alignment input).

    Use as a context manager, or call :meth:`close`: the workers are killed and a Ray started here is shut down.
    """

    name = "ray"

    def __init__(
        self, checkpoint, config, settings: RaySettings | None = None, transport: str = "float32"
    ) -> None:
        if transport not in TRANSPORTS:
            raise ConfigError(f"transport must be one of {TRANSPORTS}")
        settings = settings or RaySettings()
        self.checkpoint, self.settings, self.transport = str(checkpoint), settings, transport
        self.config = config
        self._config_fields = asdict(config)
        self.ray, self._started = connect(settings)
        self._shipped = None
        self.workers: list = []
        try:
            count, threads = worker_shape(self.ray, settings)
            actor = _actor_class(self.ray, settings, threads)
            self.workers = [actor.remote(self._config_fields, threads) for _ in range(count)]
            self.precision_name = self._load_all()
        except BaseException:
            self.close()
            raise
        log.info("%d Ray workers ready (%s)", len(self.workers), self.precision_name)

    def _load_all(self) -> str:
        """Load the model on every worker; ships the checkpoint once if some worker cannot read the path."""
        results = self._get([w.load.remote(self.checkpoint) for w in self.workers])
        if any(r is None for r in results):
            log.info("the checkpoint is not at %s on every node: shipping it through the object store",
                     self.checkpoint)  # fmt: skip
            self._shipped = self.ray.put(checkpoint_bytes(self.checkpoint))
            results = self._get([w.load.remote(self.checkpoint, self._shipped) for w in self.workers])
        return results[0]

    def _get(self, refs):
        try:
            return self.ray.get(refs)
        except self.ray.exceptions.RayError as exc:
            raise DeviceError(f"the Ray workers could not load the model: {_first_line(exc)}") from exc

    def worker_pids(self) -> list[int]:
        """The process ids of the workers (for tests and diagnostics)."""
        return self.ray.get([w.pid.remote() for w in self.workers])

    def run_pairs(self, images, pairs, sink, progress=None, cancel: threading.Event | None = None) -> None:
        """Run ``pairs`` over ``images`` on the workers; every prediction goes to ``sink`` as its chunk ends."""
        from .predictor import image_tensor
        from .shards import split_pairs

        progress = progress or no_progress
        pairs = [(int(i), int(j)) for i, j in pairs]
        if not pairs:
            return
        ray = self.ray
        refs = {}  # image index -> object ref, put once
        parts = max(1, min(len(pairs), len(self.workers) * CHUNKS_PER_WORKER))
        queue = [chunk for chunk in split_pairs(pairs, len(images), parts) if chunk]
        tries = [0] * len(queue)
        chunk_of = list(range(len(queue)))
        pending = list(chunk_of)
        running: dict = {}  # ref -> (chunk index, worker)
        idle = list(self.workers)
        done = 0
        progress(f"Pairs 0/{len(pairs)}", 0.0)
        while pending or running:
            check_cancel(cancel)
            while pending and idle:
                c, worker = pending.pop(0), idle.pop(0)
                chunk = queue[c]
                used = sorted({k for pair in chunk for k in pair})
                for k in used:
                    if k not in refs:
                        refs[k] = ray.put(image_tensor(images[k]))
                tries[c] += 1
                ref = worker.run.remote(chunk, used, self.transport, *(refs[k] for k in used))
                running[ref] = (c, worker)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                c, worker = running.pop(ref)
                try:
                    packed = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    self._retry(c, tries, pending, exc, worker)  # Ray restarts the actor; it loads again
                    if worker in self.workers:
                        idle.append(worker)
                    continue
                except ray.exceptions.RayTaskError as exc:
                    raise DeviceError(
                        f"a Ray worker failed on pairs {queue[c][:3]}...: {_first_line(exc)}"
                    ) from exc
                idle.append(worker)
                for item in packed:
                    sink(_unpack(item, self.transport))
                done += len(packed)
                progress(f"Pairs {done}/{len(pairs)}", done / len(pairs))

    def _retry(self, chunk: int, tries: list[int], pending: list[int], exc, worker) -> None:
        if tries[chunk] >= MAX_CHUNK_TRIES:
            raise DeviceError(
                f"a chunk of pairs failed on {tries[chunk]} Ray workers in a row (the last: {_first_line(exc)}); "
                "a worker may run out of memory: use fewer workers per machine or a smaller batch size"
            ) from exc
        log.warning("a Ray worker died (%s): its chunk runs again", _first_line(exc))
        self._reload(worker)
        pending.insert(0, chunk)

    def _reload(self, worker) -> None:
        """After Ray restarted a dead actor, load the model into it again (or drop it if it is gone)."""
        try:
            self.ray.get(worker.load.remote(self.checkpoint, self._shipped))
        except self.ray.exceptions.RayError:
            if worker in self.workers and len(self.workers) > 1:
                self.workers.remove(worker)  # gone for good: the others take its chunks

    def close(self) -> None:
        """Kill the workers (stops any work still running); shut Ray down if this object started it."""
        for worker in self.workers:
            try:
                self.ray.kill(worker, no_restart=True)
            except (ValueError, self.ray.exceptions.RayError) as exc:  # a worker already gone
                log.debug("killing a Ray worker: %s", exc)
        self.workers = []
        if self._started:
            self.ray.shutdown()
            self._started = False

    def __enter__(self) -> RayBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
