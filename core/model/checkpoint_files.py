"""Safe reading of checkpoint files: official ``.pth`` and Hugging Face ``model.safetensors`` + ``config.json``.

Nothing stored in a file is ever executed: ``.pth`` files go through ``torch.load(weights_only=True)`` with
only ``argparse.Namespace`` allow-listed (the official trainer pickles its arguments), safetensors files hold
raw tensors, and the architecture string is parsed with :mod:`ast` (:mod:`.constructor_args`). Every failure
is a :class:`~core.errors.CheckpointError` whose message names the problem.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import re
import struct
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import CheckpointError, DependencyError
from .constructor_args import parse_constructor

logger = logging.getLogger(__name__)

SAFETENSORS_NAME = "model.safetensors"
HF_BIN_NAME = "pytorch_model.bin"  # what older huggingface_hub mixins wrote instead of safetensors
HF_CONFIG_NAME = "config.json"
_COUNTERS = ("num_batches_tracked",)  # integer buffers a state dict may legitimately hold
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTO = 0x80
# Errors that torch.load raises on malformed input (it has no single exception type for "bad file").
_TORCH_LOAD_ERRORS = (
    pickle.UnpicklingError,
    RuntimeError,
    EOFError,
    KeyError,
    ValueError,
    IndexError,
    TypeError,
    AttributeError,
    struct.error,
    UnicodeDecodeError,
    OverflowError,
    zipfile.BadZipFile,
    OSError,
)


@dataclass(frozen=True)
class RawCheckpoint:
    """The tensors and the declared architecture of a checkpoint, nothing interpreted yet.

    Attributes:
        state_dict: name -> CPU tensor as stored (any float dtype).
        class_name: the constructor's class (``.pth``), or None (``config.json`` has no class name).
        kwargs: the constructor keywords / ``config.json`` entries.
        file_format: ``pth`` or ``safetensors``.
        path: the weights file that was read.
    """

    state_dict: dict[str, torch.Tensor]
    class_name: str | None
    kwargs: dict[str, object]
    file_format: str
    path: Path


def read_checkpoint(path: str | Path) -> RawCheckpoint:
    """Read a ``.pth`` file, a Hugging Face folder, or a ``model.safetensors`` file (``config.json`` beside).

    A folder without ``model.safetensors`` reads ``pytorch_model.bin`` (older Hugging Face layout), else its
    single ``.pth`` file. A bare state dict (``.bin``/``.pth``) is read with the ``config.json`` beside it.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.is_dir():
        if (path / SAFETENSORS_NAME).is_file():
            return read_safetensors_checkpoint(path / SAFETENSORS_NAME)
        if (path / HF_BIN_NAME).is_file():
            return read_pth_checkpoint(path / HF_BIN_NAME)
        pth_files = sorted(p for p in path.glob("*.pth") if p.is_file())
        if len(pth_files) == 1:
            return read_pth_checkpoint(pth_files[0])
        raise CheckpointError(
            f"folder {path} is not a checkpoint: expected {SAFETENSORS_NAME} + {HF_CONFIG_NAME}, or one .pth file"
        )
    if not path.is_file():  # a FIFO would block the read forever, a device would read garbage
        raise CheckpointError(
            f"checkpoint {path} is not a regular file (a pipe, socket or device): give the checkpoint file "
            "or its folder"
        )
    if path.suffix == ".safetensors" or _looks_like_safetensors(path):
        return read_safetensors_checkpoint(path)
    return read_pth_checkpoint(path)


def _read_head(path: Path, size: int) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(size)
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None


def _looks_like_safetensors(path: Path) -> bool:
    head = _read_head(path, 9)
    return len(head) == 9 and head[8:9] == b"{" and head[:4] != _ZIP_MAGIC


def _describe_unpickling_error(exc: Exception) -> str:
    """Name the problem behind a weights-only unpickling failure (torch words it in several ways)."""
    text = str(exc)
    match = re.search(r"GLOBAL ([\w.]+)", text)
    if match:
        return (
            f"it contains a Python object other than tensors ({match.group(1)}), which could run code when "
            "opened; it was refused and nothing in it was executed"
        )
    # torch's message: a generic first paragraph, then the specific reason, then a documentation link.
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    detail = paragraphs[1] if len(paragraphs) > 2 else (paragraphs[0] if paragraphs else type(exc).__name__)
    return (
        f"it is not a valid PyTorch checkpoint ({detail.splitlines()[0][:200]}); "
        "it was refused and nothing in it was executed"
    )


