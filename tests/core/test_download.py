"""Resumable downloads against a loopback HTTP server (127.0.0.1, no internet)."""

from __future__ import annotations

import hashlib
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import Cancelled, ConfigError
from core.io import checkpoints
from core.io.download import DownloadError, RemoteFile, download_file, part_path
from tests.packaging_support import ServerState, loopback_server

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    with loopback_server({"/model.bin": PAYLOAD}) as running:
        yield running


def _remote(base: str, **kwargs: object) -> RemoteFile:
    return RemoteFile(f"{base}/model.bin", "model.bin", **kwargs)  # type: ignore[arg-type]


def test_download_complete_file_with_progress(server, tmp_path: Path) -> None:
    base, state = server
    seen: list[float] = []
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    path = download_file(_remote(base, size=len(PAYLOAD), sha256=sha), tmp_path, lambda s, f: seen.append(f))
    assert path.read_bytes() == PAYLOAD
    assert not part_path(path).exists()
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert state.ranges == [None]


def test_resume_after_interrupted_transfer(server, tmp_path: Path) -> None:
    base, state = server
    state.cut_after, state.cuts_left = 100_000, 1
    with pytest.raises(DownloadError, match="resumes"):
        download_file(_remote(base), tmp_path, retries=0, chunk_size=4096)
    part = part_path(tmp_path / "model.bin")
    assert part.stat().st_size == 100_000
    assert not (tmp_path / "model.bin").exists()
    path = download_file(_remote(base), tmp_path)
    assert path.read_bytes() == PAYLOAD
    assert state.ranges == [None, "bytes=100000-"]


def test_retry_resumes_within_one_call(server, tmp_path: Path) -> None:
    base, state = server
    state.cut_after, state.cuts_left = 50_000, 2
    cancel = threading.Event()  # the retry back-off waits on it instead of sleeping blind
    path = download_file(_remote(base), tmp_path, cancel=cancel, retries=2, retry_delay=0.01, chunk_size=8192)
    assert path.read_bytes() == PAYLOAD
    assert state.ranges == [None, "bytes=50000-", "bytes=100000-"]


def test_cancel_keeps_part_file_for_resume(server, tmp_path: Path) -> None:
    base, _ = server
    cancel = threading.Event()

    def progress(stage: str, fraction: float) -> None:
        if fraction > 0.1:
            cancel.set()

    with pytest.raises(Cancelled):
        download_file(_remote(base), tmp_path, progress, cancel, chunk_size=16384)
    part = part_path(tmp_path / "model.bin")
    assert 0 < part.stat().st_size < len(PAYLOAD)
    assert download_file(_remote(base), tmp_path).read_bytes() == PAYLOAD


