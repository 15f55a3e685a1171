"""Test helpers for packaging: a loopback HTTP server with Range support and a dummy wheel builder.

Shared by tests/core (download, torch installer) and tests/blender (the set-up operators). Import it as
``tests.packaging_support`` (tests/conftest.py puts the repository root on ``sys.path``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DUMMY_MODULE = "dust3r_dummy_torch"
DUMMY_DIST = "dust3r_dummy_torch"


@dataclass
class ServerState:
    files: dict[str, bytes] = field(default_factory=dict)
    cut_after: int | None = None  # close the connection after this many body bytes ...
    cuts_left: int = 0  # ... for this many requests
    ignore_range: bool = False
    ranges: list[str | None] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    state: ServerState

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        state = self.server.state  # type: ignore[attr-defined]
        body = state.files.get(self.path)
        range_header = self.headers.get("Range")
        state.ranges.append(range_header)
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        if range_header and not state.ignore_range:
            start = int(range_header.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        chunk = body[start:]
        self.send_header("Content-Length", str(len(chunk)))
        self.end_headers()
        if state.cuts_left > 0 and state.cut_after is not None:
            state.cuts_left -= 1
            self.wfile.write(chunk[: state.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(chunk)


@contextmanager
def loopback_server(files: dict[str, bytes]) -> Iterator[tuple[str, ServerState]]:
    """A threaded HTTP server on 127.0.0.1 (free port) serving ``files``; stopped on exit."""
    state = ServerState(files=dict(files))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = state  # type: ignore[attr-defined]
    httpd.timeout = 5
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_dummy_wheel(folder: Path, version: str = "1.0") -> Path:
    """Write a minimal, valid pure-Python wheel of ``dust3r_dummy_torch`` into ``folder``."""
    dist_info = f"{DUMMY_DIST}-{version}.dist-info"
    files = {
        f"{DUMMY_MODULE}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {DUMMY_DIST}\nVersion: {version}\nSummary: test stand-in\n"
        ).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record_name = f"{dist_info}/RECORD"
    record = "\n".join([*(_record_line(n, d) for n, d in files.items()), f"{record_name},,"]) + "\n"
    path = folder / f"{DUMMY_DIST}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(record_name, record)
    return path


def isolated_pip_env() -> dict[str, str]:
    """Environment for a pip subprocess that sees no machine-wide index, find-links or constraints."""
    env = dict(os.environ)
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_CONFIG_FILE"] = os.devnull
    for key in ("PYTHONPATH", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT"):
        env.pop(key, None)
    return env
