"""``dust3r.reconstruct`` on a Ray cluster: the same request, run as a Ray job instead of on this computer.

Chosen by the preference "Compute: Ray Cluster" (address and token). The worker thread submits ``python -m core
reconstruct ...`` through the cluster's Jobs HTTP API (:mod:`core.cluster`, plain urllib: Blender needs no
Ray), polls the job into the sidebar's progress and stops it on Cancel; the main thread then builds the scene
from the job's RESULT.npz exactly as ``dust3r.import_result`` builds it. An unreachable cluster, a refused
token, a failed job or a result Blender cannot read end as one error report with nothing built.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from pathlib import Path

import bpy

from .reconstruct import JobRequest, run_pipeline

COMPUTE_ITEMS = (
    ("LOCAL", "This Computer", "Run the network and the alignment in Blender, on this computer"),
    ("RAY", "Ray Cluster", "Run the reconstruction as a job on a Ray cluster (photos, checkpoint and result "
     "folder at the same paths on the cluster)"),
)  # fmt: skip


@dataclass(frozen=True)
class ClusterJobRequest(JobRequest):
    """A :class:`JobRequest` run as a Ray job; the result file is written to ``result_path``."""

    address: str = ""
    token: str = ""
    result_path: str = ""
    distribute: bool = True
    gpus_per_worker: float = 0.0
    python: str = "python"

    label = "reconstruct on a Ray cluster"

    def work(self, progress, cancel, _log_line):
        def submit():
            from ..core.cluster.jobs_api import RayJobsClient
            from ..core.cluster.submit import run_on_cluster

            client = RayJobsClient(self.address, self.token)
            return run_on_cluster(client, self.image_paths, self.checkpoint, self.config, self.result_path,
                                  progress, cancel, self.distribute, self.gpus_per_worker, self.python)  # fmt: skip

        return run_pipeline(submit)


def result_path(prefs, image_paths) -> str:
    """Where the job writes its RESULT.npz: the preference's folder (or the photos' folder), a new name."""
    folder = (
        bpy.path.abspath(prefs.ray_result_folder)
        if prefs.ray_result_folder
        else str(Path(image_paths[0]).parent)
    )
    return str(Path(folder) / f"dust3r-{time.strftime('%Y%m%d-%H%M%S')}.npz")


def cluster_request(request: JobRequest, prefs) -> ClusterJobRequest:
    """``request`` as a cluster job with the preferences' address, token and result folder."""
    base = {f.name: getattr(request, f.name) for f in fields(JobRequest)}
    return ClusterJobRequest(
        **base,
        address=prefs.ray_address,
        token=prefs.ray_token,
        result_path=result_path(prefs, request.image_paths),
        distribute=bool(prefs.ray_distribute),
        gpus_per_worker=float(prefs.ray_gpus),
        python=prefs.ray_python or "python",
    )
