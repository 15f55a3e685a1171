"""The DUSt3R network in plain torch (CroCo ViT encoder, cross-attention decoders, linear/DPT heads).

Public API::

    from core.model import load_model, EncodedImages
    model = load_model("DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth", device="cpu")
    with torch.inference_mode():
        enc = [model.encode(img) for img in images]          # once per image
        out1, out2 = model.decode(enc[1], enc[0])             # any pair, any number of times

See ``docs/CONTRACTS.md`` (core/model) for shapes and frames.
"""

from .checkpoint import LoadReport, load_model
from .configs import MODEL_CONFIGS, ModelConfig, get_config, nearest_config_name
from .dust3r import Dust3rModel, EncodedImages, build_model

__all__ = [
    "MODEL_CONFIGS",
    "Dust3rModel",
    "EncodedImages",
    "LoadReport",
    "ModelConfig",
    "build_model",
    "get_config",
    "load_model",
    "nearest_config_name",
]
