"""Registry of the official DUSt3R checkpoints and their download into a local folder.

Two official sources publish the same weights:

* Hugging Face, repositories ``naver/<name>``: ``model.safetensors`` + ``config.json`` (the layout that
  ``huggingface_hub.PyTorchModelHubMixin`` writes). Safe to load (no pickle): our default.
* NAVER LABS Europe's download server: the original ``<name>.pth`` files listed in the official README.

Sizes and checksums are not pinned: they were not verifiable offline when this registry was written, so the
download checks the size the server announces, and the SHA-256 the caller gives (``python -m core download
--sha256``, e.g. copied from the model page). Add ``size``/``sha256`` to a :class:`RemoteFile` to pin them.

The weights are NAVER LABS Europe's, licensed CC BY-NC-SA 4.0 (non-commercial): :data:`LICENSE_NOTICE` is
the one text of that licence that the command line prints (and asks to accept) and the Blender preferences
show beside Download.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ConfigError
from ..progress import ProgressFn, sub_progress
from .download import DownloadError, RemoteFile, download_file

log = logging.getLogger(__name__)

HUGGING_FACE_BASE = "https://huggingface.co"
NAVER_BASE = "https://download.europe.naverlabs.com/ComputerVision/DUSt3R"
SOURCES = ("huggingface", "naver")
WEIGHTS_LICENSE = "CC BY-NC-SA 4.0"
WEIGHTS_LICENSE_URL = "https://creativecommons.org/licenses/by-nc-sa/4.0/"
LICENSE_NOTICE = (
    f"The official DUSt3R checkpoints (NAVER LABS Europe) are licensed {WEIGHTS_LICENSE}: "
    "non-commercial use only."
)


@dataclass(frozen=True)
class OfficialCheckpoint:
    """One released model: its official name, its short name (``512_dpt``: the command line's ``--model``),
    a label and a one-line description for menus, and its approximate size."""

    name: str
    key: str
    label: str
    description: str
    approx_bytes: int

    def remote_files(
        self, source: str = "huggingface", base_url: str | None = None, sha256: str | None = None
    ) -> tuple[RemoteFile, ...]:
        """The files to fetch from ``source`` (``"huggingface"`` or ``"naver"``), largest last.

        Args:
            base_url: a mirror with the source's layout instead of the official server (tests: a loopback
                server).
            sha256: the weights' expected SHA-256 (hex), checked before the file is kept.
        """
        if source == "huggingface":
            weights = self._hugging_face_file("model.safetensors", base_url)
            return (self._hugging_face_file("config.json", base_url), replace(weights, sha256=sha256))
        if source == "naver":
            base = (base_url or NAVER_BASE).rstrip("/")
            return (RemoteFile(f"{base}/{self.name}.pth", f"{self.name}.pth", sha256=sha256),)
        raise ConfigError(f"Unknown checkpoint source {source!r}; expected one of {', '.join(SOURCES)}.")

    def fallback_file(
        self, source: str = "huggingface", base_url: str | None = None, sha256: str | None = None
    ) -> RemoteFile | None:
        """Weights to fetch instead when the last of :meth:`remote_files` does not exist (HTTP 404).

        Repositories uploaded with older ``huggingface_hub`` releases hold ``pytorch_model.bin`` instead of
        ``model.safetensors``; the loader accepts both layouts.
        """
        if source != "huggingface":
            return None
        return replace(self._hugging_face_file("pytorch_model.bin", base_url), sha256=sha256)

    def _hugging_face_file(self, filename: str, base_url: str | None = None) -> RemoteFile:
        base = (base_url or HUGGING_FACE_BASE).rstrip("/")
        return RemoteFile(f"{base}/naver/{self.name}/resolve/main/{filename}", filename)


_OFFICIAL_PREFIX = "DUSt3R_ViTLarge_BaseDecoder_"
OFFICIAL_CHECKPOINTS: dict[str, OfficialCheckpoint] = {
    entry.name: entry
    for entry in (
        OfficialCheckpoint(f"{_OFFICIAL_PREFIX}512_dpt", "512_dpt", "512 DPT",
                           "512 px, DPT head: best quality, the default", 2_311_226_912),
        OfficialCheckpoint(f"{_OFFICIAL_PREFIX}512_linear", "512_linear", "512 Linear",
                           "512 px, linear head", 2_129_371_136),
        OfficialCheckpoint(f"{_OFFICIAL_PREFIX}224_linear", "224_linear", "224 Linear",
                           "224 px, linear head: fastest", 2_129_371_136),
    )
}  # fmt: skip
DEFAULT_CHECKPOINT = f"{_OFFICIAL_PREFIX}512_dpt"


def checkpoint_by_key(key: str) -> OfficialCheckpoint:
    """The registry entry whose short name (``512_dpt``) or full name is ``key``; raises
    :class:`ConfigError` listing the short names."""
    for entry in OFFICIAL_CHECKPOINTS.values():
        if key in (entry.key, entry.name):
            return entry
    known = ", ".join(entry.key for entry in OFFICIAL_CHECKPOINTS.values())
    raise ConfigError(f"unknown model {key!r}: choose one of {known}")


def get_official_checkpoint(name: str) -> OfficialCheckpoint:
    """The registry entry for ``name``; raises :class:`ConfigError` listing the known names."""
    try:
        return OFFICIAL_CHECKPOINTS[name]
    except KeyError:
        known = ", ".join(sorted(OFFICIAL_CHECKPOINTS))
        raise ConfigError(f"Unknown checkpoint {name!r}; known checkpoints: {known}.") from None


def checkpoint_target(dest_dir: Path | str, name: str, source: str = "huggingface") -> Path:
    """What :func:`download_checkpoint` returns: the folder (Hugging Face) or the ``.pth`` file (NAVER)."""
    folder = Path(dest_dir) / name
    return folder if source == "huggingface" else folder / f"{name}.pth"


def download_checkpoint(
    name: str,
    dest_dir: Path | str,
    source: str = "huggingface",
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    *,
    base_url: str | None = None,
    sha256: str | None = None,
) -> Path:
    """Download (or resume) the official checkpoint ``name`` into ``dest_dir/name/``.

    Returns a path that ``core.model.checkpoint.load_model`` accepts: the folder holding
    ``model.safetensors`` + ``config.json`` for Hugging Face, the ``.pth`` file for NAVER. ``base_url`` and
    ``sha256``: see :meth:`OfficialCheckpoint.remote_files` (a checksum mismatch deletes the file and raises
    :class:`~.download.DownloadError`).
    """
    checkpoint = get_official_checkpoint(name)
    files = checkpoint.remote_files(source, base_url, sha256)
    folder = Path(dest_dir) / name
    # config.json is a few hundred bytes: give the weights almost all of the bar.
    bounds = [0.0] + [0.01 * (i + 1) for i in range(len(files) - 1)] + [1.0]
    for index, remote in enumerate(files):
        part_progress = sub_progress(progress, bounds[index], bounds[index + 1])
        try:
            download_file(remote, folder, part_progress, cancel)
        except DownloadError as exc:
            fallback = checkpoint.fallback_file(source, base_url, sha256) if index == len(files) - 1 else None
            if exc.status != 404 or fallback is None:
                raise
            log.info("%s not found; trying %s", remote.url, fallback.url)
            download_file(fallback, folder, part_progress, cancel)
    return checkpoint_target(dest_dir, name, source)