def test_checksum_mismatch_deletes_the_file(server, tmp_path: Path) -> None:
    base, _ = server
    with pytest.raises(DownloadError, match="corrupted"):
        download_file(_remote(base, sha256="0" * 64), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_size_mismatch_is_an_error(server, tmp_path: Path) -> None:
    base, _ = server
    with pytest.raises(DownloadError, match="expected"):
        download_file(_remote(base, size=len(PAYLOAD) + 1), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_server_ignoring_range_restarts_cleanly(server, tmp_path: Path) -> None:
    base, state = server
    state.ignore_range = True
    part_path(tmp_path / "model.bin").write_bytes(b"garbage that must be overwritten")
    assert download_file(_remote(base), tmp_path).read_bytes() == PAYLOAD
    assert state.ranges == ["bytes=32-"]


def test_complete_part_file_is_finished_after_416(server, tmp_path: Path) -> None:
    base, state = server
    part_path(tmp_path / "model.bin").write_bytes(PAYLOAD)
    assert download_file(_remote(base), tmp_path).read_bytes() == PAYLOAD
    assert state.ranges == [f"bytes={len(PAYLOAD)}-"]


def test_existing_complete_file_is_not_downloaded_again(server, tmp_path: Path) -> None:
    base, state = server
    (tmp_path / "model.bin").write_bytes(PAYLOAD)
    download_file(_remote(base, size=len(PAYLOAD)), tmp_path)
    assert state.ranges == []


def test_http_error_is_reported(server, tmp_path: Path) -> None:
    base, _ = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(RemoteFile(f"{base}/missing.bin", "missing.bin"), tmp_path)


def test_connection_refused_is_a_download_error(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="network error"):
        download_file(RemoteFile("http://127.0.0.1:9/x.bin", "x.bin"), tmp_path, retries=0, timeout=2)


def test_only_http_urls(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="only http"):
        download_file(RemoteFile("file:///etc/passwd", "passwd"), tmp_path)


def test_download_checkpoint_into_hugging_face_layout(server, tmp_path: Path, monkeypatch) -> None:
    base, state = server
    name = checkpoints.DEFAULT_CHECKPOINT
    state.files = {
        f"/naver/{name}/resolve/main/config.json": b"{}",
        f"/naver/{name}/resolve/main/model.safetensors": PAYLOAD,
    }
    monkeypatch.setattr(checkpoints, "HUGGING_FACE_BASE", base)
    seen: list[float] = []
    folder = checkpoints.download_checkpoint(name, tmp_path, progress=lambda s, f: seen.append(f))
    assert folder == tmp_path / name
    assert (folder / "model.safetensors").read_bytes() == PAYLOAD
    assert (folder / "config.json").read_bytes() == b"{}"
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_registry_urls_are_official_https() -> None:
    for name, entry in checkpoints.OFFICIAL_CHECKPOINTS.items():
        hf = entry.remote_files("huggingface")
        assert [f.filename for f in hf] == ["config.json", "model.safetensors"]
        assert all(f.url.startswith(f"https://huggingface.co/naver/{name}/resolve/main/") for f in hf)
        (pth,) = entry.remote_files("naver")
        assert pth.url.endswith(f"/ComputerVision/DUSt3R/{name}.pth") and pth.url.startswith("https://")
    with pytest.raises(ConfigError, match="known checkpoints"):
        checkpoints.get_official_checkpoint("DUSt3R_tiny")
    with pytest.raises(ConfigError, match="source"):
        checkpoints.OFFICIAL_CHECKPOINTS[checkpoints.DEFAULT_CHECKPOINT].remote_files("ftp")


def test_hugging_face_download_falls_back_to_pytorch_model_bin(server, tmp_path: Path, monkeypatch) -> None:
    base, state = server
    name = checkpoints.DEFAULT_CHECKPOINT
    state.files = {
        f"/naver/{name}/resolve/main/config.json": b"{}",
        f"/naver/{name}/resolve/main/pytorch_model.bin": PAYLOAD,
    }
    monkeypatch.setattr(checkpoints, "HUGGING_FACE_BASE", base)
    folder = checkpoints.download_checkpoint(name, tmp_path)
    assert (folder / "pytorch_model.bin").read_bytes() == PAYLOAD
    assert not (folder / "model.safetensors").exists()


def test_missing_config_is_not_retried_with_another_name(server, tmp_path: Path, monkeypatch) -> None:
    base, state = server
    state.files = {}
    monkeypatch.setattr(checkpoints, "HUGGING_FACE_BASE", base)
    with pytest.raises(DownloadError, match="config.json") as info:
        checkpoints.download_checkpoint(checkpoints.DEFAULT_CHECKPOINT, tmp_path)
    assert info.value.status == 404


def test_certificate_failure_is_not_retried(tmp_path: Path, monkeypatch) -> None:
    calls: list[str] = []

    def failing_urlopen(request, timeout):
        calls.append(request.full_url)
        raise urllib.error.URLError(ssl.SSLCertVerificationError(1, "certificate verify failed"))

    monkeypatch.setattr(urllib.request, "urlopen", failing_urlopen)
    with pytest.raises(DownloadError, match="certificates"):
        download_file(RemoteFile("https://example.invalid/m.bin", "m.bin"), tmp_path, retries=3)
    assert len(calls) == 1
