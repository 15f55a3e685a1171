"""Named DUSt3R network configurations (a literal registry behind one lookup function).

A :class:`ModelConfig` fixes every shape of the network: with it, :func:`core.model.dust3r.build_model` builds a
module whose state-dict keys and shapes equal those of the official checkpoint of the same name. Checkpoints
carry their own architecture (``args.model`` or ``config.json``); :mod:`core.model.checkpoint` turns that into
a ``ModelConfig`` and :func:`nearest_config_name` names it for logs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from ..errors import ConfigError

HEAD_TYPES = ("linear", "dpt")
# The ModelConfig fields that size the encoder and decoders (positive integers).
TRANSFORMER_SIZE_FIELDS = (
    "enc_embed_dim",
    "enc_depth",
    "enc_num_heads",
    "dec_embed_dim",
    "dec_depth",
    "dec_num_heads",
)

# Widths that the official DPT head factory hard-codes (feature_dim, last_dim, layer_dims).
DPT_DEFAULT_FEATURE_DIM = 256
DPT_DEFAULT_LAST_DIM = 128
DPT_DEFAULT_LAYER_DIMS = (96, 192, 384, 768)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of an asymmetric CroCo/DUSt3R network.

    Attributes:
        enc_embed_dim, enc_depth, enc_num_heads: ViT encoder width E, number of blocks, attention heads.
        dec_embed_dim, dec_depth, dec_num_heads: decoder width Dd, number of blocks (per view), heads.
        head_type: ``linear`` (per-patch Linear + pixel shuffle) or ``dpt`` (DPT fusion head).
        img_size: training resolution (224 or 512); informational, any multiple of ``patch_size`` runs.
        patch_size: side of a square patch in pixels (16 for every released model).
        mlp_ratio: hidden width of the MLPs as a multiple of the block width.
        rope_base: frequency base of the 2-D rotary position embedding (``RoPE100`` -> 100.0).
        conf_vmin, conf_vmax: ``conf = conf_vmin + exp(x)`` clipped to ``conf_vmax`` (``('exp', 1, inf)``).
        dpt_feature_dim, dpt_last_dim, dpt_layer_dims: DPT widths (F, last_dim, per-hook widths).
    """

    enc_embed_dim: int
    enc_depth: int
    enc_num_heads: int
    dec_embed_dim: int
    dec_depth: int
    dec_num_heads: int
    head_type: str = "linear"
    img_size: int = 512
    patch_size: int = 16
    mlp_ratio: float = 4.0
    rope_base: float = 100.0
    conf_vmin: float = 1.0
    conf_vmax: float = math.inf
    dpt_feature_dim: int = DPT_DEFAULT_FEATURE_DIM
    dpt_last_dim: int = DPT_DEFAULT_LAST_DIM
    dpt_layer_dims: tuple[int, int, int, int] = DPT_DEFAULT_LAYER_DIMS

    def __post_init__(self) -> None:
        if self.head_type not in HEAD_TYPES:
            raise ConfigError(f"head type must be one of {HEAD_TYPES}, got {self.head_type!r}")
        for name in TRANSFORMER_SIZE_FIELDS:
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for dim, heads, where in (
            (self.enc_embed_dim, self.enc_num_heads, "encoder"),
            (self.dec_embed_dim, self.dec_num_heads, "decoder"),
        ):
            if dim % heads or (dim // heads) % 4:
                raise ConfigError(
                    f"{where} width {dim} must split into {heads} heads whose size is a multiple of 4 (2-D RoPE)"
                )
        if self.head_type == "dpt":
            if self.dec_depth <= 9:
                raise ConfigError(f"a DPT head needs more than 9 decoder blocks, got {self.dec_depth}")
            if len(self.dpt_layer_dims) != 4 or self.dpt_feature_dim % 2:
                raise ConfigError("DPT widths must be 4 layer widths and an even feature width")
        if not self.conf_vmin < self.conf_vmax:
            raise ConfigError(f"confidence range ({self.conf_vmin}, {self.conf_vmax}) is empty")

    @property
    def dpt_hooks(self) -> tuple[int, int, int, int]:
        """Indices into [encoder output, decoder layer 1, ..., decoder layer L] that the DPT head reads."""
        depth = self.dec_depth
        return (0, depth * 2 // 4, depth * 3 // 4, depth)

    def with_dpt_widths(self, feature_dim: int, last_dim: int, layer_dims: tuple[int, ...]) -> ModelConfig:
        """A copy with other DPT widths (checkpoints whose head was built with non-default widths)."""
        return replace(
            self,
            dpt_feature_dim=int(feature_dim),
            dpt_last_dim=int(last_dim),
            dpt_layer_dims=tuple(layer_dims),
        )


_VIT_LARGE_BASE_DECODER = dict(
    enc_embed_dim=1024, enc_depth=24, enc_num_heads=16, dec_embed_dim=768, dec_depth=12, dec_num_heads=12
)
_TINY = dict(enc_embed_dim=64, enc_depth=2, enc_num_heads=2, dec_embed_dim=48, dec_num_heads=2)

MODEL_CONFIGS: dict[str, ModelConfig] = {
    "DUSt3R_ViTLarge_BaseDecoder_224_linear": ModelConfig(
        **_VIT_LARGE_BASE_DECODER, head_type="linear", img_size=224
    ),
    "DUSt3R_ViTLarge_BaseDecoder_512_linear": ModelConfig(
        **_VIT_LARGE_BASE_DECODER, head_type="linear", img_size=512
    ),
    "DUSt3R_ViTLarge_BaseDecoder_512_dpt": ModelConfig(
        **_VIT_LARGE_BASE_DECODER, head_type="dpt", img_size=512
    ),
    # Tiny random-weight models of ../shared/reference (golden tests only).
    "tiny_linear": ModelConfig(**_TINY, dec_depth=2, head_type="linear", img_size=512),
    "tiny_linear_224": ModelConfig(**_TINY, dec_depth=2, head_type="linear", img_size=224),
    "tiny_dpt": ModelConfig(
        **_TINY,
        dec_depth=12,
        head_type="dpt",
        img_size=512,
        dpt_feature_dim=32,
        dpt_last_dim=16,
        dpt_layer_dims=(16, 32, 64, 128),
    ),
}


def get_config(name: str) -> ModelConfig:
    """The registered configuration called ``name``; raises :class:`ConfigError` for unknown names."""
    try:
        return MODEL_CONFIGS[name]
    except KeyError:
        known = ", ".join(MODEL_CONFIGS)
        raise ConfigError(f"unknown model configuration {name!r}; known: {known}") from None


def nearest_config_name(config: ModelConfig) -> str:
    """Name of the registered configuration closest to ``config`` (for logs).

    Exact matches return the name itself; otherwise the registered config with the fewest differing fields,
    suffixed with ``~`` and the differing field names, e.g. ``"tiny_linear~(img_size)"``.
    """
    best_name, best_diff = "", None
    for name, candidate in MODEL_CONFIGS.items():
        diff = [f.name for f in fields(ModelConfig) if getattr(candidate, f.name) != getattr(config, f.name)]
        if best_diff is None or len(diff) < len(best_diff):
            best_name, best_diff = name, diff
    if not best_diff:
        return best_name
    return f"{best_name}~({', '.join(best_diff)})"
