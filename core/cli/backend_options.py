"""``--backend local|ray``, ``--ray-address`` and ``--ray-gpus``: where ``infer`` and ``reconstruct`` run the
network (INTERFACES.md, "Added for trust, scale-out and interchange")."""

from __future__ import annotations

import argparse
from collections.abc import Callable

BACKEND_NAMES = ("local", "ray")
DEFAULT_RAY_ADDRESS = "auto"


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKEND_NAMES, default="local",
                        help="where the network runs: this process (local) or Ray workers (ray; needs "
                        "pip install 'ray[default]') (default: %(default)s)")  # fmt: skip
    parser.add_argument("--ray-address", default=DEFAULT_RAY_ADDRESS, metavar="ADDR",
                        help="with --backend ray: the cluster (host:port, ray://host:port), or auto: a running "
                        "cluster if one is found, else a local one on this machine (default: %(default)s)")  # fmt: skip
    parser.add_argument("--ray-gpus", type=float, default=0.0, metavar="N",
                        help="with --backend ray: GPUs per worker (0: CPU workers) (default: %(default)s)")  # fmt: skip
    parser.add_argument("--ray-workers", type=int, default=None, metavar="N",
                        help="with --backend ray: number of workers, each holding the model once (default: one per "
                        "--ray-gpus GPUs, or on CPUs one per 8 CPUs of the cluster)")  # fmt: skip


def backend_factory(args: argparse.Namespace, transport: str = "float32") -> Callable | None:
    """``make_backend(model, config)`` for :class:`~core.inference.pair_reuse.PairFiles`, or None for the
    local backend. ``--backend ray`` checks that Ray imports before anything else happens; ``transport`` is
    how the workers return predictions (``float32`` for pair files, ``float16`` to feed a pair store)."""
    if args.backend == "local":
        return None
    from ..inference.ray_backend import RaySettings, require_ray

    require_ray()
    settings = RaySettings(address=args.ray_address, gpus_per_worker=args.ray_gpus, workers=args.ray_workers)
    checkpoint = args.checkpoint

    def make(model, config):
        from ..inference.backend import make_backend

        return make_backend(
            "ray", config=config, checkpoint=checkpoint, settings=settings, transport=transport
        )

    return make
