"""``dust3r.reconstruct`` with "Compute: Ray Cluster": a Ray job through the Jobs HTTP API (issue 19, item 4).

The cluster is a real Ray head started by this module on 127.0.0.1 (dashboard on loopback) with token
authentication on (Ray 2.60's default), and stopped by it: its process group, which the module created, is
terminated. Success builds what ``import_result`` builds from the job's RESULT.npz; an unreachable address,
a wrong token and a failing job are one error each, with the scene untouched.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import bpy
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT_224 = REPO_ROOT / "tests" / "data" / "tiny_linear_224" / "tiny_linear_224.pth"
FAST = {"image_size": "224", "device": "cpu", "precision": "fp32", "clean_depth": False}
RAY_CLI = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data_counts() -> dict[str, int]:
    names = ("objects", "meshes", "cameras", "collections", "images", "node_groups", "materials")
    return {name: len(getattr(bpy.data, name)) for name in names}


@pytest.fixture(scope="module")
def ray_head():
    """``(dashboard URL, token)`` of a Ray head on 127.0.0.1, started here and stopped at the end."""
    token = secrets.token_hex(16)
    port, dashboard = _free_port(), _free_port()
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths must stay under 107 bytes
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    head = subprocess.Popen(
        [str(RAY_CLI), "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1",
         "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard), "--include-dashboard", "true",
         "--num-cpus", "2", "--temp-dir", temp, "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 180
        while not _answers(url, token):
            assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not start"
            time.sleep(1.0)
        yield url, token
    finally:
        _stop_group(head)
        shutil.rmtree(temp, ignore_errors=True)


def _answers(url: str, token: str) -> bool:
    request = urllib.request.Request(url + "/api/version", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _stop_group(head: subprocess.Popen) -> None:
    """Terminate the head's process group (ours: start_new_session), then kill what is left of it."""
    group = head.pid  # the session leader's pid is the group id
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(group):
            time.sleep(0.5)
    head.wait(10)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def photo_folder(tmp_path, photo_writer) -> Path:
    folder = tmp_path / "shoot"
    folder.mkdir()
    for k in range(3):
        photo_writer(folder / f"img{k}.png", (96, 72), seed=k)
    return folder


@pytest.fixture
def cluster_prefs(addon, ray_head, tmp_path):
    prefs = bpy.context.preferences.addons[addon.module_name].preferences
    prefs.compute = "RAY"
    prefs.ray_address, prefs.ray_token = ray_head
    prefs.ray_result_folder = str(tmp_path / "results")
    (tmp_path / "results").mkdir()
    prefs.ray_distribute = (
        False  # the job on one node (the pairs over workers: tests/core/test_ray_backend.py)
    )
    prefs.ray_python = sys.executable
    yield prefs
    for name in ("compute", "ray_address", "ray_token", "ray_result_folder", "ray_distribute", "ray_python"):
        prefs.property_unset(name)


def test_a_cluster_job_builds_what_import_result_builds(cluster_prefs, photo_folder, tmp_path) -> None:
    result = bpy.ops.dust3r.reconstruct(directory=str(photo_folder), checkpoint=str(CHECKPOINT_224), **FAST)
    assert result == {"FINISHED"}
    written = list((tmp_path / "results").glob("dust3r-*.npz"))
    assert len(written) == 1
    coll = bpy.data.collections["shoot"]
    cams = sorted(
        (o for o in coll.objects if o.get("dust3r_role") == "camera"), key=lambda o: o["dust3r_index"]
    )
    assert [Path(c["dust3r_image"]).name for c in cams] == ["img0.png", "img1.png", "img2.png"]
    with np.load(written[0]) as data:  # the scene is the job's result, written where the preference says
        assert [str(p) for p in data["image_paths"]] == [c["dust3r_image"] for c in cams]
        assert np.isfinite(data["cam2world"]).all()
    first = _built(coll)
    bpy.ops.dust3r.import_result(filepath=str(written[0]))
    imported = [c for c in bpy.data.collections if c.name != "shoot" and c.name.startswith("shoot")]
    assert len(imported) == 1
    again = _built(imported[0])
    assert [key for key, _ in again] == [key for key, _ in first]
    for (_, a), (_, b) in zip(again, first, strict=True):
        np.testing.assert_array_equal(a, b)


