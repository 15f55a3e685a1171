"""The ``ray`` backend on a real local Ray (127.0.0.1, two CPUs, one session for the module; issue 19 items 1-2).

Tiny random-weight model, float32 on the CPU: "identical" means bit for bit, against the local backend.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import ray  # tests/requirements.txt pins ray[default]==2.60.0 (an optional dependency of the CLI)
from PIL import Image

from core.cli import main as cli_main
from core.cli.reconstruct_cmd import resume_folder
from core.config import InferenceConfig
from core.errors import Cancelled
from core.graphs.photos import make_pairs
from core.inference.backend import PairBackend, make_backend
from core.inference.images import load_images
from core.inference.predictor import predict_pairs
from core.inference.ray_backend import RayBackend, RaySettings
from tests.pipeline_support import PHOTOS, TINY_CHECKPOINT

REPO_ROOT = Path(__file__).resolve().parents[2]
NET = ["--checkpoint", str(TINY_CHECKPOINT), "--device", "cpu", "--precision", "fp32"]
RAY = ["--backend", "ray", "--ray-workers", "2"]
CONFIG = InferenceConfig(image_size=224, device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray for the module: 127.0.0.1 only, two CPUs, no dashboard; shut down afterwards."""
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # a loopback-only test cluster; no token file in the home folder
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        if previous is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[str]:
    """Four photos (the examples and a mirrored first one): 12 ordered pairs."""
    extra = tmp_path_factory.mktemp("photos") / "view4.jpg"
    Image.open(PHOTOS[0]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(extra, quality=95)
    return [*map(str, PHOTOS), str(extra)]


@pytest.fixture(scope="module")
def local_pairs(photos, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local_pairs")
    _cli("infer", *NET, "--images", *photos, "--out", str(out))
    return out


@pytest.fixture(scope="module")
def local_result(photos, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "RESULT.npz"
    _cli("reconstruct", *NET, "--images", *photos, "--out", str(out), "--no-refine")
    return out


def _cli(*argv: str) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert cli_main(list(argv)) == 0
    return buffer.getvalue()


def _same_npz(a: Path, b: Path) -> None:
    with np.load(a) as x, np.load(b) as y:
        assert sorted(x.files) == sorted(y.files)
        for key in x.files:
            assert np.array_equal(x[key], y[key], equal_nan=x[key].dtype.kind == "f"), (a.name, key)


def test_ray_pair_files_and_result_equal_local(
    ray_session, photos, local_pairs, local_result, tmp_path
) -> None:
    out = tmp_path / "pairs"
    _cli("infer", *NET, *RAY, "--images", *photos, "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in local_pairs.iterdir())
    for path in local_pairs.iterdir():
        _same_npz(path, out / path.name)  # the origin record included: same photos, model, size, precision
    result = tmp_path / "RESULT.npz"
    _cli("reconstruct", *NET, *RAY, "--images", *photos, "--out", str(result), "--no-refine")
    _same_npz(result, local_result)
    assert ray.is_initialized()  # a session the caller started is left running


def test_footage_on_ray_equals_local(ray_session, tmp_path) -> None:
    from tests.footage_support import shot_frames, write_sequence

    paths = write_sequence(tmp_path / "plate", shot_frames(n=8, size=(128, 96)), first=1001)
    base = ["reconstruct", *NET, "--images", *map(str, paths), "--sequence", "--fps", "24", "--every", "2",
            "--fill", "localise", "--no-refine"]  # fmt: skip
    local, remote = tmp_path / "local.npz", tmp_path / "ray.npz"
    _cli(*base, "--out", str(local))
    _cli(*base, *RAY, "--out", str(remote))
    _same_npz(remote, local)


def _local_predictions(photos) -> dict:
    images = load_images(photos, 224)
    pairs = make_pairs(len(images), "complete")
    return {(p.i, p.j): p for p in predict_pairs(_model(), images, pairs, CONFIG)}, images, pairs


def _model():
    from core.model.checkpoint import load_model

    return load_model(TINY_CHECKPOINT)


def test_a_worker_killed_mid_run_changes_nothing(ray_session, photos) -> None:
    expected, images, pairs = _local_predictions(photos)
    got = {}
    killed = []
    with RayBackend(TINY_CHECKPOINT, CONFIG, RaySettings(workers=2)) as computer:
        pids = computer.worker_pids()

        def sink(pred) -> None:
            got[(pred.i, pred.j)] = pred
            if not killed:  # the first chunk is back: the other worker is busy with its own
                victim = pids[1] if len(got) == 1 else pids[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)

        reports = []
        computer.run_pairs(images, pairs, sink, progress=lambda stage, f: reports.append((stage, f)))
        assert killed and killed[0] not in computer.worker_pids()  # Ray restarted the killed worker
    fractions = [f for _, f in reports]
    assert fractions == sorted(fractions) and reports[-1] == (f"Pairs {len(pairs)}/{len(pairs)}", 1.0)
    assert len(reports) > 2  # the pairs of every worker counted as they come back
    assert sorted(got) == sorted(expected)
    for key, pred in expected.items():
        for name in ("pts3d_i", "conf_i", "pts3d_j", "conf_j"):
            assert np.array_equal(getattr(got[key], name), getattr(pred, name)), (key, name)


def test_cancel_stops_the_cluster_work(ray_session, photos) -> None:
    images = load_images(photos, 224)
    cancel = threading.Event()
    computer = make_backend("ray", config=CONFIG, checkpoint=TINY_CHECKPOINT, settings=RaySettings(workers=2))
    assert isinstance(computer, PairBackend) and computer.name == "ray"  # the registry's ray backend
    pids = computer.worker_pids()
    seen = []

    def sink(pred) -> None:
        seen.append(pred)
        cancel.set()

    with pytest.raises(Cancelled), computer:
        computer.run_pairs(images, make_pairs(len(images), "complete"), sink, cancel=cancel)
    assert 0 < len(seen) < 12
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)  # the workers are gone, not left computing


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError):  # a killed child not yet reaped by the raylet is a zombie
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


def test_driver_killed_then_resume_recomputes_only_the_missing(ray_session, photos, local_result, tmp_path,
                                                               capsys) -> None:  # fmt: skip
    out = tmp_path / "RESULT.npz"
    scratch = resume_folder(out)
    argv = ["reconstruct", *NET, "--images", *photos, "--out", str(out), "--no-refine", "--backend", "ray",
            "--ray-workers", "1", "--ray-address", ray_session]  # fmt: skip
    driver = subprocess.Popen([sys.executable, "-m", "core", *argv], cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while (
            len(list(scratch.glob("pair_*.npz"))) < 2
            and driver.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert driver.poll() is None, driver.stderr.read().decode()
        driver.kill()  # the driver dies mid-run (kill -9): no clean-up of any kind
        driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
        driver.stderr.close()
    kept = len(list(scratch.glob("pair_*.npz")))
    assert 2 <= kept < 12
    assert not out.exists()
    capsys.readouterr()
    assert cli_main([*argv[:-2], "--resume"]) == 0
    assert f"{kept} pairs reused from pair files, {12 - kept} computed" in capsys.readouterr().out
    _same_npz(out, local_result)


def test_settings_are_checked() -> None:
    for bad in ({"gpus_per_worker": -1}, {"cpus_per_worker": 0}, {"workers": 0}):
        with pytest.raises(Exception, match="at least|or more"):
            RaySettings(**bad)
    assert replace(RaySettings(), workers=3).workers == 3
