"""Trusted pair files, farm shards, ``reconstruct --pairs DIR`` and ``--resume`` (issue 19, items 2 and 3).

Everything on the tiny random-weight model in float32 on the CPU, so "identical" means bit for bit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main as cli_main
from core.cli.reconstruct_cmd import resume_folder
from core.errors import Cancelled
from core.graphs.photos import make_pairs
from core.inference.pair_files import PairOrigin, checkpoint_identity, pair_file_name
from core.inference.shards import parse_shard, shard_pairs, split_pairs
from core.jobs.photos import reconstruct
from tests.pipeline_support import FAST_CONFIG, PHOTOS, TINY_CHECKPOINT

CONFIG = replace(FAST_CONFIG, refine=replace(FAST_CONFIG.refine, enabled=False))  # as --no-refine

pytestmark = pytest.mark.usefixtures("one_torch_thread")
REPO_ROOT = Path(__file__).resolve().parents[2]
NET = ["--checkpoint", str(TINY_CHECKPOINT), "--device", "cpu", "--precision", "fp32"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[str]:
    """Four photos: the three examples and a mirrored copy of the first (12 ordered pairs)."""
    folder = tmp_path_factory.mktemp("photos")
    extra = folder / "view4.jpg"
    Image.open(PHOTOS[0]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(extra, quality=95)
    return [*map(str, PHOTOS), str(extra)]


@pytest.fixture(scope="module")
def plain_result(photos, tmp_path_factory) -> Path:
    """RESULT.npz of a plain ``reconstruct`` (no pair files given) through the command line."""
    out = tmp_path_factory.mktemp("plain") / "RESULT.npz"
    assert cli_main(["reconstruct", *NET, "--images", *photos, "--out", str(out), "--no-refine"]) == 0
    assert not resume_folder(out).exists()  # the scratch pairs are removed after a successful run
    return out


def _same_npz(a: Path, b: Path) -> None:
    with np.load(a) as x, np.load(b) as y:
        assert sorted(x.files) == sorted(y.files)
        for key in x.files:
            assert np.array_equal(x[key], y[key], equal_nan=x[key].dtype.kind == "f"), key


def _infer(photos, out: Path, *extra: str) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert cli_main(["infer", *NET, "--images", *photos, "--out", str(out), *extra]) == 0
    return buffer.getvalue()


# --- shards ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "graph", "parts"), [(4, "complete", 3), (30, "complete", 7), (40, "swin-3", 5),
                                                    (9, "logwin-3", 4), (2, "complete", 5)])  # fmt: skip
def test_shards_cover_every_pair_once_balanced_and_local(n: int, graph: str, parts: int) -> None:
    pairs = make_pairs(n, graph)
    shards = [shard_pairs(pairs, n, k, parts) for k in range(1, parts + 1)]
    flat = [p for shard in shards for p in shard]
    assert sorted(flat) == sorted(pairs) and len(flat) == len(set(flat))  # each pair in exactly one shard
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    assert shards == [shard_pairs(list(pairs), n, k, parts) for k in range(1, parts + 1)]  # deterministic


def test_shards_of_a_complete_graph_encode_few_images() -> None:
    n, parts = 100, 50
    pairs = make_pairs(n, "complete")
    ours = [len({k for pair in part for k in pair}) for part in split_pairs(pairs, n, parts)]
    in_graph_order = [len({k for pair in pairs[s::parts] for k in pair}) for s in range(parts)]
    cut = len(pairs) // parts
    contiguous = [len({k for pair in pairs[s * cut : (s + 1) * cut] for k in pair}) for s in range(parts)]
    assert sum(ours) <= 0.5 * min(sum(in_graph_order), sum(contiguous)), (ours, contiguous)
    assert max(ours) <= n / 3


def test_split_pairs_keeps_a_window_graph_local() -> None:
    pairs = make_pairs(40, "swin-2-noncyclic")
    for part in split_pairs(pairs, 40, 8):
        images = sorted({k for pair in part for k in pair})
        assert images[-1] - images[0] <= 12, images  # a stretch of neighbouring frames


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "3", "-1/2"])
def test_bad_shard_is_one_line_exit_2(text: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(Exception, match="shard"):
        parse_shard(text)
    rc = cli_main(["infer", *NET, "--images", str(PHOTOS[0]), "--out", str(tmp_path), f"--shard={text}"])
    assert rc == 2 and "--shard" in capsys.readouterr().err


def test_shards_in_any_order_then_reconstruct_pairs_is_identical(photos, plain_result, tmp_path) -> None:
    pairs_dir = tmp_path / "pairs"
    pairs_dir.mkdir()
    (pairs_dir / "notes.txt").write_text("a file of the farm's own")
    for k in (2, 3):
        assert "computed" in _infer(photos, pairs_dir, "--shard", f"{k}/3")
    before = {p.name: p.stat().st_mtime_ns for p in pairs_dir.iterdir()}
    again = _infer(photos, pairs_dir, "--shard", "3/3")  # one shard run twice: nothing recomputed
    assert "0 computed, 4 valid files kept" in again, again
    assert {p.name: p.stat().st_mtime_ns for p in pairs_dir.iterdir()} == before
    _infer(photos, pairs_dir, "--shard", "1/3")
    names = {p.name for p in pairs_dir.iterdir()}
    assert names == {pair_file_name(i, j) for i in range(4) for j in range(4) if i != j} | {"notes.txt"}
    out = tmp_path / "from_pairs" / "RESULT.npz"
    rc = cli_main(["reconstruct", *NET, "--images", *photos, "--out", str(out), "--no-refine",
                   "--pairs", str(pairs_dir)])  # fmt: skip
    assert rc == 0
    _same_npz(out, plain_result)
    assert len(list(pairs_dir.glob("pair_*.npz"))) == 12  # --pairs DIR is read, never written


def test_pair_files_equal_a_plain_infer(photos, tmp_path) -> None:
    sharded, plain = tmp_path / "sharded", tmp_path / "plain"
    for k in (1, 2, 3, 4, 5):
        _infer(photos, sharded, "--shard", f"{k}/5")
    _infer(photos, plain)
    for path in plain.iterdir():
        _same_npz(path, sharded / path.name)


# --- validity ----------------------------------------------------------------------------------------------


def _break(path: Path, how: str, photos) -> None:
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "corrupt":  # a flipped byte in the middle of an array: the zip's CRC no longer matches
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "foreign":  # a complete, well-formed pair file of other photos (a different origin)
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files}
        arrays["origin"] = np.array(str(arrays["origin"]).replace('"photo_j": "', '"photo_j": "0'))
        np.savez(path, **arrays)
    elif how == "no origin":  # a reference-layout file without a record of what made it
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files if key != "origin"}
        np.savez(path, **arrays)
    elif how == "wrong shape":
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files}
        arrays["pred1_conf"] = arrays["pred1_conf"][:-1]
        np.savez(path, **arrays)


@pytest.mark.parametrize("how", ["truncated", "corrupt", "foreign", "no origin", "wrong shape"])
def test_a_bad_pair_file_is_recomputed_not_trusted(how: str, photos, plain_result, tmp_path, capsys) -> None:
    pairs_dir = tmp_path / "pairs"
    _infer(photos, pairs_dir)
    victim = pairs_dir / pair_file_name(2, 1)
    _break(victim, how, photos)
    out = tmp_path / "r" / "RESULT.npz"
    rc = cli_main(["reconstruct", *NET, "--images", *photos, "--out", str(out), "--no-refine",
                   "--pairs", str(pairs_dir)])  # fmt: skip
    assert rc == 0
    assert "11 pairs reused from pair files, 1 computed" in capsys.readouterr().out
    _same_npz(out, plain_result)


def test_origin_records_the_inputs(photos, tmp_path) -> None:
    from core.inference.images import load_images

    _infer(photos[:2], tmp_path)
    images = load_images(photos[:2], 224)
    origin = PairOrigin.of_run(photos[:2], images, checkpoint_identity(TINY_CHECKPOINT), 224, "fp32")
    assert origin.load_valid(tmp_path / "pair_0_1.npz", 0, 1) is not None
    assert origin.load_valid(tmp_path / "pair_0_1.npz", 1, 0) is None  # another pair's file
    for other in (origin.with_precision("bf16"), PairOrigin(origin.photo_hashes, origin.shapes, "0" * 64, 224,
                                                            "fp32")):  # fmt: skip
        assert other.load_valid(tmp_path / "pair_0_1.npz", 0, 1) is None
    assert origin.with_precision("auto").load_valid(tmp_path / "pair_0_1.npz", 0, 1) is not None
    # the same weights in another layout (the .pth beside the Hugging Face folder) are another checkpoint file,
    # but a copy of the folder elsewhere is the same checkpoint
    copy = tmp_path / "copy"
    copy.mkdir()
    for member in TINY_CHECKPOINT.iterdir():
        if member.is_file():
            (copy / member.name).write_bytes(member.read_bytes())
    assert checkpoint_identity(copy) == checkpoint_identity(TINY_CHECKPOINT)


# --- resume ------------------------------------------------------------------------------------------------


def test_resume_recomputes_only_the_missing_pairs(photos, plain_result, tmp_path, capsys) -> None:
    from core.cli.reconstruct_cmd import _pair_files, add_parser

    out = tmp_path / "RESULT.npz"
    cancel = threading.Event()

    def stop_after_four(stage: str, fraction: float) -> None:
        if stage.startswith("Pairs 4/"):  # the first batch of four pairs is done
            cancel.set()

    import argparse

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["reconstruct", *NET, "--images", *photos, "--out", str(out)])
    with pytest.raises(Cancelled):  # the run is cancelled after four pairs (a crash leaves the same files)
        reconstruct(photos, TINY_CHECKPOINT, CONFIG, progress=stop_after_four, cancel=cancel,
                    pair_files=_pair_files(args, out))  # fmt: skip
    kept = sorted(p.name for p in resume_folder(out).glob("pair_*.npz"))
    assert 4 <= len(kept) < 12, kept
    capsys.readouterr()
    rc = cli_main(["reconstruct", *NET, "--images", *photos, "--out", str(out), "--no-refine", "--resume"])
    assert rc == 0
    assert f"{len(kept)} pairs reused from pair files, {12 - len(kept)} computed" in capsys.readouterr().out
    _same_npz(out, plain_result)
    assert not resume_folder(out).exists()


def test_without_resume_the_scratch_pairs_are_not_used(photos, tmp_path, capsys) -> None:
    out = tmp_path / "RESULT.npz"
    scratch = resume_folder(out)
    _infer(photos, scratch)  # finished pairs of an earlier run, left behind
    rc = cli_main(["reconstruct", *NET, "--images", *photos, "--out", str(out), "--no-refine"])
    assert rc == 0 and "reused" not in capsys.readouterr().out
    assert not scratch.exists()


def test_the_pipeline_without_pair_files_gives_the_same_result(photos, plain_result, tmp_path) -> None:
    result = reconstruct(photos, TINY_CHECKPOINT, CONFIG)
    result.save_npz(tmp_path / "RESULT.npz")
    _same_npz(tmp_path / "RESULT.npz", plain_result)


# --- Ray missing -------------------------------------------------------------------------------------------


def test_backend_ray_without_ray_exits_2_with_the_install_line(tmp_path) -> None:
    hide_ray = "import runpy, sys; sys.modules['ray'] = None; sys.argv[0] = 'core'; runpy.run_module('core', run_name='__main__')"
    for command in ("infer", "reconstruct"):
        out = str(tmp_path / ("RESULT.npz" if command == "reconstruct" else "pairs"))
        proc = subprocess.run([sys.executable, "-c", hide_ray, command, *NET, "--images", str(PHOTOS[0]),
                               "--out", out, "--backend", "ray"], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, (proc.returncode, proc.stderr)
        assert "pip install 'ray[default]'" in lines[0], lines


def test_ray_address_auto_starts_a_local_ray_when_none_runs(photos, tmp_path) -> None:
    """No Ray running, none given: ``--ray-address auto`` starts one on 127.0.0.1, uses it and shuts it down."""
    local, remote = tmp_path / "local", tmp_path / "ray"
    _infer(photos[:2], local)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(
        OMP_NUM_THREADS="1", RAY_AUTH_MODE="disabled"
    )  # loopback only; no token file in the home folder
    proc = subprocess.run([sys.executable, "-m", "core", "infer", *NET, "--images", *photos[:2], "--out",
                           str(remote), "--backend", "ray", "--ray-workers", "1"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 computed" in proc.stdout
    for path in local.iterdir():
        with np.load(path) as a, np.load(remote / path.name) as b:
            assert all(np.array_equal(a[k], b[k]) for k in a.files)