def _built(collection) -> list:
    """``((role, view index, point count), matrix_world)`` of everything built, in a stable order."""
    items = []
    for obj in collection.all_objects:
        count = len(obj.data.vertices) if obj.type == "MESH" else 0
        items.append(((str(obj.get("dust3r_role")), int(obj.get("dust3r_index", -1)), count),
                      np.array(obj.matrix_world)))  # fmt: skip
    return sorted(items, key=lambda item: item[0])


@pytest.mark.parametrize("failure", ["unreachable", "wrong token", "job fails"])
def test_a_failure_is_one_error_and_nothing_built(failure, cluster_prefs, photo_folder, tmp_path) -> None:
    checkpoint = CHECKPOINT_224
    if failure == "unreachable":
        cluster_prefs.ray_address = f"http://127.0.0.1:{_free_port()}"
    elif failure == "wrong token":
        cluster_prefs.ray_token = "0" * 32
    else:  # a checkpoint that exists here but is no model: the job's command line exits 2
        checkpoint = tmp_path / "broken.pth"
        checkpoint.write_bytes(b"not a checkpoint")
    before = _data_counts()
    with pytest.raises(RuntimeError) as caught:
        bpy.ops.dust3r.reconstruct(directory=str(photo_folder), checkpoint=str(checkpoint), **FAST)
    message = str(caught.value)
    expected = {"unreachable": "Cannot reach the Ray cluster", "wrong token": "refused the token",
                "job fails": "failed: error:"}[failure]  # fmt: skip
    assert expected in message, message
    assert _data_counts() == before
    assert not list((tmp_path / "results").glob("*.npz"))


def test_cancel_stops_the_cluster_job_and_builds_nothing(
    addon, cluster_prefs, photo_folder, tmp_path
) -> None:
    reconstruct = addon.submodule("jobs.reconstruct")
    cluster_job = addon.submodule("jobs.cluster_job")
    settings = addon.submodule("properties.settings")
    bpy.context.scene.dust3r.image_size = "224"
    base = reconstruct.JobRequest(
        image_paths=tuple(str(p) for p in sorted(photo_folder.glob("*.png"))),
        checkpoint=str(CHECKPOINT_224),
        config=settings.make_config(bpy.context.scene.dust3r, "cpu", "fp32"),
        build=addon.submodule("properties.build_options").BuildOptions(),
        scene_name=bpy.context.scene.name,
    )
    request = cluster_job.cluster_request(base, cluster_prefs)
    before = _data_counts()
    job = reconstruct.start_job(request)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the cluster runs the job, then press Cancel
        job.poll()
        if job.status.stage.startswith(("Loading", "Pairs", "Cluster job running")):
            break
        time.sleep(0.2)
    assert job.status.stage, "the job never started on the cluster"
    job.cancel()
    assert job.join(60)
    outcome = reconstruct.poll_job(bpy.context)
    assert not outcome.finished_ok and job.status.cancelled
    assert _data_counts() == before
    url, token = cluster_prefs.ray_address, cluster_prefs.ray_token
    listing = urllib.request.Request(url + "/api/jobs/", headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with urllib.request.urlopen(listing, timeout=10) as response:
            jobs = json.loads(response.read())
        last = max(jobs, key=lambda j: j.get("start_time") or 0)
        if last["status"] in ("STOPPED", "FAILED", "SUCCEEDED"):
            break
        time.sleep(0.5)
    assert last["status"] == "STOPPED", last["status"]
    assert not list((tmp_path / "results").glob("*.npz"))
