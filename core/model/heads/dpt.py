"""DPT head (Ranftl et al. 2021) as DUSt3R uses it: four hooked token maps fused from coarse to fine.

Module names reproduce the official state dict (``dpt.scratch.layer{k}_rn``, the tied alias list
``dpt.scratch.layer_rn``, ``dpt.scratch.refinenet{k}``, ``dpt.head``, ``dpt.act_postprocess``).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..configs import ModelConfig


def _upsample2x(x: Tensor) -> Tensor:
    """Bilinear x2 upsampling with ``align_corners=True`` (B, C, h, w) -> (B, C, 2h, 2w)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class Upsample2x(nn.Module):
    """:func:`_upsample2x` as a module (slot ``head.1`` of the official layout)."""

    def forward(self, x: Tensor) -> Tensor:
        return _upsample2x(x)


class ResidualConvUnit(nn.Module):
    """``conv2(relu(conv1(relu(x)))) + x`` with 3x3 convolutions (padding 1, bias)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2(F.relu(self.conv1(F.relu(x)))) + x


class FusionBlock(nn.Module):
    """``out_conv(up2x(RCU2(a [+ RCU1(b)])))``; the output has twice the input's spatial size."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(features, features, 1)
        self.resConfUnit1 = ResidualConvUnit(features)
        self.resConfUnit2 = ResidualConvUnit(features)

    def forward(self, x: Tensor, skip: Tensor | None = None) -> Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        return self.out_conv(_upsample2x(self.resConfUnit2(x)))


class Scratch(nn.Module):
    """Per-hook 3x3 projections to the fusion width F and the four fusion blocks."""

    def __init__(self, layer_dims: tuple[int, ...], features: int) -> None:
        super().__init__()
        self.layer1_rn = nn.Conv2d(layer_dims[0], features, 3, padding=1, bias=False)
        self.layer2_rn = nn.Conv2d(layer_dims[1], features, 3, padding=1, bias=False)
        self.layer3_rn = nn.Conv2d(layer_dims[2], features, 3, padding=1, bias=False)
        self.layer4_rn = nn.Conv2d(layer_dims[3], features, 3, padding=1, bias=False)
        # Tied aliases: the same four modules again (both names exist in official state dicts).
        self.layer_rn = nn.ModuleList([self.layer1_rn, self.layer2_rn, self.layer3_rn, self.layer4_rn])
        self.refinenet1 = FusionBlock(features)
        self.refinenet2 = FusionBlock(features)
        self.refinenet3 = FusionBlock(features)
        self.refinenet4 = FusionBlock(features)


class DPTAdapter(nn.Module):
    """Tokens of the hooked layers -> raw (B, 4, H, W) map.

    Hook 0 reads the encoder output (width E), hooks 1..3 decoder layers (width Dd).
    """

    def __init__(self, config: ModelConfig, out_channels: int = 4) -> None:
        super().__init__()
        self.hooks = config.dpt_hooks
        feat, last = config.dpt_feature_dim, config.dpt_last_dim
        dims = config.dpt_layer_dims
        enc, dec = config.enc_embed_dim, config.dec_embed_dim
        self.scratch = Scratch(dims, feat)
        self.head = nn.Sequential(
            nn.Conv2d(feat, feat // 2, 3, padding=1),
            Upsample2x(),
            nn.Conv2d(feat // 2, last, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(last, out_channels, 1),
        )
        self.act_postprocess = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(enc, dims[0], 1), nn.ConvTranspose2d(dims[0], dims[0], 4, stride=4)),
                nn.Sequential(nn.Conv2d(dec, dims[1], 1), nn.ConvTranspose2d(dims[1], dims[1], 2, stride=2)),
                nn.Sequential(nn.Conv2d(dec, dims[2], 1)),
                nn.Sequential(
                    nn.Conv2d(dec, dims[3], 1), nn.Conv2d(dims[3], dims[3], 3, stride=2, padding=1)
                ),
            ]
        )

    def forward(self, layers: list[Tensor], grid: tuple[int, int]) -> Tensor:
        maps = []
        for level, hook in enumerate(self.hooks):
            tokens = layers[hook]
            b, _, c = tokens.shape
            x = tokens.transpose(1, 2).reshape(b, c, grid[0], grid[1])
            maps.append(self.scratch.layer_rn[level](self.act_postprocess[level](x)))
        s = self.scratch
        path = s.refinenet4(maps[3])[:, :, : maps[2].shape[2], : maps[2].shape[3]]
        path = s.refinenet3(path, maps[2])
        path = s.refinenet2(path, maps[1])
        path = s.refinenet1(path, maps[0])
        return self.head(path)


class DPTHead(nn.Module):
    """Wrapper giving the official key prefix ``dpt.``; ``forward(layers, grid) -> (B, 4, H, W)``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.dpt = DPTAdapter(config)

    def forward(self, layers: list[Tensor], grid: tuple[int, int]) -> Tensor:
        return self.dpt(layers, grid)
