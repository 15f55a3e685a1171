"""From a checkpoint's declared architecture (constructor keywords or ``config.json``) to a :class:`ModelConfig`.

Both sources describe the official constructor's keyword arguments; missing ones take the official
defaults (CroCo's ``CroCoNet`` and DUSt3R's ``AsymmetricCroCo3DStereo``). What we never do:
transpose portrait images (``patch_embed_cls='ManyAR_PatchEmbed'`` and ``landscape_only`` are read as the
official ``load_model`` rewrites them: plain patch embedding, ``landscape_only=False``).

MASt3R checkpoints (``AsymmetricMASt3R``, ``head_type='catmlp+dpt'``, ``output_mode='pts3d+desc<N>'``)
contain a complete DUSt3R network (same encoder, decoders and DPT point/confidence heads) plus a
local-feature MLP per head; they map to a ``dpt`` config and the descriptor weights are reported as ignored.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from ..errors import CheckpointError, ConfigError
from .configs import TRANSFORMER_SIZE_FIELDS, ModelConfig

logger = logging.getLogger(__name__)

DUST3R_CLASS = "AsymmetricCroCo3DStereo"
MAST3R_CLASS = "AsymmetricMASt3R"
KNOWN_CLASSES = (DUST3R_CLASS, MAST3R_CLASS)

# Official constructor defaults (CroCoNet + AsymmetricCroCo3DStereo) for the keys that shape the network.
_DEFAULTS: dict[str, object] = {
    "img_size": 224,
    "patch_size": 16,
    "enc_embed_dim": 768,
    "enc_depth": 12,
    "enc_num_heads": 12,
    "dec_embed_dim": 512,
    "dec_depth": 8,
    "dec_num_heads": 16,
    "mlp_ratio": 4.0,
    "norm_im2_in_dec": True,
    "pos_embed": "cosine",
    "head_type": "linear",
    "output_mode": "pts3d",
    "depth_mode": ("exp", -math.inf, math.inf),
    "conf_mode": ("exp", 1, math.inf),
    "patch_embed_cls": "PatchEmbedDust3R",
}
# Keys that change nothing at inference in this implementation.
_IGNORED_KEYS = {"freeze", "landscape_only", "mask_ratio", "two_confs", "desc_mode", "desc_conf_mode"}
_PATCH_EMBEDS = ("PatchEmbedDust3R", "ManyAR_PatchEmbed")
_INT_KEYS = ("patch_size", *TRANSFORMER_SIZE_FIELDS)

# Sanity bounds (the released models use 1024 / 24 / 16 / 768 / 12 / 12 / 16).
_UPPER_BOUNDS = {
    "enc_embed_dim": 16384,
    "dec_embed_dim": 16384,
    "enc_depth": 256,
    "dec_depth": 256,
    "enc_num_heads": 1024,
    "dec_num_heads": 1024,
    "patch_size": 128,
}
MAX_MLP_RATIO = 64.0

# Prefix of MASt3R's per-head descriptor MLP: present in its checkpoints, absent from the DUSt3R network.
MAST3R_EXTRA_PREFIXES = ("downstream_head1.head_local_features.", "downstream_head2.head_local_features.")


@dataclass(frozen=True)
class DeclaredArchitecture:
    """What a checkpoint says it is.

    Attributes:
        config: the network to build (DPT widths still the defaults; see :func:`with_dpt_widths_from`).
        class_name: the official class (``AsymmetricCroCo3DStereo`` or ``AsymmetricMASt3R``).
        is_mast3r: the checkpoint is a MASt3R model (its descriptor head is dropped).
    """

    config: ModelConfig
    class_name: str
    is_mast3r: bool


def _fail(message: str) -> CheckpointError:
    return CheckpointError(f"unsupported model description: {message}")


def _as_int(key: str, value: object) -> int:
    """A positive integer no larger than a sane bound (a hostile file must not make us build a giant model)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(f"{key} must be an integer, got {value!r}")
    if int(value) != value or not 0 < value <= _UPPER_BOUNDS.get(key, 1 << 16):
        raise _fail(f"{key} must be a positive integer of plausible size, got {value!r}")
    return int(value)


def _img_size(value: object) -> int:
    if isinstance(value, list | tuple) and value:
        return max(_as_int("img_size", v) for v in value)
    return _as_int("img_size", value)


