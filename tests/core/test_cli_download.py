"""``python -m core download`` against a loopback HTTP server (127.0.0.1, stopped by each test): the licence
first and required, resume, checksum, bad input (issue 21)."""

from __future__ import annotations

import hashlib
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.cli.download_cmd import BASE_URL_ENV
from core.io.checkpoints import LICENSE_NOTICE, OFFICIAL_CHECKPOINTS, WEIGHTS_LICENSE, checkpoint_by_key
from core.io.download import part_path
from tests.cli_support import message_lines
from tests.packaging_support import loopback_server

REPO_ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = bytes(range(256)) * 512  # 128 KiB of "weights"
NAME = checkpoint_by_key("224_linear").name


def _files(name: str = NAME, weights: bytes = PAYLOAD) -> dict[str, bytes]:
    return {
        f"/naver/{name}/resolve/main/config.json": b"{}",
        f"/naver/{name}/resolve/main/model.safetensors": weights,
    }


def _argv(dest: Path, base: str, *extra: str) -> list[str]:
    return ["download", "--model", "224_linear", "--dest", str(dest), "--base-url", base, *extra]


def test_download_prints_the_licence_then_fetches(tmp_path, capsys) -> None:
    with loopback_server(_files()) as (base, state):
        assert main(_argv(tmp_path, base, "--accept-license")) == 0
    folder = tmp_path / NAME
    assert (folder / "model.safetensors").read_bytes() == PAYLOAD and (
        folder / "config.json"
    ).read_bytes() == b"{}"
    captured = capsys.readouterr()
    assert message_lines(captured.err)[0].startswith("licence: ") and WEIGHTS_LICENSE in captured.err
    assert captured.err.index("licence:") < captured.err.index("progress:")  # the licence comes first
    assert f"checkpoint ready: {folder}" in captured.out
    assert state.ranges == [None, None]


def test_download_resumes_a_partial_file(tmp_path, capsys) -> None:
    folder = tmp_path / NAME
    folder.mkdir()
    (folder / "config.json").write_bytes(b"{}")
    part_path(folder / "model.safetensors").write_bytes(PAYLOAD[:50_000])
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    with loopback_server(_files()) as (base, state):
        assert main(_argv(tmp_path, base, "--accept-license", "--sha256", sha)) == 0
    assert (folder / "model.safetensors").read_bytes() == PAYLOAD
    assert not part_path(folder / "model.safetensors").exists()
    assert state.ranges == ["bytes=50000-"]  # config.json was complete; the weights resumed


def test_checksum_mismatch_is_refused_and_the_file_deleted(tmp_path, capsys) -> None:
    with loopback_server(_files()) as (base, _):
        assert main(_argv(tmp_path, base, "--accept-license", "--sha256", "0" * 64)) == 2
    lines = message_lines(capsys.readouterr().err)
    assert lines[-1].startswith("error: ") and "corrupted" in lines[-1] and "deleted" in lines[-1]
    weights = tmp_path / NAME / "model.safetensors"
    assert not weights.exists() and not part_path(weights).exists()  # the downloader's contract: deleted


def test_without_accepting_the_licence_nothing_is_fetched(tmp_path) -> None:
    """No --accept-license and no terminal to ask on (stdin is not one): exit 2, one line naming the
    licence; the server is never asked. The base URL comes from the environment here."""
    with loopback_server(_files()) as (base, state):
        proc = subprocess.run([sys.executable, "-m", "core", "download", "--model", "224_linear", "--dest",
                               str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, env={**os.environ, BASE_URL_ENV: base})  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and LICENSE_NOTICE in lines[0], lines
    assert "--accept-license" in lines[0]
    assert state.ranges == [] and list(tmp_path.iterdir()) == []


def test_a_yes_on_the_terminal_accepts_the_licence(tmp_path) -> None:
    master, slave = os.openpty()
    with loopback_server(_files()) as (base, state):
        proc = subprocess.Popen([sys.executable, "-m", "core", *_argv(tmp_path, base)], cwd=REPO_ROOT,
                                stdin=slave, stdout=subprocess.PIPE, stderr=slave)  # fmt: skip
        os.close(slave)
        screen = b""
        try:
            while b"[y/N]" not in screen:
                ready, _, _ = select.select([master], [], [], 60)
                assert ready, screen
                screen += os.read(master, 4096)
            os.write(master, b"y\n")
            out, _ = proc.communicate(timeout=120)
        finally:
            os.close(master)
    assert proc.returncode == 0 and b"checkpoint ready" in out
    assert LICENSE_NOTICE.encode() in screen
    assert (tmp_path / NAME / "model.safetensors").read_bytes() == PAYLOAD


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "1024_dpt"], "unknown model '1024_dpt': choose one of 512_dpt, 512_linear, 224_linear"),
        (["--sha256", "abc"], "--sha256 must be 64 hexadecimal digits"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(extra, message, tmp_path, capsys) -> None:
    assert main(["download", "--dest", str(tmp_path), "--accept-license", *extra]) == 2
    lines = message_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(f"error: {message}"), lines
    assert list(tmp_path.iterdir()) == []


def test_the_model_table_is_the_registry() -> None:
    assert [entry.key for entry in OFFICIAL_CHECKPOINTS.values()] == ["512_dpt", "512_linear", "224_linear"]
    assert all(checkpoint_by_key(entry.name) is entry for entry in OFFICIAL_CHECKPOINTS.values())
    assert "CC BY-NC-SA 4.0" in LICENSE_NOTICE and "non-commercial" in LICENSE_NOTICE


_BARE_PYTHON = """
import sys
for name in ("numpy", "PIL", "scipy", "torch", "safetensors", "av"):  # a Python with the standard library only
    sys.modules[name] = None
from core.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_download_needs_only_the_standard_library(tmp_path) -> None:
    """A bare Python (no NumPy, Pillow, torch) can fetch the weights; the commands that need more say what
    is missing, in one line."""
    with loopback_server(_files()) as (base, _):
        proc = subprocess.run([sys.executable, "-c", _BARE_PYTHON, *_argv(tmp_path, base, "--accept-license")],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / NAME / "model.safetensors").read_bytes() == PAYLOAD
    proc = subprocess.run([sys.executable, "-c", _BARE_PYTHON, "export", "--input", "r.npz", "--format", "ply"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: python -m core export needs the package"), lines
