"""The DUSt3R network: a shared ViT encoder, two cross-attending decoders and two heads (paper section 3.1).

Attribute names are the official state-dict names (``patch_embed``, ``enc_blocks``, ``enc_norm``,
``decoder_embed``, ``dec_blocks``, ``dec_norm``, ``dec_blocks2``, ``downstream_head1/2``, ``mask_token``),
so checkpoints load without renaming. Encode each image once with :meth:`Dust3rModel.encode`, then decode any
pair with :meth:`Dust3rModel.decode`.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .configs import ModelConfig
from .decoder import build_decoder_blocks, run_decoders
from .encoder import build_encoder_blocks, run_encoder
from .heads import build_head
from .heads.postprocess import raw_to_pointmap
from .layers import layer_norm
from .patch_embed import PatchEmbed
from .rope2d import RoPE2D

PairOutput = dict[str, Tensor]


@dataclass(frozen=True)
class EncodedImages:
    """Encoder output of a batch of images of one size.

    Attributes:
        tokens: (B, N, E) after ``enc_norm``, in the model's dtype; N = (H/16) * (W/16), row-major.
        pos: (B, N, 2) int64 (row, col) patch positions: always the row-major grid of ``hw`` (the decoder
            derives its RoPE tables from ``hw``, cached per grid shape).
        hw: (H, W) of the input images in pixels.
    """

    tokens: Tensor
    pos: Tensor
    hw: tuple[int, int]

    def __getitem__(self, index: int | slice) -> EncodedImages:
        """The images ``index`` of the batch (keeps the batch dimension for a slice or an int)."""
        sl = slice(index, index + 1) if isinstance(index, int) else index
        return EncodedImages(self.tokens[sl], self.pos[sl], self.hw)

    @staticmethod
    def cat(items: list[EncodedImages]) -> EncodedImages:
        """Concatenate along the batch dimension; all items must share ``hw``."""
        hws = {item.hw for item in items}
        if len(hws) != 1:
            raise ValueError(f"cannot batch encoded images of different sizes {sorted(hws)}")
        return EncodedImages(
            torch.cat([i.tokens for i in items]), torch.cat([i.pos for i in items]), items[0].hw
        )


class Dust3rModel(nn.Module):
    """DUSt3R (asymmetric CroCo) network for a :class:`ModelConfig`.

    Works in the dtype of its parameters (``model.to(torch.bfloat16)`` etc.); inputs are cast to it and the
    outputs are always float32. Any H, W that are multiples of the patch size, landscape or portrait.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.load_report: object | None = None  # set by core.model.checkpoint.load_model
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.dec_embed_dim))  # unused at inference
        self.patch_embed = PatchEmbed(config.enc_embed_dim, config.patch_size)
        self.rope = RoPE2D(config.rope_base)
        self.enc_blocks = build_encoder_blocks(config)
        self.enc_norm = layer_norm(config.enc_embed_dim)
        self.decoder_embed = nn.Linear(config.enc_embed_dim, config.dec_embed_dim)
        self.dec_blocks = build_decoder_blocks(config)
        self.dec_norm = layer_norm(config.dec_embed_dim)
        self.dec_blocks2 = build_decoder_blocks(config)
        self.downstream_head1 = build_head(config)
        self.downstream_head2 = build_head(config)

    @property
    def dtype(self) -> torch.dtype:
        """Compute dtype (that of the weights)."""
        return self.patch_embed.proj.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.patch_embed.proj.weight.device

    def encode(self, img: Tensor) -> EncodedImages:
        """Encode images ``img`` (B, 3, H, W) normalised to [-1, 1]; H, W multiples of 16."""
        img = img.to(device=self.device, dtype=self.dtype)
        tokens, pos, grid = self.patch_embed(img)
        head_dim = self.config.enc_embed_dim // self.config.enc_num_heads
        rope = self.rope.grid_tables(grid, head_dim, self.dtype, img.device)
        tokens = run_encoder(self.enc_blocks, self.enc_norm, tokens, rope)
        p = self.config.patch_size
        return EncodedImages(tokens, pos, (grid[0] * p, grid[1] * p))

    def decode(self, enc1: EncodedImages, enc2: EncodedImages) -> tuple[PairOutput, PairOutput]:
        """Decode a batch of pairs (view1 = ``enc1``, view2 = ``enc2``, same batch size B).

        Returns:
            ``{"pts3d": (B,H1,W1,3), "conf": (B,H1,W1)}`` and
            ``{"pts3d_in_other_view": (B,H2,W2,3), "conf": (B,H2,W2)}``, float32, both in view1's camera frame.
        """
        if enc1.tokens.shape[0] != enc2.tokens.shape[0]:
            raise ValueError(
                f"views have different batch sizes {enc1.tokens.shape[0]} and {enc2.tokens.shape[0]}"
            )
        p = self.config.patch_size
        grid1 = (enc1.hw[0] // p, enc1.hw[1] // p)
        grid2 = (enc2.hw[0] // p, enc2.hw[1] // p)
        for enc, grid in ((enc1, grid1), (enc2, grid2)):
            if enc.tokens.shape[1] != grid[0] * grid[1]:
                raise ValueError(
                    f"{enc.tokens.shape[1]} tokens do not form the patch grid of an image {enc.hw}"
                )
        head_dim = self.config.dec_embed_dim // self.config.dec_num_heads
        device = enc1.tokens.device
        rope1 = self.rope.grid_tables(grid1, head_dim, self.dtype, device)
        rope2 = self.rope.grid_tables(grid2, head_dim, self.dtype, device)
        layers1, layers2 = run_decoders(
            self.dec_blocks,
            self.dec_blocks2,
            self.decoder_embed,
            self.dec_norm,
            enc1.tokens,
            enc2.tokens,
            rope1,
            rope2,
        )
        vmin, vmax = self.config.conf_vmin, self.config.conf_vmax
        pts1, conf1 = raw_to_pointmap(self.downstream_head1(layers1, grid1), vmin, vmax)
        pts2, conf2 = raw_to_pointmap(self.downstream_head2(layers2, grid2), vmin, vmax)
        return {"pts3d": pts1, "conf": conf1}, {"pts3d_in_other_view": pts2, "conf": conf2}

    def forward(self, img1: Tensor, img2: Tensor) -> tuple[PairOutput, PairOutput]:
        """Encode ``img1`` (B,3,H1,W1) and ``img2`` (B,3,H2,W2) and decode them as pairs (see :meth:`decode`)."""
        return self.decode(self.encode(img1), self.encode(img2))


def build_model(config: ModelConfig, device: torch.device | str | None = None) -> Dust3rModel:
    """A :class:`Dust3rModel` with PyTorch's default initialisation (weights come from a checkpoint).

    ``device="meta"`` builds it without allocating memory (for shape checks and fast checkpoint loading).
    """
    with torch.device(device) if device is not None else nullcontext():
        return Dust3rModel(config).eval()
