"""Resumable HTTP(S) downloads with progress, cancel and integrity checks (standard library only).

A file is downloaded into ``<name>.part`` next to its destination; an interrupted or cancelled transfer
leaves the ``.part`` file in place and the next call resumes it with an HTTP ``Range`` request. When the
transfer is complete the size (and the SHA-256, when known) is checked and the file is renamed into place
atomically, so a destination file that exists is always a complete one.

Only the caller decides whether the network may be used: nothing here runs on import, and the Blender
operator checks ``bpy.app.online_access`` before calling :func:`download_file`.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import Dust3rError
from ..progress import ProgressFn, check_cancel, no_progress

log = logging.getLogger(__name__)

CHUNK_SIZE = 1 << 20
USER_AGENT = "dust3r-blender-extension (urllib)"
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIABLE_RANGE = re.compile(r"bytes\s+\*/(\d+)")
# Transient failures worth a resumed retry (the connection dropped, the server hiccuped).
_TRANSIENT = (http.client.IncompleteRead, ConnectionError, TimeoutError, urllib.error.URLError)
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class DownloadError(Dust3rError):
    """A download failed (network, HTTP error, size or checksum mismatch, no space left).

    ``status`` is the HTTP status code when the server answered with an error (404: no such file).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: ``url``, the ``filename`` to store it under, and what is known about it."""

    url: str
    filename: str
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class _Response:
    """The part of an HTTP answer that decides how to write: where the body starts and the file's size."""

    start: int
    total: int | None


def part_path(dest: Path) -> Path:
    """The partial file that holds an unfinished download of ``dest``."""
    return dest.with_name(dest.name + ".part")


def download_file(
    remote: RemoteFile,
    dest_dir: Path | str,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    *,
    timeout: float = 30.0,
    retries: int = 3,
    retry_delay: float = 2.0,
    chunk_size: int = CHUNK_SIZE,
) -> Path:
    """Download ``remote`` into ``dest_dir/remote.filename``, resuming a previous partial transfer.

    Returns the destination path. An existing complete destination (right size and checksum when they
    are known) is returned at once. ``progress(stage, fraction)`` receives the fraction of this file;
    ``cancel`` is checked between chunks and raises :class:`~core.errors.Cancelled` (the ``.part`` file is
    kept for a later resume). Dropped connections are retried ``retries`` times, resuming, after
    ``retry_delay`` seconds (doubling). Raises :class:`DownloadError` with a user-facing message on failure.
    """
    _check_url(remote.url)
    progress = progress or no_progress
    dest = Path(dest_dir) / remote.filename
    if dest.is_file() and _is_complete(dest, remote):
        progress(f"{remote.filename}: already downloaded", 1.0)
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"Cannot create the download folder {dest.parent}: {exc.strerror}.") from exc
    part = part_path(dest)
    attempt = 0
    while True:
        check_cancel(cancel)
        try:
            total = _transfer(remote, part, progress, cancel, timeout, chunk_size)
            break
        except _TRANSIENT as exc:
            if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, ssl.SSLError):
                raise DownloadError(
                    f"Secure connection to {urllib.parse.urlsplit(remote.url).netloc} failed ({exc.reason}). "
                    "Check the system's certificates, or the proxy that intercepts HTTPS."
                ) from exc
            attempt += 1
            if attempt > retries:
                raise DownloadError(
                    f"Downloading {remote.filename} failed after {retries + 1} attempts ({_describe(exc)}). "
                    "Check the internet connection and try again: the download resumes where it stopped."
                ) from exc
            log.warning("download of %s interrupted (%s); retry %d/%d", remote.url, exc, attempt, retries)
            delay = min(retry_delay * 2 ** (attempt - 1), 30.0)
            if cancel is None:
                time.sleep(delay)
            elif cancel.wait(delay):
                check_cancel(cancel)
    _verify(part, remote, total, progress, cancel)
    os.replace(part, dest)
    progress(f"{remote.filename}: done", 1.0)
    return dest


def _check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise DownloadError(f"Refusing to download {url!r}: only http(s) URLs are supported.")


