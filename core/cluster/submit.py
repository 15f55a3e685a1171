"""A photo reconstruction as a Ray job: ``python -m core reconstruct ...`` on the cluster, RESULT.npz back.

:func:`run_on_cluster` uploads this ``core`` package (a content-addressed zip: uploaded once per version),
submits the command line with the run's settings (:func:`reconstruct_argv`), polls the job's status and the
progress lines of its log into ``progress``, stops the job when ``cancel`` is set, and reads the result.

The photos, the checkpoint and the result folder must be at the SAME paths on the cluster and on this
computer (a shared drive): the job reads and writes them there. With ``distribute`` the job's driver spreads
the pairs over the cluster's workers (``--backend ray``); without it the job runs on one node.
"""

from __future__ import annotations

import io
import logging
import re
import shlex
import threading
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..config import ReconstructConfig
from ..errors import Cancelled, ClusterError
from ..progress import ProgressFn, no_progress
from .jobs_api import TERMINAL, RayJobsClient

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
_PROGRESS_RE = re.compile(r"^INFO core\.cli\.reconstruct_cmd:\s+([0-9.]+)% (.+)$")
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed, so the same code gives the same package name


def code_package() -> bytes:
    """This ``core`` package as a zip whose top folder is ``core/`` (no byte code), the same bytes for the same
    source."""
    root = Path(__file__).resolve().parents[1]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                info = zipfile.ZipInfo(str(Path("core") / path.relative_to(root)), _ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def reconstruct_argv(image_paths: Sequence[str], checkpoint: str, config: ReconstructConfig, out: str,
                     distribute: bool = True, gpus_per_worker: float = 0.0) -> list[str]:  # fmt: skip
    """The ``python -m core -v reconstruct`` arguments of a run of ``config`` (the device is the cluster's own
    choice: ``auto``)."""
    inference, align = config.inference, config.align
    argv = [
        "-v",
        "reconstruct",
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(out),
        "--images",
        *map(str, image_paths),
    ]
    if inference.image_size is not None:
        argv += ["--size", str(inference.image_size)]
    argv += ["--graph", inference.scene_graph, "--precision", inference.precision]
    if inference.batch_size is not None:
        argv += ["--batch-size", str(inference.batch_size)]
    if not inference.check_memory:
        argv.append("--no-memory-check")
    argv += [
        "--method",
        align.method,
        "--niter",
        str(align.niter if align.method == "paper" else align.fast_niter),
    ]
    argv += ["--focal-mode", align.focal_mode, "--min-conf", repr(float(align.min_conf))]
    if align.shared_focal:
        argv.append("--shared-focal")
    if config.focal_prior == "mm":
        argv += ["--focal-mm", repr(float(config.focal_mm))]
    elif config.focal_prior == "exif":
        argv.append("--focal-exif")
    if not config.clean_depth:
        argv.append("--no-clean")
    argv.append("--refine" if config.refine.enabled else "--no-refine")
    if config.refine.enabled:
        argv += ["--distortion", config.refine.distortion]
    if distribute:
        argv += ["--backend", "ray", "--ray-address", "auto", "--ray-gpus", repr(float(gpus_per_worker))]
    return argv


def parse_progress(logs: str) -> tuple[str, float] | None:
    """The last ``(stage, fraction)`` the job's ``-v`` log reported, or None."""
    for line in reversed(logs.splitlines()):
        match = _PROGRESS_RE.match(line.strip())
        if match:
            return match.group(2), min(max(float(match.group(1)) / 100.0, 0.0), 1.0)
    return None


def run_on_cluster(client: RayJobsClient, image_paths: Sequence[str], checkpoint: str, config: ReconstructConfig,
                   out: str | Path, progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                   distribute: bool = True, gpus_per_worker: float = 0.0, python: str = "python",
                   poll_seconds: float = POLL_SECONDS):  # fmt: skip
    """Run the reconstruction as a Ray job and return its :class:`~core.result.Reconstruction`.

    Raises:
        ClusterError: the cluster cannot be reached or refuses the token, the job fails or is stopped on the
            cluster, or the result cannot be read here. Cancelled: ``cancel`` was set (the job is stopped).
    """
    progress = progress or no_progress
    out = Path(out)
    progress("Connecting to the cluster", 0.0)
    client.version()
    runtime_env = {"working_dir": client.upload_package(code_package())}
    argv = reconstruct_argv(image_paths, checkpoint, config, str(out), distribute, gpus_per_worker)
    entrypoint = " ".join(shlex.quote(part) for part in [python, "-m", "core", *argv])
    job = client.submit(entrypoint, runtime_env, {"dust3r": "reconstruct"})
    log.info("submitted Ray job %s: %s", job, entrypoint)
    status = _wait(client, job, progress, cancel, poll_seconds)
    if status["status"] != "SUCCEEDED":
        tail = _last_error_line(client, job)
        raise ClusterError(
            f"The cluster job {job} {status['status'].lower()}: {tail or status.get('message') or 'no message'}"
        )
    progress("Reading the result", 1.0)
    return _read_result(out, job)


def _wait(client: RayJobsClient, job: str, progress: ProgressFn, cancel, poll_seconds: float) -> dict:
    while True:
        if cancel is not None and cancel.is_set():
            client.stop(job)
            raise Cancelled()
        status = client.status(job)
        if status.get("status") in TERMINAL:
            return status
        reported = parse_progress(client.logs(job)) if status.get("status") == "RUNNING" else None
        stage, fraction = reported or (f"Cluster job {str(status.get('status', '')).lower()}", 0.0)
        progress(stage, fraction)
        if cancel is not None:
            cancel.wait(poll_seconds)
        else:
            time.sleep(poll_seconds)


def _last_error_line(client: RayJobsClient, job: str) -> str:
    try:
        lines = [line.strip() for line in client.logs(job).splitlines() if line.strip()]
    except ClusterError:
        return ""
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1]


def _read_result(out: Path, job: str):
    from ..result import ResultFileError, read_result

    try:
        return read_result(out)
    except ResultFileError as exc:
        raise ClusterError(
            f"The cluster job {job} finished, but its result cannot be read on this computer ({exc}): the "
            "cluster and this computer must see the same folder at the same path."
        ) from exc