def _torch_load(path: Path) -> object:
    head = _read_head(path, 4)
    if not head:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes); download it again")
    is_zip = head == _ZIP_MAGIC
    if not is_zip and head[0] != _PICKLE_PROTO:
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (unknown file signature {head!r})")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pickle protocol.*")
            return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"refused to load {path}: {_describe_unpickling_error(exc)}") from None
    except _TORCH_LOAD_ERRORS as exc:
        text = str(exc)
        if "central directory" in text or "failed reading zip archive" in text or isinstance(exc, EOFError):
            reason = "the file is truncated or corrupted (an incomplete download?); download it again"
        else:
            first_line = text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__
            reason = f"it is not a valid PyTorch checkpoint ({type(exc).__name__}: {first_line})"
        raise CheckpointError(f"cannot load checkpoint {path}: {reason}") from None


def _tensor_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"checkpoint {path} holds no weights (its 'model' entry is not a state dict)")
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"checkpoint {path} has non-tensor entries in its weights, e.g. {bad[:3]}")
    # A network's weights are real floating-point numbers; integer, boolean or complex "weights" are a
    # damaged or foreign file (torch would cast them silently or fail deep inside a layer).
    odd = [
        f"{k} ({v.dtype})" for k, v in obj.items() if not v.is_floating_point() and not k.endswith(_COUNTERS)
    ]
    if odd:
        raise CheckpointError(
            f"checkpoint {path} is not a usable model: its weights must be floating-point numbers, but "
            f"{len(odd)} are not (e.g. {', '.join(odd[:3])})"
        )
    return dict(obj)


def read_pth_checkpoint(path: Path) -> RawCheckpoint:
    """An official ``{'args': Namespace(model=...), 'model': state_dict, ...}`` file, or a bare state dict
    with a Hugging Face ``config.json`` beside it."""
    obj = _torch_load(path)
    is_bare_state_dict = (
        isinstance(obj, Mapping) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())
    )
    if is_bare_state_dict and (path.parent / HF_CONFIG_NAME).is_file():
        kwargs = read_hf_config(path.parent / HF_CONFIG_NAME)
        return RawCheckpoint(_tensor_dict(obj, path), None, kwargs, "pth", path)
    if not isinstance(obj, Mapping) or "model" not in obj:
        raise CheckpointError(
            f"{path} is a PyTorch file but not a DUSt3R checkpoint (no 'model' entry with the weights)"
        )
    args = obj.get("args")
    model_text = getattr(args, "model", None) if args is not None else None
    if model_text is None and isinstance(args, Mapping):
        model_text = args.get("model")
    if not isinstance(model_text, str):
        raise CheckpointError(
            f"checkpoint {path} does not describe its architecture ('args.model' is missing); "
            "use an official DUSt3R .pth file or a Hugging Face folder with config.json"
        )
    class_name, kwargs = parse_constructor(model_text)
    return RawCheckpoint(_tensor_dict(obj["model"], path), class_name, kwargs, "pth", path)


def read_hf_config(path: Path) -> dict[str, object]:
    """A Hugging Face ``config.json`` (Python's json reads its non-standard ``Infinity`` tokens)."""
    if not path.is_file():
        raise CheckpointError(f"{path.parent} has no {HF_CONFIG_NAME} describing the model architecture")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from None
    except RecursionError:  # a crafted file nested thousands of levels deep
        raise CheckpointError(f"{path} is not a model configuration (nested too deeply to be one)") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{path} is not a model configuration (expected a JSON object)")
    return config


def read_safetensors_checkpoint(path: Path) -> RawCheckpoint:
    """``model.safetensors`` with the ``config.json`` of the same folder."""
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError:
        raise DependencyError("reading .safetensors checkpoints needs the 'safetensors' package") from None
    kwargs = read_hf_config(path.parent / HF_CONFIG_NAME)
    try:
        state_dict = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"cannot load {path}: the file is truncated, corrupted or not a safetensors file ({exc})"
        ) from None
    return RawCheckpoint(_tensor_dict(state_dict, path), None, kwargs, "safetensors", path)