def _is_complete(path: Path, remote: RemoteFile) -> bool:
    if remote.size is not None and path.stat().st_size != remote.size:
        return False
    if remote.sha256 is not None:
        return sha256_of(path) == remote.sha256.lower()
    return True


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return f"network error: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def _transfer(
    remote: RemoteFile,
    part: Path,
    progress: ProgressFn,
    cancel: threading.Event | None,
    timeout: float,
    chunk_size: int,
) -> int | None:
    """One HTTP request: append to ``part`` from its current size; returns the total size if known."""
    offset = part.stat().st_size if part.is_file() else 0
    if remote.size is not None and offset > remote.size:
        log.info("partial file %s is larger than expected; restarting", part)
        part.unlink()
        offset = 0
    request = urllib.request.Request(remote.url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return _handle_unsatisfiable(exc, part, offset)
        if exc.code in _RETRY_STATUS:
            raise ConnectionError(f"HTTP {exc.code} {exc.reason}") from exc
        raise DownloadError(
            f"Downloading {remote.filename} failed: the server answered HTTP {exc.code} ({exc.reason}) "
            f"for {remote.url}.",
            status=exc.code,
        ) from exc
    with response:
        answer = _parse_response(response, offset)
        if answer.start == 0 and offset:
            log.info("server ignored the Range request for %s; restarting from 0", remote.url)
        _write_body(response, part, answer, remote.filename, progress, cancel, chunk_size)
    return answer.total


def _handle_unsatisfiable(exc: urllib.error.HTTPError, part: Path, offset: int) -> int | None:
    """HTTP 416 on a resume: the ``.part`` file is already complete, or it is garbage and restarts."""
    match = _UNSATISFIABLE_RANGE.match(exc.headers.get("Content-Range", "") or "")
    if match and int(match.group(1)) == offset:
        return offset
    log.info("server refused to resume at byte %d; restarting", offset)
    part.unlink()
    raise ConnectionError("range not satisfiable; restarting from the beginning") from exc


def _parse_response(response: http.client.HTTPResponse, offset: int) -> _Response:
    length_header = response.headers.get("Content-Length")
    length = int(length_header) if length_header and length_header.isdigit() else None
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "") or "")
        if not match or int(match.group(1)) != offset:
            raise DownloadError(
                f"The server sent an unexpected byte range ({response.headers.get('Content-Range')!r})."
            )
        total = None if match.group(3) == "*" else int(match.group(3))
        return _Response(start=offset, total=total)
    return _Response(start=0, total=length)


def _write_body(
    response: http.client.HTTPResponse,
    part: Path,
    answer: _Response,
    name: str,
    progress: ProgressFn,
    cancel: threading.Event | None,
    chunk_size: int,
) -> None:
    mode = "ab" if answer.start else "wb"
    done = answer.start
    try:
        with part.open(mode) as out:
            while True:
                check_cancel(cancel)
                chunk = response.read(chunk_size)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                _report(progress, name, done, answer.total)
    except OSError as exc:
        if isinstance(exc, ConnectionError | TimeoutError):
            raise
        raise DownloadError(f"Cannot write {part}: {exc.strerror or exc}.") from exc
    if answer.total is not None and done < answer.total:
        raise http.client.IncompleteRead(b"", answer.total - done)


def _report(progress: ProgressFn, name: str, done: int, total: int | None) -> None:
    mib = 1024 * 1024
    if total:
        progress(f"Downloading {name} {done / mib:.0f}/{total / mib:.0f} MiB", min(done / total, 1.0) * 0.99)
    else:
        progress(f"Downloading {name} {done / mib:.0f} MiB", 0.0)


def _verify(
    part: Path,
    remote: RemoteFile,
    total: int | None,
    progress: ProgressFn,
    cancel: threading.Event | None,
) -> None:
    size = part.stat().st_size
    for expected, what in ((total, "the server announced"), (remote.size, "expected")):
        if expected is not None and size != expected:
            part.unlink()
            raise DownloadError(
                f"{remote.filename} has {size} bytes but {what} {expected}; the partial file was deleted, "
                "please try again."
            )
    if remote.sha256 is None:
        return
    progress(f"Verifying {remote.filename}", 0.99)
    digest = sha256_of(part, cancel)
    if digest != remote.sha256.lower():
        part.unlink()
        raise DownloadError(
            f"{remote.filename} is corrupted (SHA-256 {digest[:12]}... instead of {remote.sha256[:12]}...); "
            "the file was deleted, please try again."
        )


def sha256_of(path: Path, cancel: threading.Event | None = None) -> str:
    """Hex SHA-256 of a file, read in chunks (checks ``cancel`` between chunks)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        while chunk := stream.read(CHUNK_SIZE * 8):
            check_cancel(cancel)
            digest.update(chunk)
    return digest.hexdigest()
