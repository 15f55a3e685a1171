"""The DUSt3R network in plain torch (CroCo ViT encoder, cross-attention decoders, linear/DPT heads).

Public API::

    from core.model import load_model, EncodedImages
    model = load_model("DUSt3R_ViTLarge_BaseDecoder_512_dpt.pth", device="cpu")
    with torch.inference_mode():
        enc = [model.encode(img) for img in images]          # once per image
        out1, out2 = model.decode(enc[1], enc[0])             # any pair, any number of times

See ``docs/CONTRACTS.md`` (core/model) for shapes and frames.

The names are imported lazily, so ``core.model.configs`` (a torch-free registry) can be used without torch,
e.g. by the memory model of ``core.resources``.
"""

from importlib import import_module

_EXPORTS = {
    "LoadReport": "checkpoint",
    "load_model": "checkpoint",
    "MODEL_CONFIGS": "configs",
    "ModelConfig": "configs",
    "get_config": "configs",
    "nearest_config_name": "configs",
    "Dust3rModel": "dust3r",
    "EncodedImages": "dust3r",
    "build_model": "dust3r",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)


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
