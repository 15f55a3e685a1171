"""Registry of the official DUSt3R checkpoints and their download into a local folder.

Two official sources publish the same weights:

* Hugging Face, repositories ``naver/<name>``: ``model.safetensors`` + ``config.json`` (the layout that
  ``huggingface_hub.PyTorchModelHubMixin`` writes). Safe to load (no pickle): our default.
* NAVER LABS Europe's download server: the original ``<name>.pth`` files listed in the official README.

Sizes and checksums are not pinned: they were not verifiable offline when this registry was written, so the
download checks the size the server announces. Add ``size``/``sha256`` to a :class:`RemoteFile` to pin them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..progress import ProgressFn, sub_progress
from .download import DownloadError, RemoteFile, download_file

log = logging.getLogger(__name__)

HUGGING_FACE_BASE = "https://huggingface.co"
NAVER_BASE = "https://download.europe.naverlabs.com/ComputerVision/DUSt3R"
SOURCES = ("huggingface", "naver")


@dataclass(frozen=True)
class OfficialCheckpoint:
    """One released model: its official name, a one-line description and its approximate size."""

    name: str
    description: str
    approx_bytes: int

    def remote_files(self, source: str = "huggingface") -> tuple[RemoteFile, ...]:
        """The files to fetch from ``source`` (``"huggingface"`` or ``"naver"``), largest last."""
        if source == "huggingface":
            return (self._hugging_face_file("config.json"), self._hugging_face_file("model.safetensors"))
        if source == "naver":
            return (RemoteFile(f"{NAVER_BASE}/{self.name}.pth", f"{self.name}.pth"),)
        raise ConfigError(f"Unknown checkpoint source {source!r}; expected one of {', '.join(SOURCES)}.")

    def fallback_file(self, source: str = "huggingface") -> RemoteFile | None:
        """Weights to fetch instead when the last of :meth:`remote_files` does not exist (HTTP 404).

        Repositories uploaded with older ``huggingface_hub`` releases hold ``pytorch_model.bin`` instead of
        ``model.safetensors``; the loader accepts both layouts.
        """
        return self._hugging_face_file("pytorch_model.bin") if source == "huggingface" else None

    def _hugging_face_file(self, filename: str) -> RemoteFile:
        return RemoteFile(f"{HUGGING_FACE_BASE}/naver/{self.name}/resolve/main/{filename}", filename)


OFFICIAL_CHECKPOINTS: dict[str, OfficialCheckpoint] = {
    "DUSt3R_ViTLarge_BaseDecoder_512_dpt": OfficialCheckpoint(
        "DUSt3R_ViTLarge_BaseDecoder_512_dpt", "512 px, DPT head (best quality, the default)", 2_311_226_912
    ),
    "DUSt3R_ViTLarge_BaseDecoder_512_linear": OfficialCheckpoint(
        "DUSt3R_ViTLarge_BaseDecoder_512_linear", "512 px, linear head", 2_129_371_136
    ),
    "DUSt3R_ViTLarge_BaseDecoder_224_linear": OfficialCheckpoint(
        "DUSt3R_ViTLarge_BaseDecoder_224_linear", "224 px, linear head (fastest)", 2_129_371_136
    ),
}
DEFAULT_CHECKPOINT = "DUSt3R_ViTLarge_BaseDecoder_512_dpt"


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
) -> Path:
    """Download (or resume) the official checkpoint ``name`` into ``dest_dir/name/``.

    Returns a path that ``core.model.checkpoint.load_model`` accepts: the folder holding
    ``model.safetensors`` + ``config.json`` for Hugging Face, the ``.pth`` file for NAVER.
    """
    checkpoint = get_official_checkpoint(name)
    files = checkpoint.remote_files(source)
    folder = Path(dest_dir) / name
    # config.json is a few hundred bytes: give the weights almost all of the bar.
    bounds = [0.0] + [0.01 * (i + 1) for i in range(len(files) - 1)] + [1.0]
    for index, remote in enumerate(files):
        part_progress = sub_progress(progress, bounds[index], bounds[index + 1])
        try:
            download_file(remote, folder, part_progress, cancel)
        except DownloadError as exc:
            fallback = checkpoint.fallback_file(source) if index == len(files) - 1 else None
            if exc.status != 404 or fallback is None:
                raise
            log.info("%s not found; trying %s", remote.url, fallback.url)
            download_file(fallback, folder, part_progress, cancel)
    return checkpoint_target(dest_dir, name, source)
