"""Parameter count, FLOPs and activation memory of a DUSt3R network, from its :class:`ModelConfig` alone.

Pure arithmetic (no torch): the memory model and the time estimate use it before any model is loaded.
FLOPs count 2 per multiply-add of the matmuls, convolutions and attention products (the convention of
``torch.utils.flop_counter``); element-wise work is not counted. ``tests/core/test_resources.py`` checks the
parameter count against the built network and the FLOPs against ``FlopCounterMode``.
"""

from __future__ import annotations

from ..model.configs import ModelConfig

# A batch of B pairs peaks at (BATCH_BASE + BATCH_SLOPE * B) times the analytic bytes of one pair: measured
# peak RSS above the weights, full 512 DPT network, float32, 512x384, this CPU (batch 1, 2, 4: 569, 800,
# 1481 MB; this model: 584, 934, 1635 MB). The encoder's activations: ENCODE_VALUES_PER_TOKEN values of the
# encoder width per token and image (measured 103, 175, 340 MB for 1, 2, 4 images of 768 tokens).
BATCH_BASE, BATCH_SLOPE = 0.5, 0.75
ENCODE_VALUES_PER_TOKEN = 27


def _grid(config: ModelConfig, hw: tuple[int, int]) -> tuple[int, int]:
    return hw[0] // config.patch_size, hw[1] // config.patch_size


def _dpt_params(config: ModelConfig) -> int:
    e, d = config.enc_embed_dim, config.dec_embed_dim
    f, last = config.dpt_feature_dim, config.dpt_last_dim
    d0, d1, d2, d3 = config.dpt_layer_dims
    post = (e * d0 + d0 + 16 * d0 * d0 + d0) + (d * d1 + d1 + 4 * d1 * d1 + d1)
    post += (d * d2 + d2) + (d * d3 + d3 + 9 * d3 * d3 + d3)
    scratch = 9 * f * (d0 + d1 + d2 + d3) + 4 * (37 * f * f + 5 * f)
    head = (9 * f * (f // 2) + f // 2) + (9 * (f // 2) * last + last) + (4 * last + 4)
    return post + scratch + head


def parameter_count(config: ModelConfig) -> int:
    """Number of weights of the network (both heads included)."""
    e, d, r, p = config.enc_embed_dim, config.dec_embed_dim, config.mlp_ratio, config.patch_size
    enc_block = int((4 + 2 * r) * e * e + (9 + r) * e)
    dec_block = int((8 + 2 * r) * d * d + (17 + r) * d)
    count = 3 * p * p * e + e + config.enc_depth * enc_block + 2 * e
    count += e * d + d + d + 2 * d + 2 * config.dec_depth * dec_block
    head = d * 4 * p * p + 4 * p * p if config.head_type == "linear" else _dpt_params(config)
    return int(count + 2 * head)


def encode_flops(config: ModelConfig, hw: tuple[int, int]) -> int:
    """FLOPs of encoding one image of ``hw = (H, W)`` pixels."""
    gh, gw = _grid(config, hw)
    t, e, r = gh * gw, config.enc_embed_dim, config.mlp_ratio
    patch = 2 * t * 3 * config.patch_size**2 * e
    block = 2 * t * (4 + 2 * r) * e * e + 4 * t * t * e
    return int(patch + config.enc_depth * block)


def _dpt_flops(config: ModelConfig, gh: int, gw: int) -> int:
    e, d = config.enc_embed_dim, config.dec_embed_dim
    f, last = config.dpt_feature_dim, config.dpt_last_dim
    d0, d1, d2, d3 = config.dpt_layer_dims
    hw = gh * gw
    flops = 2 * hw * (e * d0 + 16 * d0 * d0) + 2 * hw * (d * d1 + 4 * d1 * d1) + 2 * hw * d * d2
    flops += 2 * hw * d * d3 + 2 * (hw // 4) * 9 * d3 * d3
    flops += 2 * 9 * f * (16 * hw * d0 + 4 * hw * d1 + hw * d2 + (hw // 4) * d3)
    flops += 2 * 2 * (hw // 4) * 9 * f * f + 2 * hw * f * f  # refinenet4: RCU2, out_conv
    for scale in (1, 4, 16):  # refinenet3, 2, 1: RCU1 + RCU2 (4 convs 3x3) and the out_conv after x2
        flops += 4 * 2 * scale * hw * 9 * f * f + 2 * 4 * scale * hw * f * f
    flops += 2 * 64 * hw * 9 * f * (f // 2) + 2 * 256 * hw * 9 * (f // 2) * last + 2 * 256 * hw * last * 4
    return int(flops)


def decode_flops(config: ModelConfig, hw: tuple[int, int]) -> int:
    """FLOPs of decoding one pair of two views of ``hw`` pixels (both decoders and both heads)."""
    gh, gw = _grid(config, hw)
    t, d, r = gh * gw, config.dec_embed_dim, config.mlp_ratio
    embed = 2 * t * config.enc_embed_dim * d
    block = 2 * t * (8 + 2 * r) * d * d + 8 * t * t * d
    head = (
        2 * t * d * 4 * config.patch_size**2 if config.head_type == "linear" else _dpt_flops(config, gh, gw)
    )
    return int(2 * (embed + config.dec_depth * block + head))


def token_bytes(config: ModelConfig, hw: tuple[int, int], act_bytes: int) -> int:
    """Bytes of one image's cached encoder tokens (``act_bytes`` per value: 4 float32, 2 bf16/fp16)."""
    gh, gw = _grid(config, hw)
    return gh * gw * (config.enc_embed_dim * act_bytes + 16)  # + the int64 (row, col) positions


def decode_activation_bytes(config: ModelConfig, hw: tuple[int, int], precision: str) -> int:
    """Peak activation bytes of decoding ONE pair of two ``hw`` views (a batch of B takes B times this).

    Terms: both views' decoder layer outputs kept for the heads, one block's MLP hidden state and attention
    logits, the head's largest full-resolution maps (DPT: its last two convolutions' inputs and outputs),
    and the float32 outputs.
    """
    a = 4 if precision == "fp32" else 2
    gh, gw = _grid(config, hw)
    t, d = gh * gw, config.dec_embed_dim
    pixels = hw[0] * hw[1]
    layers = 2 * (config.dec_depth + 1) * t * d * a
    block = 2 * t * int(config.mlp_ratio * d) * a + config.dec_num_heads * t * t * a
    if config.head_type == "dpt":
        f, last = config.dpt_feature_dim, config.dpt_last_dim
        head = (f // 2 + 2 * last) * pixels * a + f * (pixels // 4) * a
    else:
        head = 2 * 4 * pixels * 4 + 4 * config.patch_size**2 * t * a
    outputs = 2 * pixels * 16
    return int(layers + block + head + outputs)


def network_batch_bytes(config: ModelConfig, hw: tuple[int, int], precision: str, batch: int) -> int:
    """Peak activation bytes of the network with ``batch`` images encoded or pairs decoded at once
    (the larger of the two; calibrated, see :data:`BATCH_BASE`)."""
    a = 4 if precision == "fp32" else 2
    gh, gw = _grid(config, hw)
    encode = batch * ENCODE_VALUES_PER_TOKEN * gh * gw * config.enc_embed_dim * a
    decode = (BATCH_BASE + BATCH_SLOPE * batch) * decode_activation_bytes(config, hw, precision)
    return int(max(encode, decode))
