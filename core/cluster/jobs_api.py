"""A small client of the Ray Jobs HTTP API (the dashboard's REST endpoint), in plain :mod:`urllib`.

Blender has no Ray, so the add-on talks to the cluster's dashboard (``http://HEAD:8265``) directly:

* ``GET /api/version``: is the cluster there;
* ``GET`` / ``PUT /api/packages/gcs/<name>.zip``: a content-addressed code package (our ``core``) that the
  job's working folder is unpacked from;
* ``POST /api/jobs/`` (entrypoint, runtime_env, metadata) -> ``submission_id``; ``GET /api/jobs/<id>``
  (status: PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED); ``GET /api/jobs/<id>/logs``;
  ``POST /api/jobs/<id>/stop``.

Since Ray 2.60 token authentication is on by default: every request carries ``Authorization: Bearer
<token>`` when a token is given (the token the cluster printed, or ``ray get-auth-token``). Every failure is
a :class:`~core.errors.ClusterError` with one sentence for the artist.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request

from ..errors import ClusterError

DEFAULT_PORT = 8265
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
PACKAGE_PREFIX = "_ray_pkg_"  # the name pattern Ray gives uploaded packages
SUBMIT_PATIENCE_S = 90.0  # a cluster that just started has no job agent yet ("try again later")
_RETRY_LATER = "try again later"


def dashboard_url(address: str) -> str:
    """``head``, ``head:8265`` or ``http(s)://head:8265/`` -> ``http(s)://head:8265``.

    Raises:
        ClusterError: an empty address.
    """
    text = str(address or "").strip().rstrip("/")
    if not text:
        raise ClusterError(
            "No Ray cluster address set: enter the cluster's dashboard address (for example "
            "http://head-node:8265) in Preferences > Add-ons > DUSt3R."
        )
    if "://" not in text:
        text = "http://" + text
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ClusterError(f"'{address}' is not a Ray dashboard address (use http://host:{DEFAULT_PORT}).")
    port = parsed.port or DEFAULT_PORT
    return f"{parsed.scheme}://{parsed.hostname}:{port}"


class RayJobsClient:
    """The Jobs API of one cluster.

    Args:
        address: the dashboard address (:func:`dashboard_url`).
        token: the cluster's authentication token ('' when the cluster has token authentication off).
        timeout: seconds per request.
    """

    def __init__(self, address: str, token: str = "", timeout: float = 15.0) -> None:
        self.url = dashboard_url(address)
        self.token = str(token or "").strip()
        self.timeout = timeout

    def _request(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json",
                 allow: tuple[int, ...] = ()) -> tuple[int, bytes]:  # fmt: skip
        headers = {"Content-Type": content_type} if body is not None else {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace").strip()
            if exc.code in allow:
                return exc.code, detail.encode()
            if exc.code in (401, 403):
                what = "needs a token" if exc.code == 401 and not self.token else "refused the token"
                raise ClusterError(
                    f"The Ray cluster at {self.url} {what} (HTTP {exc.code}): enter the cluster's token (ray "
                    "get-auth-token on the head node) in Preferences > Add-ons > DUSt3R."
                ) from exc
            first = detail.splitlines()[-1] if detail else exc.reason
            raise ClusterError(
                f"The Ray cluster at {self.url} answered HTTP {exc.code} to {path}: {first}"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClusterError(
                f"Cannot reach the Ray cluster at {self.url} ({reason}): check the address in Preferences > "
                "Add-ons > DUSt3R and that the cluster's dashboard is running."
            ) from exc

    def _json(self, method: str, path: str, payload: dict | None = None) -> dict:
        body = None if payload is None else json.dumps(payload).encode()
        _, data = self._request(method, path, body)
        try:
            return json.loads(data.decode() or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ClusterError(f"The Ray cluster at {self.url} sent an unreadable answer to {path}.") from exc

    def version(self) -> dict:
        """The cluster's version record (a cheap check that it is there and accepts the token)."""
        return self._json("GET", "/api/version")

    def upload_package(self, zip_bytes: bytes) -> str:
        """Upload a zip (unless the cluster has it already); returns its ``gcs://`` URI for a runtime_env."""
        name = f"{PACKAGE_PREFIX}{hashlib.sha1(zip_bytes).hexdigest()}.zip"
        path = f"/api/packages/gcs/{name}"
        status, _ = self._request("GET", path, allow=(404,))
        if status == 404:
            self._request("PUT", path, zip_bytes, content_type="application/octet-stream")
        return f"gcs://{name}"

    def submit(self, entrypoint: str, runtime_env: dict | None = None, metadata: dict | None = None,
               patience_s: float = SUBMIT_PATIENCE_S) -> str:  # fmt: skip
        """Start a job; returns its submission id. While the cluster answers that it has no job agent yet
        (it is starting), the submission is tried again for up to ``patience_s`` seconds."""
        payload = {"entrypoint": entrypoint, "runtime_env": runtime_env or {}, "metadata": metadata or {}}
        deadline = time.monotonic() + patience_s
        while True:
            try:
                answer = self._json("POST", "/api/jobs/", payload)
                break
            except ClusterError as exc:
                if _RETRY_LATER not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)
        job = answer.get("submission_id") or answer.get("job_id")
        if not job:
            raise ClusterError(f"The Ray cluster at {self.url} did not return a job id.")
        return str(job)

    def status(self, job: str) -> dict:
        """``{"status": ..., "message": ...}`` of a job."""
        return self._json("GET", f"/api/jobs/{urllib.parse.quote(job)}")

    def logs(self, job: str) -> str:
        """The job's output so far."""
        return str(self._json("GET", f"/api/jobs/{urllib.parse.quote(job)}/logs").get("logs", ""))

    def stop(self, job: str) -> None:
        """Ask the cluster to stop a job (its driver and its workers)."""
        self._json("POST", f"/api/jobs/{urllib.parse.quote(job)}/stop")