def _mlp_ratio(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_MLP_RATIO:
        raise _fail(f"mlp_ratio must be a number in (0, {MAX_MLP_RATIO}], got {value!r}")
    return float(value)


def _rope_base(value: object) -> float:
    match = re.fullmatch(r"RoPE(\d+(?:\.\d+)?)", str(value))
    if match is None:
        raise _fail(f"position embedding {value!r} (only 2-D RoPE, e.g. 'RoPE100', is implemented)")
    return float(match.group(1))


def _exp_mode(key: str, value: object) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 3 or value[0] != "exp":
        raise _fail(f"{key}={value!r} (only ('exp', vmin, vmax) is implemented)")
    try:
        return float(value[1]), float(value[2])
    except (TypeError, ValueError):
        raise _fail(f"{key}={value!r} has non-numeric bounds") from None


def architecture_from_kwargs(class_name: str | None, kwargs: Mapping[str, object]) -> DeclaredArchitecture:
    """Interpret constructor keywords (``class_name`` None for a ``config.json``, which has no class name).

    Raises:
        CheckpointError: unknown class, or an option this implementation does not reproduce.
    """
    if class_name is not None and class_name not in KNOWN_CLASSES:
        raise _fail(f"class {class_name!r} is not a DUSt3R model (expected one of {KNOWN_CLASSES})")
    args = {**_DEFAULTS, **kwargs}
    head_type, output_mode = str(args["head_type"]), str(args["output_mode"])
    is_mast3r = class_name == MAST3R_CLASS or "desc" in output_mode or head_type.startswith("catmlp")
    if is_mast3r:
        if head_type != "catmlp+dpt" or not re.fullmatch(r"pts3d\+desc\d+", output_mode):
            raise _fail(f"MASt3R head {head_type!r} with output {output_mode!r} (expected 'catmlp+dpt')")
        head_type = "dpt"
    elif output_mode != "pts3d":
        raise _fail(f"output_mode={output_mode!r} (only 'pts3d' is implemented)")
    if args["patch_embed_cls"] not in _PATCH_EMBEDS:
        raise _fail(f"patch embedding {args['patch_embed_cls']!r} (expected one of {_PATCH_EMBEDS})")
    if args["norm_im2_in_dec"] is not True:
        raise _fail("norm_im2_in_dec=False (every released model normalises the other view's tokens)")
    depth_bounds = _exp_mode("depth_mode", args["depth_mode"])
    if depth_bounds != (-math.inf, math.inf):
        raise _fail(f"depth_mode={args['depth_mode']!r} (the 'exp' depth mode has no bounds)")
    conf_vmin, conf_vmax = _exp_mode("conf_mode", args["conf_mode"])
    unknown = sorted(set(kwargs) - set(_DEFAULTS) - _IGNORED_KEYS)
    if unknown:
        logger.warning("ignoring unknown model options in the checkpoint: %s", ", ".join(unknown))
    try:
        config = ModelConfig(
            **{key: _as_int(key, args[key]) for key in _INT_KEYS},
            head_type=head_type,
            img_size=_img_size(args["img_size"]),
            mlp_ratio=_mlp_ratio(args["mlp_ratio"]),
            rope_base=_rope_base(args["pos_embed"]),
            conf_vmin=conf_vmin,
            conf_vmax=conf_vmax,
        )
    except (ConfigError, TypeError, ValueError) as exc:
        raise _fail(str(exc)) from None
    return DeclaredArchitecture(
        config, class_name or (MAST3R_CLASS if is_mast3r else DUST3R_CLASS), is_mast3r
    )


def with_dpt_widths_from(config: ModelConfig, state_dict: Mapping[str, torch.Tensor]) -> ModelConfig:
    """For a DPT config, read (feature_dim, last_dim, layer_dims) from head 1's weight shapes.

    ``scratch.layer{k}_rn.weight`` is [F, layer_dims[k-1], 3, 3] and ``head.2.weight`` is
    [last_dim, F/2, 3, 3]. Keys that are absent leave the defaults (the strict check reports them).
    """
    if config.head_type != "dpt":
        return config
    prefix = "downstream_head1.dpt."
    dims = []
    feature_dim = config.dpt_feature_dim
    for k in range(4):
        weight = state_dict.get(f"{prefix}scratch.layer{k + 1}_rn.weight")
        if weight is None:
            weight = state_dict.get(f"{prefix}scratch.layer_rn.{k}.weight")
        if weight is None or weight.ndim != 4:
            return config
        feature_dim = int(weight.shape[0])
        dims.append(int(weight.shape[1]))
    head2 = state_dict.get(f"{prefix}head.2.weight")
    last_dim = int(head2.shape[0]) if head2 is not None and head2.ndim == 4 else config.dpt_last_dim
    try:
        return config.with_dpt_widths(feature_dim, last_dim, tuple(dims))
    except ConfigError as exc:
        raise _fail(f"DPT head widths read from the weights are invalid: {exc}") from None
