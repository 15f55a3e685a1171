"""Load a DUSt3R network from an official ``.pth``, a Hugging Face folder, or a ``model.safetensors`` file.

Pipeline of small steps, each tested on its own:
  1. :func:`~.checkpoint_files.read_checkpoint`: safe read (``weights_only=True`` / safetensors), tensors on CPU;
  2. :func:`~.checkpoint_arch.architecture_from_kwargs`: the declared architecture -> :class:`ModelConfig`
     (DPT widths then read from the weight shapes);
  3. :func:`~.state_dict_remap.remap_state_dict`: pure key remap (tied aliases, ``dec_blocks2`` copy,
     MASt3R descriptor head dropped);
  4. strict comparison against the model built on the meta device; any difference raises
     :class:`CheckpointError` with a readable report; then ``load_state_dict(strict=True, assign=True)``
     (no random initialisation, no extra copy of the weights) and a move to the device/dtype asked for.

MASt3R checkpoints: the DUSt3R part (encoder, decoders, point/confidence DPT heads) is loaded and used as a
DUSt3R model; the descriptor MLPs (``downstream_head*.head_local_features.*``) are not used by this add-on,
are reported in :attr:`LoadReport.ignored_keys` and logged as a warning. The outputs are then MASt3R's
(metric-scale) points and confidences.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import CheckpointError, ConfigError, DeviceError
from .checkpoint_arch import MAST3R_EXTRA_PREFIXES, architecture_from_kwargs, with_dpt_widths_from
from .checkpoint_files import read_checkpoint
from .configs import ModelConfig, nearest_config_name
from .dust3r import Dust3rModel, build_model
from .state_dict_remap import compare_state_dict, remap_state_dict

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadReport:
    """How a checkpoint was loaded (attached to the model as ``model.load_report``).

    Attributes:
        path: the weights file read.
        file_format: ``pth`` or ``safetensors``.
        class_name: the official class the checkpoint declares.
        config: the architecture built; config_name: nearest registry name (``name~(fields)`` if not exact).
        is_mast3r: a MASt3R checkpoint loaded as its DUSt3R part.
        ignored_keys: checkpoint keys deliberately not loaded (MASt3R descriptor head).
        aliases_added: tied DPT keys restored from their twin (safetensors files drop them).
        copied_dec_blocks2: ``dec_blocks2`` keys copied from ``dec_blocks`` (single-decoder checkpoints).
    """

    path: Path
    file_format: str
    class_name: str
    config: ModelConfig
    config_name: str
    is_mast3r: bool
    ignored_keys: tuple[str, ...]
    aliases_added: int
    copied_dec_blocks2: int

    def summary(self) -> str:
        """One line for logs."""
        text = f"{self.path.name} ({self.file_format}): {self.config_name}"
        if self.is_mast3r:
            text += f", MASt3R loaded as DUSt3R ({len(self.ignored_keys)} descriptor-head weights ignored)"
        if self.copied_dec_blocks2:
            text += ", second decoder copied from the first"
        return text


def _check_dtype(dtype: torch.dtype) -> None:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ConfigError(f"model dtype must be a floating-point torch dtype, got {dtype!r}")


def _to_device(model: Dust3rModel, device: torch.device | str, dtype: torch.dtype) -> Dust3rModel:
    try:
        return model.to(device=torch.device(device), dtype=dtype)
    except torch.OutOfMemoryError:
        raise DeviceError(f"not enough memory on {device} for the model") from None
    except (RuntimeError, AssertionError) as exc:  # torch asserts when CUDA support is not compiled in
        raise DeviceError(f"cannot move the model to device {device!r}: {exc}") from None


def load_model(
    path: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> Dust3rModel:
    """Load a checkpoint into a :class:`Dust3rModel` in eval mode, without gradients, on ``device``/``dtype``.

    Args:
        path: an official ``.pth``, a Hugging Face folder (``model.safetensors`` + ``config.json``), or a
            ``model.safetensors`` file with its ``config.json`` beside it.
        device: where the weights go (``"cpu"``, ``"cuda"``, ...).
        dtype: compute dtype of the weights (float32; float16/bfloat16 for faster GPU inference). The
            model's outputs are float32 whatever this is.

    Raises:
        CheckpointError: missing, unreadable, truncated, unsafe or mismatching checkpoint (readable report).
        ConfigError: ``dtype`` is not a floating dtype. DeviceError: the device is unavailable or full.
    """
    _check_dtype(dtype)
    raw = read_checkpoint(path)
    arch = architecture_from_kwargs(raw.class_name, raw.kwargs)
    drop = MAST3R_EXTRA_PREFIXES if arch.is_mast3r else ()
    state_dict, notes = remap_state_dict(raw.state_dict, drop_prefixes=drop)
    config = with_dpt_widths_from(arch.config, state_dict)
    config_name = nearest_config_name(config)
    model = build_model(config, device="meta")
    mismatch = compare_state_dict(model.state_dict(), state_dict)
    if mismatch:
        logger.info(
            "checkpoint %s differs from its declared architecture:\n%s", raw.path, mismatch.describe()
        )
        raise CheckpointError(
            f"checkpoint {raw.path} does not match the architecture it declares "
            f"({raw.class_name or 'config.json'}, nearest known: {config_name}): {mismatch.summary()}; "
            "it is damaged or was not saved from that model (the full list is in the log)"
        )
    model.load_state_dict(state_dict, strict=True, assign=True)
    model.requires_grad_(False)
    model = _to_device(model, device, dtype)
    report = LoadReport(
        path=raw.path,
        file_format=raw.file_format,
        class_name=arch.class_name,
        config=config,
        config_name=config_name,
        is_mast3r=arch.is_mast3r,
        ignored_keys=tuple(notes.ignored_keys),
        aliases_added=len(notes.aliases_added),
        copied_dec_blocks2=notes.copied_dec_blocks2,
    )
    model.load_report = report
    if report.ignored_keys:
        logger.warning(
            "MASt3R checkpoint: using its DUSt3R network; ignoring %d descriptor-head weights (%s, ...)",
            len(report.ignored_keys),
            report.ignored_keys[0],
        )
    logger.info("loaded %s", report.summary())
    return model
